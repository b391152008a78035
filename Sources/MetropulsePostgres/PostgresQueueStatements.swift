import MetropulseCore
import PostgresNIO

/// The queue's hot statements, prepared once per connection: each claim and each commit would
/// otherwise be parsed and planned again (0.2–0.3 ms of server time each, measured with
/// `pg_stat_statements.track_planning`).
enum PostgresQueueStatements {
    /// Leases up to `limit` ready or lease-expired tasks, highest priority and earliest first.
    struct Claim: PostgresPreparedStatement {
        typealias Row = (Int64, String, String, Int, Int, Int, Int64, Int64)

        /// A task whose lease expired on its last attempt goes dead in the same statement.
        static let sql = """
            WITH spent AS (
                UPDATE tasks SET state = 'dead', finished_at = $1, last_error = '\(spentLeaseError)',
                    lease_owner = NULL, lease_expires_at = NULL
                WHERE id IN (
                    SELECT id FROM tasks
                    WHERE state = 'running' AND lease_expires_at < $1 AND attempts >= max_attempts
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING id
            ),
            ready AS (
                SELECT id, priority, run_at FROM tasks
                WHERE state IN ('queued', 'retrying') AND run_at <= $1
                ORDER BY priority DESC, run_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            ),
            expired AS (
                SELECT id, priority, run_at FROM tasks
                WHERE state = 'running' AND lease_expires_at < $1 AND attempts < max_attempts
                ORDER BY lease_expires_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            ),
            picked AS (
                SELECT id FROM (SELECT * FROM ready UNION ALL SELECT * FROM expired) AS candidates
                ORDER BY priority DESC, run_at
                LIMIT $2
            )
            UPDATE tasks t SET state = 'running', attempts = t.attempts + 1, lease_owner = $3, lease_expires_at = $4
            FROM picked WHERE t.id = picked.id
            RETURNING t.id, t.job_id, t.source_id, t.priority, t.attempts, t.max_attempts, t.enqueued_at, t.run_at
            """
        static let bindingDataTypes: [PostgresDataType] = [.int8, .int8, .text, .int8]

        var now: Int64
        var limit: Int64
        var owner: String
        var expires: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(now)
            bindings.append(limit)
            bindings.append(owner)
            bindings.append(expires)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// Applies outcomes to the tasks still leased by that owner for that attempt; returns the
    /// ones applied.
    struct ApplyOutcomes: ArrayColumnsStatement {
        typealias Row = (Int64, Int)

        static let sql = OutcomeColumns.update(from: 1) + " RETURNING t.id, t.attempts"
        static let bindingDataTypes = OutcomeColumns.types

        var outcomes: OutcomeColumns

        var parameters: [any ArrayColumns] { [outcomes] }

        init(_ outcomes: [TaskOutcome]) {
            self.outcomes = OutcomeColumns(outcomes)
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }
}

/// Columns of rows, each sent as one array parameter.
protocol ArrayColumns {
    func append(to bindings: inout PostgresBindings) throws
}

/// A prepared statement whose parameters are sets of columns, in order.
protocol ArrayColumnsStatement: PostgresPreparedStatement {
    var parameters: [any ArrayColumns] { get }
}

extension ArrayColumnsStatement {
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: Self.bindingDataTypes.count)
        for columns in parameters { try columns.append(to: &bindings) }
        return bindings
    }
}

/// Appends one array parameter per column.
private func column<Element: PostgresArrayEncodable>(_ values: [Element], to bindings: inout PostgresBindings) throws {
    try bindings.append(values)
}

private func column<Element: PostgresArrayEncodable>(_ values: [Element?], to bindings: inout PostgresBindings)
    throws
{
    try bindings.append(NullableArray(values))
}

/// `$first::type[], $first+1::type[], ...` for `UNNEST`.
func unnestParameters(_ types: [PostgresDataType], from first: Int) -> String {
    types.enumerated().map { parameter in
        let element =
            switch parameter.element {
            case .int8Array: "bigint"
            case .boolArray: "boolean"
            case .byteaArray: "bytea"
            default: "text"
            }
        return "$\(parameter.offset + first)::\(element)[]"
    }
    .joined(separator: ", ")
}

