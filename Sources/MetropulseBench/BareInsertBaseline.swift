import GRDB
public import MetropulseCore
import MetropulseSQLite

/// The benchmarks' baseline: the same station rows inserted with one prepared statement into a bare
/// table (no key, no index), bound the same way as the real store, in a file with the same settings.
public struct BareInsertBaseline: Sendable {
    private let pool: DatabasePool
    private static let insert = "INSERT INTO bare VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    public init(path: String, synchronous: String = "FULL") throws {
        var configuration = GRDB.Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: SQLiteBackend.pageCachePragma)
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS bare (source_id TEXT, station_id TEXT, observed_at INTEGER,
                        fetched_at INTEGER, run_id TEXT, bikes_available INTEGER, mechanical_available INTEGER,
                        ebikes_available INTEGER, docks_available INTEGER, capacity INTEGER, is_installed INTEGER,
                        is_renting INTEGER, is_returning INTEGER, status TEXT, occupancy_rate REAL)
                    """)
        }
    }

    /// Inserts every snapshot, in one transaction or one per snapshot; returns the elapsed time.
    public func insert(_ snapshots: [[StationObservation]], transactionPerSnapshot: Bool) async throws -> Duration {
        let started = ContinuousClock.now
        if transactionPerSnapshot {
            for (index, stations) in snapshots.enumerated() {
                try await pool.write { db in try Self.insert(stations, index: index, in: db) }
            }
        } else {
            try await pool.write { db in
                for (index, stations) in snapshots.enumerated() { try Self.insert(stations, index: index, in: db) }
            }
        }
        return ContinuousClock.now - started
    }

    private static func insert(_ stations: [StationObservation], index: Int, in db: Database) throws {
        var row = StatementBinder(try db.cachedStatement(sql: insert), in: db)
        for s in stations {
            row.bindRawColumns(s, fetchedAt: Int64(index), runID: "bench")
            try row.step()
        }
    }

    public func close() throws {
        try pool.close()
    }
}

extension StatementBinder {
    /// The baseline table's columns: one station observation as one row.
    mutating func bindRawColumns(_ s: StationObservation, fetchedAt: Int64, runID: String) {
        bind(s.sourceID)
        bind(s.stationID)
        bind(s.observedAt)
        bind(fetchedAt)
        bind(runID)
        bind(s.bikesAvailable)
        bind(s.mechanicalAvailable)
        bind(s.ebikesAvailable)
        bind(s.docksAvailable)
        bind(s.capacity)
        bind(s.isInstalled)
        bind(s.isRenting)
        bind(s.isReturning)
        bind(s.status.rawValue)
        bind(s.occupancyRate)
    }
}
