import Foundation
import Logging
public import MetropulseCore

/// Reads a Socrata SODA dataset (`.../resource/ID.json`; a `json` source with `format: socrata`)
/// whole, page by page, through the source's mapping.
///
/// Socrata answers 1,000 rows when asked for nothing else, in no promised order, so a plain GET
/// sees an arbitrary part of a larger dataset. Pages of `pageSize` rows are requested with
/// `$limit` and `$offset`, in `:id` order (a stable order, unless the URL sets its own `$order`),
/// until a page comes back short; at most `maxRecords` rows are read in one run, and a dataset
/// that has more is cut there with a rejection saying so. The URL's own SoQL (`$where`,
/// `$select`, `$q`, ...) is kept: that is how a source reads only recent rows, e.g.
/// `$where=created_date > '2026-12-01'`. An app token goes in `X-App-Token` (`api_key_env`,
/// `api_key_header: X-App-Token`).
public struct SocrataConnector: Connector {
    public static let defaultPageSize = 1_000
    public static let defaultMaxRecords = 50_000

    private let http: FeedHTTPClient
    private let pageSize: Int
    private let maxRecords: Int

    public init(
        http: FeedHTTPClient, pageSize: Int = SocrataConnector.defaultPageSize,
        maxRecords: Int = SocrataConnector.defaultMaxRecords
    ) {
        self.http = http
        self.pageSize = max(1, pageSize)
        self.maxRecords = max(1, maxRecords)
    }

    /// The request for one page: the URL's own parameters, then `$order` (unless set), `$limit`
    /// and `$offset`.
    public static func pageURL(_ base: String, limit: Int, offset: Int) -> String {
        let (path, query) = ODSQuery.split(base)
        var parameters = query.filter { !["$limit", "$offset"].contains($0.name) }
        if !parameters.contains(where: { $0.name == "$order" }) { parameters.append(("$order", ":id")) }
        parameters += [("$limit", String(limit)), ("$offset", String(offset))]
        // SoQL names keep their `$` (a query may carry it as is; not every server decodes `%24`).
        return path + "?"
            + parameters.map {
                "\(ODSQuery.encode($0.name).replacingOccurrences(of: "%24", with: "$"))=\(ODSQuery.encode($0.value))"
            }.joined(separator: "&")
    }

    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        guard let url = source.urls.first else { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        guard let mapping = source.mapping else {
            throw FetchError(.configuration, "source '\(source.id)' of kind json has no mapping")
        }
        let headers = try source.requestHeaders()
        var batch = ObservationBatch()
        var rejected: [Rejection] = []
        var hashes = ""
        var bytes = 0
        var newest: Int64?
        var status = 0
        var offset = 0
        var pages = 0
        while true {
            let limit = min(pageSize, maxRecords - offset)
            let pageURL = try source.requestURL(Self.pageURL(url, limit: limit, offset: offset))
            let document = try await http.get(
                pageURL, timeoutMillis: source.timeoutMillis, limits: source.limits, headers: headers)
            pages += 1
            status = document.status
            bytes += document.body.count
            hashes += ContentHash.fnv1a64(document.body)
            let page: JSONMappingParser.Result
            do {
                page = try JSONMappingParser.parse(
                    document.body, mapping: mapping, sourceID: source.id, fetchedAt: context.now,
                    firstIndex: offset)
            } catch let error as FetchError {
                throw FetchError(error.kind, "Socrata page at $offset=\(offset): \(error.message)")
            }
            batch.measurements += page.measurements
            rejected += page.rejected
            if let pageNewest = page.newest { newest = max(newest ?? pageNewest, pageNewest) }
            offset += page.records
            if page.records < limit { break }
            if offset >= maxRecords {
                rejected.append(
                    Rejection(
                        entity: "$offset=\(offset)",
                        reason: "more than \(maxRecords) rows: the rest is not read this run (narrow the URL's $where)")
                )
                break
            }
        }
        if pages > 1 {
            context.logger.debug(
                "read Socrata rows", metadata: ["source": "\(source.id)", "pages": "\(pages)", "rows": "\(offset)"])
        }
        return FetchResult(
            observations: batch, url: url, httpStatus: status, bytes: bytes,
            contentHash: ContentHash.fnv1a64(hashes.utf8),
            feedTimestamp: newest, rejected: rejected)
    }
}
