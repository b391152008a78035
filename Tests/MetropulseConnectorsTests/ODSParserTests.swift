import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("Opendatasoft records on real captures")
struct ODSParserTests {
    @Test("Explore v2.1 export of Vélib' availability (2024): 1,471 stations, OUI/NON flags, {lon, lat}")
    func v21Export() throws {
        let page = try ODSParser.page(
            Fixtures.bytes("opendatasoft/velib-disponibilite-en-temps-reel_v2.1-records-array_2024-05-28.json"),
            sourceID: "velib-ods", fetchedAt: 0)
        #expect(page.recordCount == 1471)
        #expect(page.stations.count == 1471 && page.rejected.isEmpty)
        #expect(page.totalCount == nil)
        #expect(page.stations.reduce(0) { $0 + $1.bikesAvailable } == 16905)
        #expect(page.stations.count { $0.status == .outOfService } == 13)
        #expect(page.stations.count { $0.status == .closed } == 32)
        #expect(page.newest == Timestamp.parse("2024-05-28T20:06:16+00:00"))

        let first = try #require(page.stations.first)
        #expect(first.stationID == "16107" && first.code == "16107")
        #expect(first.name == "Benjamin Godard - Victor Hugo")
        #expect(first.capacity == 35 && first.bikesAvailable == 15 && first.docksAvailable == 20)
        #expect(first.mechanicalAvailable == 7 && first.ebikesAvailable == 8)
        #expect(first.latitude == 48.865983 && first.longitude == 2.275725)
        #expect(first.observedAt == Timestamp.parse("2024-05-28T20:04:29Z"))
        #expect(first.status == .inService)
        #expect(first.occupancyRate == 15.0 / 35.0)
    }

    @Test("v1 export (2020): records wrapped in fields, coordonnees_geo as [lat, lon], times with offsets")
    func v1Export() throws {
        let page = try ODSParser.page(
            Fixtures.bytes("opendatasoft/velib-disponibilite-en-temps-reel_v1-records-export_2020-06-24.json"),
            sourceID: "velib-ods", fetchedAt: 0)
        #expect(page.stations.count == 1398 && page.rejected.isEmpty)
        #expect(page.stations.reduce(0) { $0 + $1.bikesAvailable } == 14880)
        let first = try #require(page.stations.first)
        #expect(first.stationID == "12109" && first.name == "Mairie du 12ème")
        #expect(first.latitude == 48.8408553118 && first.longitude == 2.38755494356)
        #expect(first.observedAt == Timestamp.parse("2020-06-24T10:56:28Z"))
        #expect(first.bikesAvailable == 4 && first.mechanicalAvailable == 2 && first.ebikesAvailable == 2)
        #expect(page.newest == Timestamp.parse("2020-06-24T12:59:41+02:00"))
    }

    @Test("v1 search envelope of the locations dataset: nhits read; records without availability rejected")
    func v1Search() throws {
        let page = try ODSParser.page(
            Fixtures.bytes("opendatasoft/velib-emplacement-des-stations_v1-search-response_rows10.json"),
            sourceID: "velib-ods", fetchedAt: 0)
        #expect(page.totalCount == 1449 && page.recordCount == 10)
        #expect(page.stations.isEmpty)
        #expect(page.rejected.count == 10)
        #expect(page.rejected.first == Rejection(entity: "13007", reason: "numbikesavailable is missing"))
        #expect(page.lastCode != nil)
    }

    @Test("a record without stationcode or with an unreadable value is rejected with the reason, not fatal")
    func rejections() throws {
        let body = """
            {"total_count": 4, "results": [
              {"stationcode": "1", "numbikesavailable": 3, "numdocksavailable": 2, "is_installed": "OUI"},
              {"name": "no code", "numbikesavailable": 1},
              {"stationcode": "3", "numbikesavailable": "lots"},
              {"stationcode": "4", "numbikesavailable": 1, "is_renting": "PEUT-ÊTRE"}
            ]}
            """
        let page = try ODSParser.page(Array(body.utf8), sourceID: "s", fetchedAt: 42)
        #expect(page.totalCount == 4 && page.recordCount == 4)
        #expect(page.stations.map(\.stationID) == ["1"])
        #expect(page.stations.first?.observedAt == 42)
        #expect(
            page.rejected == [
                Rejection(entity: "records[1]", reason: "stationcode is missing"),
                Rejection(entity: "3", reason: "numbikesavailable has an unreadable value"),
                Rejection(entity: "4", reason: "is_renting has an unreadable value"),
            ])
    }

    @Test("errors: not JSON, an Opendatasoft error answer, a shape with no records")
    func errors() {
        let cases: [(String, FetchErrorKind, String)] = [
            ("<html>", .decode, "not valid JSON"),
            (#"{"error_code": "ODSQLError", "message": "Invalid where clause"}"#, .validation, "ODSQLError"),
            (#"{"total_count": 3}"#, .validation, "no results"),
        ]
        for (body, kind, text) in cases {
            let error = #expect(throws: FetchError.self) {
                _ = try ODSParser.page(Array(body.utf8), sourceID: "s", fetchedAt: 0)
            }
            #expect(
                error?.kind == kind && error?.message.contains(text) == true, "\(body): \(String(describing: error))")
        }
    }

    @Test("page URLs keep the user's parameters and slice past the window with a where on the key")
    func pageURLs() {
        let base =
            "https://example.org/api/explore/v2.1/catalog/datasets/d/records?where=is_installed%3D%22OUI%22&limit=20"
        #expect(
            ODSConnector.pageURL(base, keyField: "stationcode", offset: 200, after: nil)
                == "https://example.org/api/explore/v2.1/catalog/datasets/d/records?where=is_installed%3D%22OUI%22&order_by=stationcode&limit=100&offset=200"
        )
        #expect(
            ODSConnector.pageURL(base, keyField: "stationcode", offset: 0, after: "9020")
                == "https://example.org/api/explore/v2.1/catalog/datasets/d/records?where=%28is_installed%3D%22OUI%22%29%20AND%20stationcode%20%3E%20%229020%22&order_by=stationcode&limit=100&offset=0"
        )
    }
}
