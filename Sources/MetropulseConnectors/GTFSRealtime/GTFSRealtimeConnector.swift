public import MetropulseCore

/// Reads a GTFS-Realtime feed (trip updates, vehicle positions, alerts or all three) over HTTP.
/// A `FULL_DATASET` feed replaces the source's departures, vehicles and disruptions; a
/// `DIFFERENTIAL` one updates them. The feed is revalidated with its `ETag` / `Last-Modified`: a
/// `304` is an unchanged run.
public struct GTFSRealtimeConnector: Connector {
    private let http: FeedHTTPClient
    private let copies = LastCopies()

    public init(http: FeedHTTPClient) {
        self.http = http
    }

    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        guard let url = source.urls.first else { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        let key = "\(source.id) \(url)"
        let last = await copies.copy(key)
        let document = try await http.get(
            url, timeoutMillis: source.timeoutMillis, ifChangedSince: last?.validators,
            headers: try source.requestHeaders())
        if document.notModified, let last {
            return FetchResult(
                observations: ObservationBatch(), url: url, httpStatus: document.status, bytes: 0,
                contentHash: last.contentHash, feedTimestamp: last.feedTimestamp, unchanged: true)
        }
        let feed = try GTFSRealtimeParser.parse(document.body, sourceID: source.id, fetchedAt: context.now)
        let hash = ContentHash.fnv1a64(document.body)
        await copies.store(
            LastCopies.Copy(validators: document.validators, contentHash: hash, feedTimestamp: feed.timestamp), for: key
        )
        return FetchResult(
            observations: feed.batch, url: url, httpStatus: document.status, bytes: document.body.count,
            contentHash: hash, feedTimestamp: feed.timestamp, rejected: feed.rejected)
    }
}

/// What a connector keeps of its last copy of each document to answer a `304`.
actor LastCopies {
    struct Copy: Sendable {
        var validators: FeedHTTPClient.Validators
        var contentHash: String
        var feedTimestamp: Int64?
    }

    private var copies: [String: Copy] = [:]

    func copy(_ key: String) -> Copy? { copies[key] }

    func store(_ copy: Copy, for key: String) {
        copies[key] = copy.validators.isEmpty ? nil : copy
    }
}
