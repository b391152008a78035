/// What the store holds and how big it is (`GET /api/system/db/summary`).
public struct DatabaseSummary: Sendable, Hashable {
    public struct Table: Sendable, Hashable {
        public var name: String
        public var rows: Int64
        /// True where the count is the database's estimate (PostgreSQL's statistics on large
        /// tables), not a count.
        public var rowsEstimated: Bool
        /// The table with its indexes (and, for a search index, its shadow tables); nil where the
        /// database cannot say.
        public var bytes: Int64?

        public init(name: String, rows: Int64, rowsEstimated: Bool, bytes: Int64?) {
            self.name = name
            self.rows = rows
            self.rowsEstimated = rowsEstimated
            self.bytes = bytes
        }
    }

    /// Observations of one kind kept from the last hour and the last day.
    public struct Observations: Sendable, Hashable {
        public enum Basis: String, Sendable, Hashable {
            /// Every observation is kept (raw history), counted by its observation time.
            case history
            /// Only the current state is kept (one row per entity, replaced): rows written in the
            /// window that are still current.
            case current
        }

        public var kind: ObservationKind
        public var lastHour: Int64
        public var lastDay: Int64
        public var basis: Basis

        public init(kind: ObservationKind, lastHour: Int64, lastDay: Int64, basis: Basis) {
            self.kind = kind
            self.lastHour = lastHour
            self.lastDay = lastDay
            self.basis = basis
        }
    }

    /// `sqlite` or `postgres`.
    public var backend: String
    public var databaseBytes: Int64
    /// SQLite: the write-ahead log's size; nil elsewhere.
    public var walBytes: Int64?
    /// By name.
    public var tables: [Table]
    /// One per kind, in declaration order.
    public var observations: [Observations]

    public init(backend: String, databaseBytes: Int64, walBytes: Int64?, tables: [Table], observations: [Observations])
    {
        self.backend = backend
        self.databaseBytes = databaseBytes
        self.walBytes = walBytes
        self.tables = tables
        self.observations = observations
    }
}
