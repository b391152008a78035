public import Foundation

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
    /// The name of an environment variable holding an API key, sent in `apiKeyHeader` with every
    /// request of this source (IDFM PRIM style: `apikey`). The key itself never sits in the file.
    public var apiKeyEnv: String?
    public var apiKeyHeader: String
    /// For APIs that take their key in the query (EIA's `api_key`): the parameter's name. The key
    /// is then added to the request URL (and only there: the run records the URL without it).
    public var apiKeyParam: String?
    /// For kinds that read several APIs (`city`): which one (`open-meteo`).
    public var format: String?
    /// `learned`: health judges a silence by the activity usual at that hour of the week
    /// (`FeedActivity`); `steady`: by `staleAfterMillis`. Unset: learned for 311 formats.
    public var activity: String?

    /// Whether health learns this source's activity (`activity`).
    public var learnsActivity: Bool {
        activity == "learned" || (activity == nil && ["socrata-311", "open311"].contains(format ?? ""))
    }
    /// For `json`: where the records, their id, time and fields are.
    public var mapping: JSONMapping?
    /// For transit kinds: the static GTFS zip (an http(s) or demo: URL, or a file path) whose stops
    /// and routes name the ids of the real-time feed.
    public var staticGTFS: String?
    /// What each request of this source may cost and where it may go.
    public var limits: FetchLimits

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
        stationKey: StationKey = .id,
        apiKeyEnv: String? = nil,
        apiKeyHeader: String = "apikey",
        format: String? = nil,
        mapping: JSONMapping? = nil,
        staticGTFS: String? = nil,
        limits: FetchLimits = FetchLimits()
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
        self.apiKeyEnv = apiKeyEnv
        self.apiKeyHeader = apiKeyHeader
        self.format = format
        self.mapping = mapping
        self.staticGTFS = staticGTFS
        self.limits = limits
    }

    /// The headers every request of this source carries: the API key, read from its variable now.
    public func requestHeaders(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> [(String, String)]
    {
        guard let variable = apiKeyEnv, apiKeyParam == nil else { return [] }
        guard let key = environment[variable], !key.isEmpty else {
            throw FetchError(.configuration, "source '\(id)' needs an API key in the environment variable \(variable)")
        }
        Redaction.register(key)
        return [(apiKeyHeader, key)]
    }
}

extension SourceDefinition {
    /// `url` with the API key added as `apiKeyParam` when the source has one; else `url`.
    public func requestURL(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> String
    {
        guard let parameter = apiKeyParam, let variable = apiKeyEnv else { return url }
        guard let key = environment[variable], !key.isEmpty else {
            throw FetchError(.configuration, "source '\(id)' needs an API key in the environment variable \(variable)")
        }
        Redaction.register(key)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let encoded = key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key
        return url + (url.contains("?") ? "&" : "?") + "\(parameter)=\(encoded)"
    }
}

/// The connector that reads a source.
public enum SourceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case gbfs
    /// Opendatasoft Explore v2.1 `records` (or `exports/json`) of a station availability dataset.
    case odsRecords = "ods-records"
    /// GTFS-Realtime protobuf: trip updates, vehicle positions, alerts.
    case gtfsRT = "gtfs-rt"
    /// SIRI (XML) or SIRI-Lite (JSON): stop monitoring, estimated timetable, general message,
    /// situation exchange, vehicle monitoring.
    case siriLite = "siri-lite"
    /// City sensors and models per zone (`format: open-meteo`).
    case city
    /// Any JSON document, read through a declared `mapping` (JSON pointers) into readings.
    case json
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

/// How a `json` source's document becomes readings, with JSON pointers (RFC 6901): `records`
/// points at the array of records (empty: the document itself), and within a record `id` names
/// the entity (the zone), `timestamp` its time and each field a numeric value.
public struct JSONMapping: Sendable, Hashable, Codable {
    public var records: String
    public var id: String
    public var timestamp: String?
    /// Metric name → pointer.
    public var fields: [String: String]
    /// Metric name → unit.
    public var units: [String: String]
    /// Pointers to the record's position, to attach it to a declared zone of the source's city.
    public var latitude: String?
    public var longitude: String?

    public init(
        records: String = "", id: String, timestamp: String? = nil, fields: [String: String],
        units: [String: String] = [:], latitude: String? = nil, longitude: String? = nil
    ) {
        self.records = records
        self.id = id
        self.timestamp = timestamp
        self.fields = fields
        self.units = units
        self.latitude = latitude
        self.longitude = longitude
    }
}

extension SourceDefinition {
    /// Every URL in the order a fetch tries them: the source's own, then each fallback's.
    public var fetchOrder: [String] { urls + fallbacks.flatMap(\.urls) }

    /// Whether a run with this URL was served by a fallback rather than the source's first URL. A
    /// run records the URL it read last (for GBFS the discovered feed, not `gbfs.json`), so the
    /// endpoint is the one whose URL shares the longest prefix with it; a source with a single URL
    /// is never served by a fallback.
    public func isFallback(servedBy url: String?) -> Bool {
        let order = fetchOrder
        guard let url, order.count > 1 else { return false }
        func common(_ a: String) -> Int { zip(a.utf8, url.utf8).prefix { $0 == $1 }.count }
        var (best, length) = (0, -1)
        for (index, candidate) in order.enumerated() where common(candidate) > length {
            (best, length) = (index, common(candidate))
        }
        return best > 0
    }
}