/// Task outcomes, one array per field.
///
/// A lease owner is set only while a task runs (a claim sets it, every outcome clears it), so
/// owner and attempt are the whole fence and the update names no state: with
/// `state = 'running'` the planner walked the running tasks' index, which keeps an entry for
/// every task leased since the last vacuum (4.5 ms against 0.13 ms per commit at 30,000 tasks).
struct OutcomeColumns: ArrayColumns {
    static let types: [PostgresDataType] = [
        .int8Array, .textArray, .int8Array, .textArray, .int8Array, .textArray, .int8Array,
    ]

    /// The update, its parameters from `$first`; a retry keeps its finish time empty and moves its
    /// run time, success clears the error.
    static func update(from first: Int) -> String {
        """
        UPDATE tasks t SET state = o.kind,
            finished_at = CASE WHEN o.kind = 'retrying' THEN t.finished_at ELSE o.finished_at END,
            run_at = COALESCE(o.run_at, t.run_at),
            last_error = o.error,
            lease_owner = NULL, lease_expires_at = NULL
        FROM UNNEST(\(unnestParameters(types, from: first))) AS o(id, owner, attempt, kind, run_at, error, finished_at)
        WHERE t.id = o.id AND t.lease_owner = o.owner AND t.attempts = o.attempt
        """
    }

    var ids: [Int64] = []
    var owners: [String] = []
    var attempts: [Int64] = []
    var kinds: [String] = []
    var runAts: [Int64?] = []
    var errors: [String?] = []
    var finishedAts: [Int64] = []

    init(_ outcomes: [TaskOutcome]) {
        for outcome in outcomes {
            ids.append(outcome.taskID)
            owners.append(outcome.leaseOwner)
            attempts.append(Int64(outcome.attempt))
            finishedAts.append(outcome.finishedAt)
            switch outcome.disposition {
            case .succeeded:
                kinds.append("succeeded")
                runAts.append(nil)
                errors.append(nil)
            case .retry(let at, let error):
                kinds.append("retrying")
                runAts.append(at)
                errors.append(error)
            case .dead(let error):
                kinds.append("dead")
                runAts.append(nil)
                errors.append(error)
            }
        }
    }

    func append(to bindings: inout PostgresBindings) throws {
        try column(ids, to: &bindings)
        try column(owners, to: &bindings)
        try column(attempts, to: &bindings)
        try column(kinds, to: &bindings)
        try column(runAts, to: &bindings)
        try column(errors, to: &bindings)
        try column(finishedAts, to: &bindings)
    }
}

/// `task_runs` rows, one array per column, each naming the attempt whose outcome must have applied
/// in the same statement (`applied`) for it to be written, or none.
struct RunColumns: ArrayColumns {
    static let types: [PostgresDataType] = [
        .textArray, .textArray, .int8Array, .textArray, .int8Array, .textArray, .textArray, .int8Array,
        .int8Array, .int8Array, .textArray, .int8Array, .int8Array, .int8Array, .int8Array, .textArray,
        .int8Array, .textArray, .textArray, .textArray, .int8Array, .int8Array,
    ]

    /// The insert, its parameters from `$first`; the statement must have an `applied` (id,
    /// attempts) relation.
    static func insert(from first: Int) -> String {
        let columns = """
            id, job_id, task_id, source_id, attempt, worker_id, status, started_at, finished_at, duration_ms, url,
                http_status, bytes, entity_count, rejected_count, content_hash, feed_timestamp, error_kind, error_message,
                rejections
            """
        return """
            INSERT INTO task_runs (\(columns))
            SELECT \(columns) FROM UNNEST(\(unnestParameters(types, from: first)))
                AS r(\(columns), fence_id, fence_attempt)
            WHERE r.fence_id IS NULL
                OR EXISTS (SELECT 1 FROM applied a WHERE a.id = r.fence_id AND a.attempts = r.fence_attempt)
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
                error_kind = excluded.error_kind, error_message = excluded.error_message
            """
    }

