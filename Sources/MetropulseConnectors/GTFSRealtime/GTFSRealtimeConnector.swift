public import MetropulseCore

/// Reads a GTFS-Realtime feed (trip updates, vehicle positions, alerts or all three) over HTTP.
/// A `FULL_DATASET` feed replaces the source's departures, vehicles and disruptions; a
/// `DIFFERENTIAL` one updates them.
public struct GTFSRealtimeConnector: Connector {
    private let http: FeedHTTPClient

    public init(http: FeedHTTPClient) {
        self.http = http
    }

    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        guard let url = source.urls.first else { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        let document = try await http.get(url, timeoutMillis: source.timeoutMillis)
        let feed = try GTFSRealtimeParser.parse(document.body, sourceID: source.id, fetchedAt: context.now)
        return FetchResult(
            observations: feed.batch, url: url, httpStatus: document.status, bytes: document.body.count,
            contentHash: ContentHash.fnv1a64(document.body), feedTimestamp: feed.timestamp, rejected: feed.rejected)
    }
}
