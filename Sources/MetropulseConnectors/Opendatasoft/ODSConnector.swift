import Foundation
import Logging
public import MetropulseCore

/// Reads an Opendatasoft Explore v2.1 dataset through its `records` endpoint, page by page.
///
/// The platform serves at most 100 records per page and refuses `offset + limit` beyond 10,000.
/// Pages are requested in `stationcode` order; when the window is used up, the query is sliced:
/// the next request asks for the records after the last code seen (`where stationcode > "…"`)
/// from offset 0 again, so datasets of any size are read whole. A URL ending in `/exports/json`
/// is read in one request (the export has no window). Parameters already in the URL (`where`,
/// `select`, `refine`, ...) are kept; a `where` is combined with the slice condition.
public struct ODSConnector: Connector {
    public static let pageSize = 100
    public static let offsetWindow = 10_000
    /// A safety stop: 1,000 pages are 100,000 records.
    public static let maxPages = 1_000

    private let http: FeedHTTPClient
    private let keyField: String

    public init(http: FeedHTTPClient, keyField: String = "stationcode") {
        self.http = http
        self.keyField = keyField
    }

    /// Reads the source's first URL; `ConnectorRegistry.fetch` walks the others and the fallbacks.
    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        guard let url = source.urls.first else { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        return try await read(url, source: source, context: context)
    }

    /// The request for one page: the URL's own parameters, then limit, offset, order and slice.
    public static func pageURL(_ base: String, keyField: String, offset: Int, after: String?) -> String {
        let (path, query) = ODSQuery.split(base)
        var parameters = query.filter { !["limit", "offset", "order_by"].contains($0.name) }
        if let after {
            let slice = "\(keyField) > \"\(after.replacingOccurrences(of: "\"", with: "\\\""))\""
            if let index = parameters.firstIndex(where: { $0.name == "where" }) {
                parameters[index].value = "(\(parameters[index].value)) AND \(slice)"
            } else {
                parameters.append((name: "where", value: slice))
            }
        }
        parameters += [("order_by", keyField), ("limit", String(pageSize)), ("offset", String(offset))]
        return path + "?"
            + parameters.map { "\(ODSQuery.encode($0.name))=\(ODSQuery.encode($0.value))" }.joined(
                separator: "&")
    }

    private func read(_ url: String, source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        let isExport = ODSQuery.split(url).path.hasSuffix("/exports/json")
        var stations: [StationObservation] = []
        var rejected: [Rejection] = []
        var hashes = ""
        var bytes = 0
        var newest: Int64?
        var offset = 0
        var after: String?
        var lastStatus = 0
        var pages = 0
        var total: Int?
        let headers = try source.requestHeaders()
        while true {
            pages += 1
            guard pages <= Self.maxPages else {
                throw FetchError(.validation, "more than \(Self.maxPages) pages of \(Self.pageSize) records; refusing")
            }
            let pageURL = isExport ? url : Self.pageURL(url, keyField: keyField, offset: offset, after: after)
            let document = try await http.get(
                pageURL, timeoutMillis: source.timeoutMillis, limits: source.limits, headers: headers)
            lastStatus = document.status
            bytes += document.body.count
            hashes += ContentHash.fnv1a64(document.body)
            let page = try ODSParser.page(
                document.body, sourceID: source.id, fetchedAt: context.now, firstIndex: stations.count + rejected.count)
            stations += page.stations
            rejected += page.rejected
            total = total ?? page.totalCount
            if let pageNewest = page.newest { newest = max(newest ?? pageNewest, pageNewest) }
            if isExport || page.recordCount < Self.pageSize { break }
            offset += Self.pageSize
            if offset + Self.pageSize > Self.offsetWindow {
                guard let last = page.lastCode else {
                    throw FetchError(
                        .validation, "cannot read past \(Self.offsetWindow) records: the last record has no \(keyField)"
                    )
                }
                after = last
                offset = 0
            }
        }
        if pages > 1 {
            context.logger.debug(
                "read Opendatasoft records",
                metadata: ["source": "\(source.id)", "pages": "\(pages)", "total": "\(total ?? -1)"])
        }
        return FetchResult(
            observations: ObservationBatch(stations: stations), url: url, httpStatus: lastStatus, bytes: bytes,
            contentHash: ContentHash.fnv1a64(hashes.utf8), feedTimestamp: newest, rejected: rejected)
    }
}

/// Query-string handling without Foundation's URL types (which re-encode what they do not know).
enum ODSQuery {
    static func split(_ url: String) -> (path: String, query: [(name: String, value: String)]) {
        guard let mark = url.firstIndex(of: "?") else { return (url, []) }
        let query = url[url.index(after: mark)...].split(separator: "&").map { pair -> (name: String, value: String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(String(parts[0])), parts.count > 1 ? decode(String(parts[1])) : "")
        }
        return (String(url[..<mark]), query)
    }

    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    static func decode(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