    var runs: [TaskRun] = []
    var fences: [TaskOutcome.Attempt?] = []

    /// The run records of `results` (the last of each id, so an upsert never touches a row twice),
    /// fenced by their outcomes when `fenced`.
    init(_ results: [RunResult], fenced: Bool) {
        var seen = Set<String>()
        for result in results.reversed() where result.recordsRun && seen.insert(result.run.id).inserted {
            runs.append(result.run)
            fences.append(fenced ? result.outcome?.attemptKey : nil)
        }
    }

    func append(to bindings: inout PostgresBindings) throws {
        try column(runs.map(\.id), to: &bindings)
        try column(runs.map(\.jobID), to: &bindings)
        try column(runs.map(\.taskID), to: &bindings)
        try column(runs.map(\.sourceID), to: &bindings)
        try column(runs.map { Int64($0.attempt) }, to: &bindings)
        try column(runs.map(\.workerID), to: &bindings)
        try column(runs.map(\.status.rawValue), to: &bindings)
        try column(runs.map(\.startedAt), to: &bindings)
        try column(runs.map(\.finishedAt), to: &bindings)
        try column(runs.map(\.durationMillis), to: &bindings)
        try column(runs.map(\.url), to: &bindings)
        try column(runs.map { $0.httpStatus.map(Int64.init) }, to: &bindings)
        try column(runs.map { $0.bytes.map(Int64.init) }, to: &bindings)
        try column(runs.map { Int64($0.entityCount) }, to: &bindings)
        try column(runs.map { Int64($0.rejectedCount) }, to: &bindings)
        try column(runs.map(\.contentHash), to: &bindings)
        try column(runs.map(\.feedTimestamp), to: &bindings)
        try column(runs.map(\.errorKind?.rawValue), to: &bindings)
        try column(runs.map(\.errorMessage), to: &bindings)
        try column(runs.map { RejectionsColumn.encode($0.rejections) }, to: &bindings)
        try column(fences.map { $0?.taskID }, to: &bindings)
        try column(fences.map { $0.map { Int64($0.attempt) } }, to: &bindings)
    }
}

/// `source_state` upserts, one array per column (`SourceRunSummary.fold` of a commit's runs).
struct StateColumns: ArrayColumns {
    static let types: [PostgresDataType] = [.textArray, .int8Array, .textArray, .int8Array, .textArray, .int8Array]

    /// The upsert, its parameters from `$first`.
    static func upsert(from first: Int) -> String {
        """
        INSERT INTO source_state (source_id, last_run_at, last_run_status, last_success_at, last_error,
            last_feed_timestamp)
        SELECT * FROM UNNEST(\(unnestParameters(types, from: first)))
        ON CONFLICT (source_id) DO UPDATE SET
            last_run_at = GREATEST(COALESCE(source_state.last_run_at, 0), excluded.last_run_at),
            last_run_status = CASE WHEN excluded.last_run_at >= COALESCE(source_state.last_run_at, 0)
                THEN excluded.last_run_status ELSE source_state.last_run_status END,
            last_success_at = GREATEST(source_state.last_success_at, excluded.last_success_at),
            last_error = COALESCE(excluded.last_error, source_state.last_error),
            last_feed_timestamp = COALESCE(excluded.last_feed_timestamp, source_state.last_feed_timestamp)
        """
    }

    var states: [SourceRunSummary]

    /// What the run records of `results` move, in source order, so concurrent commits upsert the
    /// rows in the same order.
    init(_ results: [RunResult]) {
        states = SourceRunSummary.fold(results.filter(\.recordsRun).map(\.run)).sorted { $0.sourceID < $1.sourceID }
    }

    func append(to bindings: inout PostgresBindings) throws {
        try column(states.map(\.sourceID), to: &bindings)
        try column(states.map(\.lastRunAt), to: &bindings)
        try column(states.map(\.lastRunStatus.rawValue), to: &bindings)
        try column(states.map(\.lastSuccessAt), to: &bindings)
        try column(states.map(\.lastError), to: &bindings)
        try column(states.map(\.lastFeedTimestamp), to: &bindings)
    }
}
