import Logging
public import MetropulseCore

/// Reads a GBFS system: discovery (`gbfs.json`), `station_information`, `vehicle_types` and
/// `station_status`. Discovery, information and vehicle types change rarely and are cached for
/// their `ttl` (at least a minute) and revalidated with conditional requests; status is fetched
/// on every run unless its own `ttl` says the copy held is still current, and a `304` answer is
/// an unchanged run. The source's URL is the discovery document.
public struct GBFSConnector: Connector {
    private let http: FeedHTTPClient
    private let cache = GBFSCache()

    public init(http: FeedHTTPClient) {
        self.http = http
    }

    /// Reads the source's first URL; `ConnectorRegistry.fetch` walks the others and the fallbacks.
    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        guard let url = source.urls.first else { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        return try await fetch(source, discoveryURL: url, context: context)
    }

    private func fetch(_ source: SourceDefinition, discoveryURL: String, context: FetchContext) async throws
        -> FetchResult
    {
        let now = context.now
        let timeout = source.timeoutMillis
        let key = "\(source.id) \(discoveryURL)"
        var cached = await cache.entry(key)
        var bytes = 0
        let headers = try source.requestHeaders()

        if cached.feeds == nil || now >= cached.feedsExpireAt {
            let document = try await http.get(
                discoveryURL, timeoutMillis: timeout, limits: source.limits,
                ifChangedSince: cached.feeds == nil ? nil : cached.feedsValidators,
                headers: headers)
            bytes += document.body.count
            if !document.notModified { cached.feeds = try GBFSParser.discovery(document.body) }
            cached.feedsValidators = document.validators
            cached.feedsExpireAt = now + Self.cacheMillis(ttl: cached.feeds?.ttl)
        }
        guard let feeds = cached.feeds else { throw FetchError(.validation, "gbfs.json could not be read") }
        guard let statusURL = feeds.feeds["station_status"] else {
            throw FetchError(.validation, "gbfs.json has no station_status feed")
        }
        if let informationURL = feeds.feeds["station_information"],
            cached.catalog == nil || now >= cached.catalogExpiresAt
        {
            let document = try await http.get(
                informationURL, timeoutMillis: timeout, limits: source.limits,
                ifChangedSince: cached.catalog == nil ? nil : cached.catalogValidators, headers: headers)
            bytes += document.body.count
            if !document.notModified { cached.catalog = try GBFSParser.stationInformation(document.body) }
            cached.catalogValidators = document.validators
            cached.catalogExpiresAt = now + Self.cacheMillis(ttl: cached.catalog?.ttl)
        }
        if let typesURL = feeds.feeds["vehicle_types"], cached.propulsion == nil || now >= cached.propulsionExpiresAt {
            let document = try await http.get(
                typesURL, timeoutMillis: timeout, limits: source.limits, headers: headers)
            bytes += document.body.count
            cached.propulsion = try GBFSParser.vehicleTypes(document.body)
            cached.propulsionExpiresAt = now + Self.cacheMillis(ttl: nil)
        }

        // The feed's ttl is the minimum interval: within it the copy we hold is current by the
        // publisher's own word, so no request is made (a quarter of the ttl is allowed for jitter).
        if let last = cached.status, now < last.fetchedAt + last.ttlMillis - last.ttlMillis / 4 {
            await cache.store(cached, for: key)
            return unchanged(last, url: statusURL, httpStatus: nil, bytes: bytes)
        }
        let status = try await http.get(
            statusURL, timeoutMillis: timeout, limits: source.limits, ifChangedSince: cached.status?.validators,
            headers: headers)
        bytes += status.body.count
        if status.notModified, var last = cached.status {
            last.fetchedAt = now
            cached.status = last
            await cache.store(cached, for: key)
            return unchanged(last, url: statusURL, httpStatus: status.status, bytes: bytes)
        }
        let snapshot = try GBFSParser.stationStatus(
            status.body, sourceID: source.id, catalog: cached.catalog, propulsion: cached.propulsion ?? [:],
            fetchedAt: now)
        // A station unknown to the cached information file means the file changed: refresh it next run.
        if let catalog = cached.catalog, snapshot.stations.contains(where: { catalog.stations[$0.stationID] == nil }) {
            cached.catalogExpiresAt = now
        }
        let hash = ContentHash.fnv1a64(status.body)
        cached.status = GBFSCache.Status(
            validators: status.validators, contentHash: hash, feedTimestamp: snapshot.lastUpdated, fetchedAt: now,
            ttlMillis: Int64(min(3600, max(0, snapshot.ttl ?? 0))) * 1000)
        await cache.store(cached, for: key)
        return FetchResult(
            observations: ObservationBatch(stations: snapshot.stations), url: statusURL, httpStatus: status.status,
            bytes: bytes, contentHash: hash, feedTimestamp: snapshot.lastUpdated, rejected: snapshot.rejected)
    }

    private func unchanged(_ last: GBFSCache.Status, url: String, httpStatus: Int?, bytes: Int) -> FetchResult {
        FetchResult(
            observations: ObservationBatch(), url: url, httpStatus: httpStatus, bytes: bytes,
            contentHash: last.contentHash, feedTimestamp: last.feedTimestamp, unchanged: true)
    }

    /// How long a rarely-changing file is reused: its `ttl`, at least 60 s, at most an hour.
    static func cacheMillis(ttl: Int?) -> Int64 {
        Int64(min(3600, max(60, ttl ?? 300))) * 1000
    }
}

/// Per-source cache of the GBFS files that change rarely.
actor GBFSCache {
    struct Entry: Sendable {
        var feeds: GBFSFeedList?
        var feedsExpireAt: Int64 = 0
        var catalog: GBFSStationCatalog?
        var catalogExpiresAt: Int64 = 0
        var propulsion: [String: String]?
        var propulsionExpiresAt: Int64 = 0
        var feedsValidators: FeedHTTPClient.Validators?
        var catalogValidators: FeedHTTPClient.Validators?
        var status: Status?
    }

    /// The last station_status copy: enough to answer "unchanged" without refetching.
    struct Status: Sendable {
        var validators: FeedHTTPClient.Validators
        var contentHash: String
        var feedTimestamp: Int64?
        var fetchedAt: Int64
        var ttlMillis: Int64
    }

    private var entries: [String: Entry] = [:]

    func entry(_ key: String) -> Entry { entries[key] ?? Entry() }

    func store(_ entry: Entry, for key: String) { entries[key] = entry }
}
