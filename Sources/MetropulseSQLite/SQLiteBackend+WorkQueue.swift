import GRDB
public import MetropulseCore

extension SQLiteBackend: WorkQueue {
    @discardableResult
    public func enqueue(_ tasks: [NewTask], now: Int64) async throws -> Int {
        guard !tasks.isEmpty else { return 0 }
        let inserted = try await pool.write { db -> Int in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO tasks (job_id, source_id, priority, state, attempts, max_attempts, run_at, enqueued_at)
                    VALUES (?, ?, ?, 'queued', 0, ?, ?, ?) ON CONFLICT(job_id) DO NOTHING
                    """)
            var count = 0
            for task in tasks {
                try statement.execute(arguments: [
                    task.jobID, task.sourceID, task.priority, max(1, task.maxAttempts), task.runAt, now,
                ])
                count += db.changesCount
            }
            return count
        }
        if inserted > 0 { workSignal.notify() }
        return inserted
    }

    public func claim(owner: String, limit: Int, leaseMillis: Int64, now: Int64) async throws -> [ClaimedTask] {
        guard limit > 0 else { return [] }
        return try await pool.write { db -> [ClaimedTask] in
            // A task whose lease expired on its last attempt is dead, not handed out again.
            try db.cachedStatement(
                sql: """
                    UPDATE tasks INDEXED BY tasks_leased SET state = 'dead', finished_at = ?, last_error = ?,
                        lease_owner = NULL, lease_expires_at = NULL
                    WHERE state = 'running' AND lease_expires_at < ? AND attempts >= max_attempts
                    """
            ).execute(arguments: [now, spentLeaseError, now])
            // Ready tasks by priority then age, plus tasks whose worker lost its lease. The partial
            // indexes are named: the planner would otherwise pick `tasks_state` and sort every
            // waiting task on each claim.
            var candidates = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, priority, run_at FROM tasks INDEXED BY tasks_ready
                    WHERE state IN ('queued', 'retrying') AND run_at <= ?
                    ORDER BY priority DESC, run_at LIMIT ?
                    """, arguments: [now, limit]
            ).map { (id: $0[0] as Int64, priority: $0[1] as Int, runAt: $0[2] as Int64) }
            candidates += try Row.fetchAll(
                db,
                sql: """
                    SELECT id, priority, run_at FROM tasks INDEXED BY tasks_leased
                    WHERE state = 'running' AND lease_expires_at < ? LIMIT ?
                    """, arguments: [now, limit]
            ).map { (id: $0[0] as Int64, priority: $0[1] as Int, runAt: $0[2] as Int64) }
            candidates.sort { ($0.priority, -$0.runAt) > ($1.priority, -$1.runAt) }
            let chosen = candidates.prefix(limit)
            guard !chosen.isEmpty else { return [] }
            let leaseExpiresAt = now + leaseMillis
            let update = try db.cachedStatement(
                sql: """
                    UPDATE tasks SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?
                    WHERE id = ?
                    RETURNING id, job_id, source_id, priority, attempts, max_attempts, enqueued_at, run_at
                    """)
            var claimed: [ClaimedTask] = []
            claimed.reserveCapacity(chosen.count)
            for candidate in chosen {
                guard let row = try Row.fetchOne(update, arguments: [owner, leaseExpiresAt, candidate.id]) else {
                    continue
                }
                claimed.append(
                    ClaimedTask(
                        id: row[0], jobID: row[1], sourceID: row[2], priority: row[3], attempt: row[4],
                        maxAttempts: row[5], enqueuedAt: row[6], runAt: row[7], leaseOwner: owner,
                        leaseExpiresAt: leaseExpiresAt))
            }
            return claimed
        }
    }

    public func renewLeases(owner: String, taskIDs: [Int64], until: Int64) async throws {
        guard !taskIDs.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: "UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND state = 'running'")
            for id in taskIDs { try statement.execute(arguments: [until, id, owner]) }
        }
    }

    public func finish(_ outcomes: [TaskOutcome]) async throws {
        guard !outcomes.isEmpty else { return }
        try await pool.write { db in try Self.applyOutcomes(outcomes, in: db) }
        if outcomes.contains(where: { if case .retry = $0.disposition { true } else { false } }) {
            workSignal.notify()
        }
    }

    /// Applies each outcome whose lease still holds; returns the attempts it applied.
    @discardableResult
    static func applyOutcomes(_ outcomes: [TaskOutcome], in db: Database) throws -> Set<TaskOutcome.Attempt> {
        var applied = Set<TaskOutcome.Attempt>()
        for outcome in outcomes {
            switch outcome.disposition {
            case .succeeded:
                try db.cachedStatement(
                    sql: """
                        UPDATE tasks SET state = 'succeeded', finished_at = ?, lease_owner = NULL,
                            lease_expires_at = NULL, last_error = NULL
                        WHERE id = ? AND lease_owner = ? AND attempts = ? AND state = 'running'
                        """
                ).execute(arguments: [outcome.finishedAt, outcome.taskID, outcome.leaseOwner, outcome.attempt])
            case .retry(let at, let error):
                try db.cachedStatement(
                    sql: """
                        UPDATE tasks SET state = 'retrying', run_at = ?, last_error = ?, lease_owner = NULL,
                            lease_expires_at = NULL
                        WHERE id = ? AND lease_owner = ? AND attempts = ? AND state = 'running'
                        """
                ).execute(arguments: [at, error, outcome.taskID, outcome.leaseOwner, outcome.attempt])
            case .dead(let error):
                try db.cachedStatement(
                    sql: """
                        UPDATE tasks SET state = 'dead', finished_at = ?, last_error = ?, lease_owner = NULL,
                            lease_expires_at = NULL
                        WHERE id = ? AND lease_owner = ? AND attempts = ? AND state = 'running'
                        """
                ).execute(arguments: [outcome.finishedAt, error, outcome.taskID, outcome.leaseOwner, outcome.attempt])
            }
            if db.changesCount > 0 { applied.insert(outcome.attemptKey) }
        }
        return applied
    }

    @discardableResult
    public func requeueDead(taskIDs: [Int64]?, now: Int64) async throws -> Int {
        let count = try await pool.write { db -> Int in
            let reset = "state = 'queued', attempts = 0, run_at = ?, finished_at = NULL"
            if let taskIDs {
                let statement = try db.cachedStatement(sql: "UPDATE tasks SET \(reset) WHERE id = ? AND state = 'dead'")
                var count = 0
                for id in taskIDs {
                    try statement.execute(arguments: [now, id])
                    count += db.changesCount
                }
                return count
            }
            try db.execute(sql: "UPDATE tasks SET \(reset) WHERE state = 'dead'", arguments: [now])
            return db.changesCount
        }
        if count > 0 { workSignal.notify() }
        return count
    }

    public func stats(now: Int64) async throws -> QueueStats {
        try await pool.read { db in
            var stats = QueueStats()
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM tasks GROUP BY state") {
                let count: Int = row[1]
                switch TaskState(rawValue: row[0]) {
                case .queued: stats.queued = count
                case .running: stats.running = count
                case .retrying: stats.retrying = count
                case .dead: stats.dead = count
                case .succeeded: stats.succeeded = count
                case nil: break
                }
            }
            stats.oldestReadySince = try Int64.fetchOne(
                db,
                sql: "SELECT MIN(run_at) FROM tasks WHERE state IN ('queued', 'retrying') AND run_at <= ?",
                arguments: [now])
            stats.finishedLastMinute =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM tasks WHERE finished_at >= ?", arguments: [now - 60_000]) ?? 0
            return stats
        }
    }

    public func tasks(state: TaskState?, limit: Int) async throws -> [QueuedTask] {
        try await pool.read { db in
            let columns = """
                id, job_id, source_id, state, priority, attempts, max_attempts, run_at, enqueued_at, lease_owner,
                lease_expires_at, last_error, finished_at
                """
            let rows: [Row]
            if let state {
                rows = try Row.fetchAll(
                    db, sql: "SELECT \(columns) FROM tasks WHERE state = ? ORDER BY id DESC LIMIT ?",
                    arguments: [state.rawValue, limit])
            } else {
                rows = try Row.fetchAll(
                    db, sql: "SELECT \(columns) FROM tasks ORDER BY id DESC LIMIT ?", arguments: [limit])
            }
            return rows.map { row in
                QueuedTask(
                    id: row[0], jobID: row[1], sourceID: row[2], state: TaskState(rawValue: row[3]) ?? .queued,
                    priority: row[4], attempts: row[5], maxAttempts: row[6], runAt: row[7], enqueuedAt: row[8],
                    leaseOwner: row[9], leaseExpiresAt: row[10], lastError: row[11], finishedAt: row[12])
            }
        }
    }

    @discardableResult
    public func pruneSucceeded(finishedBefore before: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM tasks WHERE state = 'succeeded' AND finished_at < ?", arguments: [before])
            return db.changesCount
        }
    }

    public func waitForWork(timeoutMillis: Int64) async {
        await workSignal.wait(timeoutMillis: timeoutMillis)
    }
}
