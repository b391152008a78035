import Foundation
import Hummingbird
import MetropulseApp
import MetropulseConnectors
import MetropulseCore
import Synchronization
import Testing

/// The `ods-records` kind against a local server that behaves like the Explore v2.1 `records`
/// endpoint, window included, and the GBFS → Opendatasoft fallback chain end to end.
@Suite("Opendatasoft records over HTTP")
struct OpendatasoftTests {
    /// Serves `count` records with codes c00001…, ordered by code, refusing offset + limit past
    /// 10,000 as the platform does (HTTP 400 with an error body). Records every query it answers.
    final class QueryLog: Sendable {
        private let entries = Mutex<[[String: String]]>([])
        func append(_ query: [String: String]) { entries.withLock { $0.append(query) } }
        var all: [[String: String]] { entries.withLock { $0 } }
    }

    static func recordsRouter(count: Int, queries: QueryLog) -> Router<BasicRequestContext> {
        let codes = (1...count).map { "c" + String(repeating: "0", count: 5 - String($0).count) + String($0) }
        let router = Router()
        router.get("records") { request, _ -> Response in
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            queries.append(query)
            let limit = Int(query["limit"] ?? "10") ?? 10
            let offset = Int(query["offset"] ?? "0") ?? 0
            guard limit <= 100, offset + limit <= 10_000, query["order_by"] == "stationcode" else {
                return Response(
                    status: .badRequest,
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error_code": "InvalidRESTParameterError"}"#)))
            }
            var matching = codes[...]
            if let filter = query["where"], let range = filter.range(of: "stationcode > \"") {
                let after = String(filter[range.upperBound...].prefix { $0 != "\"" })
                matching = matching.drop { $0 <= after }
            }
            let page = matching.dropFirst(offset).prefix(limit).map { code in
                """
                {"stationcode": "\(code)", "name": "Station \(code)", "is_installed": "OUI", "capacity": 20,
                 "numdocksavailable": 12, "numbikesavailable": 8, "mechanical": 5, "ebike": 3,
                 "is_renting": "OUI", "is_returning": "OUI", "duedate": "2024-05-28T20:04:29+00:00",
                 "coordonnees_geo": {"lon": 2.3, "lat": 48.8}}
                """
            }
            return Response(
                status: .ok,
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: #"{"total_count": \#(matching.count), "results": [\#(page.joined(separator: ","))]}"#)))
        }
        return router
    }

    @Test("pages of 100 up to the 10,000 window, then a where slice on stationcode: all 10,250 records once")
    func pagination() async throws {
        let queries = QueryLog()
        let publisher = try await Publisher.start(Self.recordsRouter(count: 10_250, queries: queries))
        defer { publisher.task.cancel() }
        let connector = ODSConnector(http: FeedMannersTests.client())
        let source = SourceDefinition(
            id: "ods", kind: .odsRecords, urls: [publisher.url("records?where=capacity%20%3E%200")], limits: .local)
        let result = try await connector.fetch(source, context: FeedMannersTests.context)
        #expect(result.observations.count == 10_250)
        #expect(Set(result.observations.stations.map(\.stationID)).count == 10_250)
        #expect(result.rejected.isEmpty && result.httpStatus == 200)
        let seen = queries.all
        #expect(seen.count == 103)  // 100 pages in the window, then 100 + 100 + 50 after the slice
        #expect(seen.allSatisfy { $0["limit"] == "100" && $0["where"]?.contains("capacity > 0") == true })
        #expect(seen[100]["offset"] == "0")
        #expect(seen[100]["where"] == #"(capacity > 0) AND stationcode > "c10000""#)

        // The same records again give the same content hash.
        let again = try await connector.fetch(source, context: FeedMannersTests.context)
        #expect(again.contentHash == result.contentHash)
    }

    @Test("a GBFS source that fails falls back to Opendatasoft: the run records the endpoint that served")
    func fallback() async throws {
        let queries = QueryLog()
        let router = Self.recordsRouter(count: 150, queries: queries)
        router.get("gbfs/gbfs.json") { _, _ -> Response in Response(status: .serviceUnavailable) }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }

        let source = SourceDefinition(
            id: "velib", kind: .gbfs, urls: [publisher.url("gbfs/gbfs.json")], intervalMillis: 86_400_000,
            fallbacks: [SourceEndpoint(kind: .odsRecords, urls: [publisher.url("records")])], stationKey: .code,
            limits: .local)
        let broken = SourceDefinition(
            id: "broken", kind: .gbfs, urls: [publisher.url("gbfs/gbfs.json")], intervalMillis: 86_400_000,
            maxAttempts: 1, fallbacks: [SourceEndpoint(kind: .odsRecords, urls: [publisher.url("missing")])],
            limits: .local)
        let app = try await RunningApp.start(
            configuration(database: try temporaryFolder() + "/m.sqlite", sources: [source, broken]))
        let store = app.runtime.backend.store
        try await eventually("the fallback served") {
            try await store.taskRuns(TaskRunQuery(sourceID: "velib")).contains { $0.status == .succeeded }
        }
        let run = try #require(try await store.taskRuns(TaskRunQuery(sourceID: "velib")).first)
        #expect(run.url == publisher.url("records") && run.entityCount == 150)
        let (_, stations) = try await getJSON("\(app.base)/api/stations?source=velib")
        #expect(stations["count"] as? Int == 150)
        let (_, one) = try await getJSON("\(app.base)/api/stations/velib/c00042")
        #expect((one["station"] as? [String: Any])?["bikes_available"] as? Int == 8)
        #expect((one["run"] as? [String: Any])?["url"] as? String == publisher.url("records"))

        try await eventually("every endpoint of the broken source failed") {
            try await store.taskRuns(TaskRunQuery(sourceID: "broken")).contains { $0.status == .failed }
        }
        let failed = try #require(try await store.taskRuns(TaskRunQuery(sourceID: "broken")).first)
        #expect(failed.errorKind == .httpStatus)
        #expect(failed.errorMessage?.contains("HTTP 503") == true, "\(failed.errorMessage ?? "")")
        #expect(
            failed.errorMessage?.contains("then ods-records") == true && failed.errorMessage?.contains("404") == true)
        try await app.stop()
    }
}
