import GRDB
public import MetropulseCore

/// The embedded backend: one SQLite file (WAL) holding the store tiers and the work queue, so a
/// run's observations, its `task_runs` row and its task's outcome commit in one transaction.
///
/// Concurrent commits from the worker pool are coalesced by a `GroupCommit` into one transaction,
/// so they share one durable flush.
public final class SQLiteBackend: Sendable {
    public struct Configuration: Sendable {
        /// `FULL` syncs every commit to disk (survives power loss); `NORMAL` survives a process
        /// crash but may lose the last commits on power loss. Group commit keeps `FULL` affordable.
        public enum Synchronous: String, Sendable {
            case full = "FULL"
            case normal = "NORMAL"
        }

        public var synchronous: Synchronous
        public var busyTimeoutSeconds: Double

        public init(synchronous: Synchronous = .full, busyTimeoutSeconds: Double = 10) {
            self.synchronous = synchronous
            self.busyTimeoutSeconds = busyTimeoutSeconds
        }
    }

    public let path: String
    let pool: DatabasePool
    /// The page cache of every connection; `package` for the bare-insert baseline, which must
    /// run with the same settings.
    package static let pageCachePragma = "PRAGMA cache_size = -16384"
    let workSignal = AsyncSignal()
    /// Decoded latest-tier blocks, shared by the writers and the readers of this process.
    let latestCache: LatestStationCache
    /// Writes of runs finished by this handle (`RunLog.runsWritten`).
    let writes = WriteCount()
    private let committer: GroupCommit<RunResult>

    /// Opens (creating if needed) and migrates the database at `path`.
    public init(path: String, configuration: Configuration = Configuration()) throws {
        self.path = path
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeoutSeconds)
        let synchronous = configuration.synchronous.rawValue
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // 16 MiB of page cache per connection: the ingest path touches the recent end of the
            // raw table and the latest rows; the kernel caches the rest of the file. (64 MiB made
            // the process grow with the file for its first hour without making ingest faster.)
            try db.execute(sql: SQLiteBackend.pageCachePragma)
        }
        let pool = try DatabasePool(path: path, configuration: config)
        try SQLiteSchema.migrator.migrate(pool)
        self.pool = pool
        let cache = LatestStationCache()
        self.latestCache = cache
        self.committer = GroupCommit { [pool] results in
            try await pool.write { db in
                try SQLiteBackend.writeResults(results, finishingTasks: true, cache: cache, in: db)
            }
        }
    }

    /// Applied schema versions, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try SQLiteSchema.migrator.appliedMigrations(db) }
    }

    public func close() throws {
        try pool.close()
    }
}

extension SQLiteBackend: RunCommitter {
    public func commit(_ results: [RunResult]) async throws {
        defer { writes.bump() }
        if results.count == 1 {
            try await committer.submit(results[0])
        } else {
            try await pool.write { [latestCache] db in
                try SQLiteBackend.writeResults(results, finishingTasks: true, cache: latestCache, in: db)
            }
        }
        if results.contains(where: { if case .retry = $0.outcome?.disposition { true } else { false } }) {
            workSignal.notify()
        }
    }
}
