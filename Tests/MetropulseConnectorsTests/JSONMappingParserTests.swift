import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("JSON mapping on real captures")
struct JSONMappingParserTests {
    @Test("Socrata NYC bicycle counts: every value a string, times without an offset; 1,000 readings, 9 counters")
    func socrata() throws {
        let mapping = JSONMapping(id: "/id", timestamp: "/date", fields: ["bicycles": "/counts"])
        let result = try JSONMappingParser.parse(
            Fixtures.bytes("city-apis/socrata-nyc/soda2_resource_uczf-rk3c_bicycle-counts_default-page.json"),
            mapping: mapping, sourceID: "nyc", fetchedAt: 0)
        #expect(result.measurements.count == 1000 && result.rejected.isEmpty)
        #expect(Set(result.measurements.map(\.zone)).count == 9)
        let first = try #require(result.measurements.first)
        #expect(first.zone == "100009425" && first.metric == "bicycles" && first.value == 27)
        #expect(first.observedAt == Timestamp.parse("2023-06-03T00:00:00Z"))
        #expect(result.newest == Timestamp.parse("2023-06-03T23:45:00Z"))
    }

    @Test("OpenAQ v3 latest: records under /results, nested time and coordinates")
    func openAQ() throws {
        let mapping = JSONMapping(
            records: "/results", id: "/locationsId", timestamp: "/datetime/utc",
            fields: ["pm25": "/value", "latitude": "/coordinates/latitude"], units: ["pm25": "µg/m³"])
        let result = try JSONMappingParser.parse(
            Fixtures.bytes("city-apis/openaq-v3/v3_locations-1_latest.json"), mapping: mapping, sourceID: "openaq",
            fetchedAt: 0)
        #expect(result.measurements.map(\.metric) == ["latitude", "pm25"])
        let pm25 = try #require(result.measurements.last)
        #expect(pm25.zone == "1" && pm25.value == 8.15 && pm25.unit == "µg/m³")
        #expect(pm25.observedAt == Timestamp.parse("2025-07-09T01:30:00Z"))
    }

    @Test("the Socrata 404 body, missing ids and values, pointer escapes, epoch times")
    func edges() throws {
        let mapping = JSONMapping(id: "/id", timestamp: "/date", fields: ["bicycles": "/counts"])
        let missing = #expect(throws: FetchError.self) {
            _ = try JSONMappingParser.parse(
                Fixtures.bytes("invalid/socrata/soda2_404_dataset-missing.json"), mapping: mapping, sourceID: "nyc",
                fetchedAt: 0)
        }
        #expect(missing?.kind == .validation && missing?.message.contains("not an array") == true)

        let body = """
            {"data": {"items": [
              {"a/b": "x", "t": 1700000000, "v": {"n~1": 3}},
              {"t": 1700000000000, "v": {"n~1": 4}},
              {"a/b": "y", "t": 1700000000, "v": {"n~1": "many"}},
              {"a/b": "z", "t": "1700000000", "v": {"n~1": 5}}
            ]}}
            """
        let custom = JSONMapping(records: "/data/items", id: "/a~1b", timestamp: "/t", fields: ["n": "/v/n~01"])
        let result = try JSONMappingParser.parse(Array(body.utf8), mapping: custom, sourceID: "s", fetchedAt: 0)
        #expect(result.measurements.map(\.zone) == ["x", "z"])
        #expect(result.measurements.allSatisfy { $0.observedAt == 1_700_000_000_000 })
        #expect(
            result.rejected == [
                Rejection(entity: "records[1]", reason: "no id at /a~1b"),
                Rejection(entity: "y", reason: "no numeric value at any mapped field"),
            ])
        let notJSON = #expect(throws: FetchError.self) {
            _ = try JSONMappingParser.parse(Array("<html>".utf8), mapping: custom, sourceID: "s", fetchedAt: 0)
        }
        #expect(notJSON?.kind == .decode)
    }
}
