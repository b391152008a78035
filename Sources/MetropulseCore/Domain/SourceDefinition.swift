/// One feed declared in configuration.
public struct SourceDefinition: Sendable, Hashable, Codable {
    public var id: String
    public var kind: SourceKind
    /// Ordered endpoints: the first is tried first, the others are fallbacks.
    public var urls: [String]
    public var intervalMillis: Int64
    public var timeoutMillis: Int64
    /// Higher runs first when the queue is contended.
    public var priority: Int
    public var maxAttempts: Int
    public var tags: [String: String]
    public var enabled: Bool
    /// How long the content may stay the same before the feed counts as stale; nil: the default,
    /// five intervals and at least five minutes (`FeedHealth.staleAfterMillis`).
    public var staleAfterMillis: Int64?
    /// Alternatives tried in order when every URL of `kind` failed (e.g. Vélib' GBFS, then the
    /// Opendatasoft records of the same stations). The run's `url` says which one served.
    public var fallbacks: [SourceEndpoint]
    /// Which identifier names a station in the store: the feed's own id, or its public code
    /// (Vélib' `stationCode`), so a GBFS source and an Opendatasoft fallback write the same stations.
    public var stationKey: StationKey

    public init(
        id: String,
        kind: SourceKind,
        urls: [String],
        intervalMillis: Int64 = 60_000,
        timeoutMillis: Int64 = 10_000,
        priority: Int = 0,
        maxAttempts: Int = 5,
        tags: [String: String] = [:],
        enabled: Bool = true,
        staleAfterMillis: Int64? = nil,
        fallbacks: [SourceEndpoint] = [],
        stationKey: StationKey = .id
    ) {
        self.id = id
        self.kind = kind
        self.urls = urls
        self.intervalMillis = intervalMillis
        self.timeoutMillis = timeoutMillis
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.tags = tags
        self.enabled = enabled
        self.staleAfterMillis = staleAfterMillis
        self.fallbacks = fallbacks
        self.stationKey = stationKey
    }
}

/// The connector that reads a source.
public enum SourceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case gbfs
    /// Opendatasoft Explore v2.1 `records` (or `exports/json`) of a station availability dataset.
    case odsRecords = "ods-records"
    /// GTFS-Realtime protobuf: trip updates, vehicle positions, alerts.
    case gtfsRT = "gtfs-rt"
}

/// Another way to read a source: a kind and its URLs.
public struct SourceEndpoint: Sendable, Hashable, Codable {
    public var kind: SourceKind
    public var urls: [String]

    public init(kind: SourceKind, urls: [String]) {
        self.kind = kind
        self.urls = urls
    }
}

public enum StationKey: String, Sendable, Hashable, Codable, CaseIterable {
    /// The feed's station id (GBFS `station_id`).
    case id
    /// The station's public code when it has one (GBFS `short_name` / Vélib' `stationCode`,
    /// Opendatasoft `stationcode`), else its id.
    case code
}
