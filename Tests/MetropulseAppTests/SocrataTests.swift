import Foundation
import Hummingbird
import MetropulseApp
import MetropulseConnectors
import MetropulseCore
import Testing

/// `format: socrata` against a local server that pages the real NYC bicycle-count capture as
/// SODA does (`$limit`, `$offset`, `$order`).
@Suite("Socrata SODA over HTTP")
struct SocrataTests {
    static let mapping = JSONMapping(id: "/id", timestamp: "/date", fields: ["bicycles": "/counts"])

    /// The capture's 1,000 rows, served a page at a time; records every query it answers.
    static func sodaRouter(queries: OpendatasoftTests.QueryLog) throws -> Router<BasicRequestContext> {
        let root = try #require(
            FixtureLocator.directory(from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path))
        let data = try Data(
            contentsOf: URL(
                fileURLWithPath: root
                    + "/city-apis/socrata-nyc/soda2_resource_uczf-rk3c_bicycle-counts_default-page.json"))
        let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [Any]).map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self)
        }
        let router = Router()
        router.get("resource/uczf-rk3c.json") { request, _ -> Response in
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            queries.append(query)
            let limit = Int(query["$limit"] ?? "1000") ?? 1000
            let offset = Int(query["$offset"] ?? "0") ?? 0
            let page = rows.dropFirst(offset).prefix(limit).joined(separator: ",")
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "[" + page + "]")))
        }
        return router
    }

    @Test("pages of $limit rows in :id order until a short page: every row once, the URL's SoQL kept")
    func paging() async throws {
        let queries = OpendatasoftTests.QueryLog()
        let publisher = try await Publisher.start(try Self.sodaRouter(queries: queries))
        defer { publisher.task.cancel() }
        let connector = SocrataConnector(http: FeedMannersTests.client(), pageSize: 300)
        let source = SourceDefinition(
            id: "nyc", kind: .json, urls: [publisher.url("resource/uczf-rk3c.json?$where=counts%20%3E%200")],
            format: "socrata", mapping: Self.mapping, limits: .local)
        let result = try await connector.fetch(source, context: FeedMannersTests.context)
        #expect(result.observations.measurements.count == 1_000 && result.rejected.isEmpty)
        #expect(Set(result.observations.measurements.map(\.zone)).count == 9)
        #expect(result.feedTimestamp == Timestamp.parse("2023-06-03T23:45:00Z"))
        let seen = queries.all
        #expect(seen.map { $0["$offset"] } == ["0", "300", "600", "900"])
        #expect(seen.allSatisfy { $0["$limit"] == "300" && $0["$order"] == ":id" && $0["$where"] == "counts > 0" })

        // The kind's registry entry picks the paged reader by format.
        let registry = ConnectorRegistry([
            .json: FormatConnector(
                standard: DocumentConnector.json(http: FeedMannersTests.client()),
                formats: ["socrata": connector])
        ])
        let again = try await registry.fetch(source, context: FeedMannersTests.context)
        #expect(again.observations.measurements.count == 1_000 && again.contentHash == result.contentHash)
    }

    @Test("a dataset larger than max_records is cut there, with a rejection saying so; a row without id is counted")
    func cut() async throws {
        let queries = OpendatasoftTests.QueryLog()
        let publisher = try await Publisher.start(try Self.sodaRouter(queries: queries))
        defer { publisher.task.cancel() }
        let connector = SocrataConnector(http: FeedMannersTests.client(), pageSize: 200, maxRecords: 500)
        var mapping = Self.mapping
        mapping.id = "/no_such_column"
        let source = SourceDefinition(
            id: "nyc", kind: .json, urls: [publisher.url("resource/uczf-rk3c.json")], format: "socrata",
            mapping: Self.mapping, limits: .local)
        let result = try await connector.fetch(source, context: FeedMannersTests.context)
        #expect(result.observations.measurements.count == 500)
        #expect(queries.all.map { $0["$limit"] } == ["200", "200", "100"])
        #expect(result.rejected.count == 1 && result.rejected[0].reason.contains("more than 500 rows"))

        var unnamed = source
        unnamed.mapping = mapping
        let rejected = try await connector.fetch(unnamed, context: FeedMannersTests.context)
        #expect(rejected.observations.measurements.isEmpty)
        #expect(rejected.rejected.count == 501 && rejected.rejected[250].entity == "records[250]")
    }
}
