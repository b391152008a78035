public import MetropulseCore

/// Reads a SIRI or SIRI-Lite endpoint (XML or JSON, told apart by the body) over HTTP, with the
/// source's API key header when it has one (`api_key_env`). A delivery is the source's whole
/// current state: it replaces the source's departures, vehicles and disruptions. `304` answers
/// are unchanged runs.
public struct SIRIConnector: Connector {
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
        let delivery = try SIRIParser.parse(document.body, sourceID: source.id, fetchedAt: context.now)
        let hash = ContentHash.fnv1a64(document.body)
        await copies.store(
            LastCopies.Copy(validators: document.validators, contentHash: hash, feedTimestamp: delivery.timestamp),
            for: key)
        return FetchResult(
            observations: delivery.batch, url: url, httpStatus: document.status, bytes: document.body.count,
            contentHash: hash, feedTimestamp: delivery.timestamp, rejected: delivery.rejected)
    }
}
