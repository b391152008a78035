import Foundation
import Logging
public import MetropulseCore
import PostgresNIO

extension PostgresBackend: WorkQueue {
    @discardableResult
    public func enqueue(_ tasks: [NewTask], now: Int64) async throws -> Int {
        guard !tasks.isEmpty else { return 0 }
        let rows = try await client.query(
            """
            INSERT INTO tasks (job_id, source_id, priority, state, attempts, max_attempts, run_at, enqueued_at)
            SELECT job_id, source_id, priority, 'queued', 0, max_attempts, run_at, \(now)
            FROM UNNEST(\(tasks.map(\.jobID))::text[], \(tasks.map(\.sourceID))::text[], \(tasks.map { Int64($0.priority) })::bigint[],
                \(tasks.map { Int64(max(1, $0.maxAttempts)) })::bigint[], \(tasks.map(\.runAt))::bigint[])
                AS t(job_id, source_id, priority, max_attempts, run_at)
            ON CONFLICT (job_id) DO NOTHING
            RETURNING id
            """, logger: logger)
        var inserted = 0
        for try await _ in rows { inserted += 1 }
        if inserted > 0 { try await announceWork() }
        return inserted
    }

    public func claim(owner: String, limit: Int, leaseMillis: Int64, now: Int64) async throws -> [ClaimedTask] {
        guard limit > 0 else { return [] }
        let expires = now + leaseMillis
        let rows = try await client.execute(
            PostgresQueueStatements.Claim(now: now, limit: Int64(limit), owner: owner, expires: expires),
            logger: logger)
        var claimed: [ClaimedTask] = []
        for try await (id, jobID, sourceID, priority, attempts, maxAttempts, enqueuedAt, runAt) in rows {
            claimed.append(
                ClaimedTask(
                    id: id, jobID: jobID, sourceID: sourceID, priority: priority, attempt: attempts,
                    maxAttempts: maxAttempts, enqueuedAt: enqueuedAt, runAt: runAt, leaseOwner: owner,
                    leaseExpiresAt: expires))
        }
        return claimed.sorted { $0.claimedBefore($1) }
    }

    public func renewLeases(owner: String, taskIDs: [Int64], until: Int64) async throws {
        guard !taskIDs.isEmpty else { return }
        // The owner is the fence (set only while running; see `OutcomeColumns`), so the lookup is by id.
        try await client.query(
            """
            UPDATE tasks SET lease_expires_at = \(until)
            WHERE id = ANY(\(taskIDs)::bigint[]) AND lease_owner = \(owner)
            """, logger: logger)
    }

    public func finish(_ outcomes: [TaskOutcome]) async throws {
        guard !outcomes.isEmpty else { return }
        try await client.withTransaction(logger: logger) { connection in
            try await Self.applyOutcomes(outcomes, on: connection, logger: logger)
        }
        if outcomes.contains(where: { if case .retry = $0.disposition { true } else { false } }) {
            try await announceWork()
        }
    }

    /// Wakes idle workers here at once and, through NOTIFY, in every other process.
    func announceWork() async throws {
        workSignal.notify()
        try await client.query("SELECT pg_notify('metropulse', 'work')", logger: logger)
    }

    /// Applies each outcome whose lease still holds, all in one statement; returns the attempts it
    /// applied.
    @discardableResult
    static func applyOutcomes(_ outcomes: [TaskOutcome], on connection: PostgresConnection, logger: Logger)
        async throws -> Set<TaskOutcome.Attempt>
    {
        guard !outcomes.isEmpty else { return [] }
        let rows = try await connection.execute(
            PostgresQueueStatements.ApplyOutcomes(outcomes), logger: logger)
        var applied = Set<TaskOutcome.Attempt>()
        for try await (id, attempt) in rows {
            applied.insert(TaskOutcome.Attempt(taskID: id, attempt: attempt))
        }
        return applied
    }

    @discardableResult
    public func requeueDead(taskIDs: [Int64]?, now: Int64) async throws -> Int {
        let rows: PostgresRowSequence
        if let taskIDs {
            rows = try await client.query(
                """
                UPDATE tasks SET state = 'queued', attempts = 0, run_at = \(now), finished_at = NULL
                WHERE state = 'dead' AND id = ANY(\(taskIDs)::bigint[]) RETURNING id
                """, logger: logger)
        } else {
            rows = try await client.query(
                """
                UPDATE tasks SET state = 'queued', attempts = 0, run_at = \(now), finished_at = NULL
                WHERE state = 'dead' RETURNING id
                """, logger: logger)
        }
        var count = 0
        for try await _ in rows { count += 1 }
        if count > 0 { try await announceWork() }
        return count
    }

    public func stats(now: Int64) async throws -> QueueStats {
        var stats = QueueStats()
        for try await (state, count) in try await client.query(
            "SELECT state, COUNT(*) FROM tasks GROUP BY state", logger: logger
        ).decode((String, Int).self) {
            switch TaskState(rawValue: state) {
            case .queued: stats.queued = count
            case .running: stats.running = count
            case .retrying: stats.retrying = count
            case .dead: stats.dead = count
            case .succeeded: stats.succeeded = count
            case nil: break
            }
        }
        for try await (oldest, finished) in try await client.query(
            """
            SELECT (SELECT MIN(run_at) FROM tasks WHERE state IN ('queued', 'retrying') AND run_at <= \(now)),
                (SELECT COUNT(*) FROM tasks WHERE finished_at >= \(now - 60_000))
            """, logger: logger
        ).decode((Int64?, Int).self) {
            stats.oldestReadySince = oldest
            stats.finishedLastMinute = finished
        }
        return stats
    }

    public func tasks(state: TaskState?, limit: Int) async throws -> [QueuedTask] {
        let rows = try await client.query(
            """
            SELECT id, job_id, source_id, state, priority, attempts, max_attempts, run_at, enqueued_at, lease_owner,
                lease_expires_at, last_error, finished_at
            FROM tasks WHERE (\(state?.rawValue)::text IS NULL OR state = \(state?.rawValue)) ORDER BY id DESC LIMIT \(limit)
            """, logger: logger)
        var tasks: [QueuedTask] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            tasks.append(
                QueuedTask(
                    id: try r[0].decode(Int64.self), jobID: try r[1].decode(String.self),
                    sourceID: try r[2].decode(String.self),
                    state: TaskState(rawValue: try r[3].decode(String.self)) ?? .queued,
                    priority: try r[4].decode(Int.self), attempts: try r[5].decode(Int.self),
                    maxAttempts: try r[6].decode(Int.self), runAt: try r[7].decode(Int64.self),
                    enqueuedAt: try r[8].decode(Int64.self), leaseOwner: try r[9].decode(String?.self),
                    leaseExpiresAt: try r[10].decode(Int64?.self), lastError: try r[11].decode(String?.self),
                    finishedAt: try r[12].decode(Int64?.self)))
        }
        return tasks
    }

    @discardableResult
    public func pruneSucceeded(finishedBefore before: Int64) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(
            "DELETE FROM tasks WHERE state = 'succeeded' AND finished_at < \(before) RETURNING id", logger: logger)
        {
            count += 1
        }
        return count
    }

    /// Woken at once by work enqueued here or, through `PostgresNotifier`, in any other process.
    public func waitForWork(timeoutMillis: Int64) async {
        await workSignal.wait(timeoutMillis: timeoutMillis)
    }
}
