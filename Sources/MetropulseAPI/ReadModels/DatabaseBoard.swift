package import Hummingbird
package import MetropulseCore

/// `GET /api/system/db/summary`: tasks by state, workers by health and status, rows and size per
/// table, observations per kind in the last hour and day, the database's size.
package struct DatabaseBoard: Sendable {
    package let store: any Store
    package let operations: OperationsBoard
    /// The process's recent summaries: it reads every table, so it is computed at most every
    /// 10 s and shared by the API and the console.
    let recent: RecentResults<SummaryDTO>

    package init(_ environment: APIEnvironment) {
        self.store = environment.store
        self.operations = OperationsBoard(environment)
        self.recent = environment.databaseSummaries
    }

    package struct TasksDTO: Codable, Sendable {
        package var queued: Int
        package var running: Int
        package var retrying: Int
        package var succeeded: Int
        package var dead: Int
        package var total: Int
    }

    package struct WorkersDTO: Codable, Sendable {
        package var total: Int
        package var healthy: Int
        package var behind: Int
        package var down: Int
        /// By the status each worker reports (`running`, `paused`, `draining`, `stalled`, `stopped`).
        package var byStatus: [String: Int]
        /// Task slots of the workers not down.
        package var slots: Int
    }

    package struct TableDTO: Codable, Sendable {
        package var name: String
        package var rows: Int64
        /// True where `rows` is the database's estimate (large PostgreSQL tables), not a count.
        package var rowsEstimated: Bool
        /// The table with its indexes; absent where the database cannot say.
        package var bytes: Int64?
    }

    package struct ObservationsDTO: Codable, Sendable {
        package var kind: String
        package var lastHour: Int64
        package var lastDay: Int64
        /// `history` (every observation kept, by its time) or `current` (only the current state
        /// is kept: rows written in the window that are still current).
        package var basis: String
    }

    package struct SummaryDTO: ResponseCodable, Sendable {
        package var generatedAt: String
        /// `sqlite` or `postgres`.
        package var backend: String
        package var databaseBytes: Int64
        /// SQLite's write-ahead log; absent on PostgreSQL.
        package var walBytes: Int64?
        package var tasks: TasksDTO
        package var workers: WorkersDTO
        package var tables: [TableDTO]
        package var observations: [ObservationsDTO]
    }

    /// The summary computed in the last 10 s, or a new one.
    package func summary(now: Int64) async throws -> SummaryDTO {
        try await recent.value(for: "summary", now: now) { [self] in try await compute(now: now) }
    }

    private func compute(now: Int64) async throws -> SummaryDTO {
        let database = try await store.summary(now: now)
        let queue = try await operations.queue(now: now)
        let workers = try await operations.workers(now: now).workers
        let health = Dictionary(grouping: workers, by: \.health).mapValues(\.count)
        return SummaryDTO(
            generatedAt: Timestamp.iso8601(now), backend: database.backend, databaseBytes: database.databaseBytes,
            walBytes: database.walBytes,
            tasks: TasksDTO(
                queued: queue.queued, running: queue.running, retrying: queue.retrying, succeeded: queue.succeeded,
                dead: queue.dead,
                total: queue.queued + queue.running + queue.retrying + queue.succeeded + queue.dead),
            workers: WorkersDTO(
                total: workers.count, healthy: health["healthy"] ?? 0, behind: health["behind"] ?? 0,
                down: health["down"] ?? 0, byStatus: Dictionary(grouping: workers, by: \.status).mapValues(\.count),
                slots: workers.filter { $0.health != "down" }.reduce(0) { $0 + $1.concurrency }),
            tables: database.tables.map {
                TableDTO(name: $0.name, rows: $0.rows, rowsEstimated: $0.rowsEstimated, bytes: $0.bytes)
            },
            observations: database.observations.map {
                ObservationsDTO(
                    kind: $0.kind.rawValue, lastHour: $0.lastHour, lastDay: $0.lastDay, basis: $0.basis.rawValue)
            })
    }
}
