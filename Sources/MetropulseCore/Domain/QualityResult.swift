/// One data-quality check's verdict on one source at one time (`data_quality_check`).
public struct QualityResult: Sendable, Hashable, Codable {
    public enum Severity: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
        case info, warning, critical

        private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
    }

    /// The check's name (`QualityCheck`).
    public var check: String
    public var sourceID: String
    /// How bad a finding is; a check that passed keeps the severity it would have had.
    public var severity: Severity
    /// Items found wrong (0: passed).
    public var count: Int
    /// Items examined.
    public var total: Int
    /// What was found, in a sentence.
    public var detail: String
    /// Up to `sampleLimit` examples ("station 12: 31 bikes + docks, capacity 20").
    public var samples: [String]
    /// When the check ran (the job's cycle), epoch ms.
    public var at: Int64

    public static let sampleLimit = 10

    public init(
        check: String, sourceID: String, severity: Severity, count: Int, total: Int, detail: String,
        samples: [String] = [], at: Int64
    ) {
        self.check = check
        self.sourceID = sourceID
        self.severity = severity
        self.count = count
        self.total = total
        self.detail = detail
        self.samples = Array(samples.prefix(Self.sampleLimit))
        self.at = at
    }

    public var passed: Bool { count == 0 }
}

/// Which quality results to read.
public struct QualityQuery: Sendable, Hashable {
    public var check: String?
    public var sourceID: String?
    /// Only results at or after this time, epoch ms.
    public var since: Int64?
    public var until: Int64?
    public var limit: Int

    public init(
        check: String? = nil, sourceID: String? = nil, since: Int64? = nil, until: Int64? = nil, limit: Int = 500
    ) {
        self.check = check
        self.sourceID = sourceID
        self.since = since
        self.until = until
        self.limit = limit
    }
}

/// Per source, what its runs fetched and refused over a window (the rejected share).
public struct SourceRunTotals: Sendable, Hashable {
    public var sourceID: String
    public var runs: Int
    public var failed: Int
    public var entities: Int
    public var rejected: Int

    public init(sourceID: String, runs: Int, failed: Int, entities: Int, rejected: Int) {
        self.sourceID = sourceID
        self.runs = runs
        self.failed = failed
        self.entities = entities
        self.rejected = rejected
    }
}
