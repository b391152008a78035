import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("GBFS parser on real captures")
struct GBFSParserTests {
    @Test("Vélib' 2025: 1,495 stations, integer ids above 2^32 kept exactly, lastUpdatedOther, 0/1 flags")
    func velib2025() throws {
        let information = try GBFSParser.stationInformation(
            Fixtures.bytes("gbfs/velib-paris-2025-10/station_information.json"))
        #expect(information.stations.count == 1495)
        #expect(information.ttl == 3600)
        let snapshot = try GBFSParser.stationStatus(
            Fixtures.bytes("gbfs/velib-paris-2025-10/station_status.json"), sourceID: "velib", catalog: information,
            fetchedAt: 0)
        #expect(snapshot.stations.count == 1495)
        #expect(snapshot.rejected.isEmpty)
        #expect(snapshot.lastUpdated == 1_760_778_556_000)
        #expect(snapshot.version == nil)
        #expect(snapshot.stations.reduce(0) { $0 + $1.bikesAvailable } == 18067)

        let first = try #require(snapshot.stations.first { $0.stationID == "213688169" })
        #expect(first.code == "16107")
        #expect(first.name == "Benjamin Godard - Victor Hugo")
        #expect(first.capacity == 35)
        #expect(first.bikesAvailable == 5)
        #expect(first.mechanicalAvailable == 1)
        #expect(first.ebikesAvailable == 4)
        #expect(first.docksAvailable == 30)
        #expect(first.observedAt == 1_760_776_294_000)
        #expect(first.status == .inService)
        #expect(first.occupancyRate == 5.0 / 35.0)

        let big = try #require(snapshot.stations.first { $0.stationID == "19179944124" })
        #expect(big.code == "40001")
        #expect(big.name == "Hôpital Mondor")
        #expect(big.latitude == 48.798922410229)
        #expect(big.mechanicalAvailable == 12)
        #expect(big.ebikesAvailable == 8)
        #expect(
            snapshot.stations.filter { $0.stationID.count > 10 || (UInt64($0.stationID) ?? 0) > 1 << 32 }.count == 187)

        #expect(snapshot.stations.filter { $0.status == .outOfService }.count == 11)
        #expect(snapshot.stations.filter { $0.status == .closed }.count == 22)
    }

    @Test("Vélib' 2022: v1-style discovery with data.en.feeds and no version")
    func velib2022Discovery() throws {
        let feeds = try GBFSParser.discovery(Fixtures.bytes("gbfs/velib-paris-2022-02/gbfs.json"))
        #expect(feeds.feeds.count == 4)
        #expect(
            feeds.feeds["station_status"]
                == "https://velib-metropole-opendata.smoove.pro/opendata/Velib_Metropole/station_status.json")
        #expect(feeds.version == nil)
        #expect(feeds.lastUpdated == 1_645_804_741_000)

        let information = try GBFSParser.stationInformation(
            Fixtures.bytes("gbfs/velib-paris-2022-02/station_information.json"))
        #expect(information.stations.count == 1439)
        let snapshot = try GBFSParser.stationStatus(
            Fixtures.bytes("gbfs/velib-paris-2022-02/station_status.json"), sourceID: "velib", catalog: information,
            fetchedAt: 0)
        #expect(snapshot.stations.count == 1439)
        let station = try #require(snapshot.stations.first { $0.stationID == "516709288" })
        #expect(station.code == "11104")
        #expect(station.mechanicalAvailable == 2)
        #expect(station.ebikesAvailable == 3)
        #expect(station.docksAvailable == 15)

        let mit = try GBFSParser.stationInformation(
            Fixtures.bytes("gbfs/velib-paris-2022-05-mit/station_information.json"))
        #expect(mit.stations.count == 1438)
    }

    @Test("Oslo v2.2 uses 1/0 flags, v2.3 booleans and num_vehicles_available")
    func oslo() throws {
        let information = try GBFSParser.stationInformation(
            Fixtures.bytes("gbfs/oslo-bysykkel/station_information_v2.2_2022-10-23.json"))
        #expect(information.stations.count == 260)
        #expect(information.stations["2351"]?.name == "Sogn Studentby")
        #expect(information.stations["2351"]?.capacity == 18)

        let v22 = try GBFSParser.stationStatus(
            Fixtures.bytes("gbfs/oslo-bysykkel/station_status_v2.2_2022-10-23.json"), sourceID: "oslo",
            catalog: information, fetchedAt: 0)
        #expect(v22.stations.count == 260)
        #expect(v22.stations.reduce(0) { $0 + $1.bikesAvailable } == 1758)
        let sogn = try #require(v22.stations.first { $0.stationID == "2351" })
        #expect(sogn.bikesAvailable == 10)
        #expect(sogn.docksAvailable == 8)
        #expect(sogn.isRenting)
        #expect(sogn.name == "Sogn Studentby")
        #expect(v22.version == "2.2")

        let v23 = try GBFSParser.stationStatus(
            Fixtures.bytes("gbfs/oslo-bysykkel/station_status_v2.3_2025-04-01.json"), sourceID: "oslo",
            catalog: nil, fetchedAt: 0)
        #expect(v23.stations.count == 256)
        #expect(v23.stations.reduce(0) { $0 + $1.bikesAvailable } == 1335)
        #expect(v23.ttl == 15)
        let empty = try #require(v23.stations.first { $0.stationID == "5220" })
        #expect(empty.bikesAvailable == 0)
        #expect(empty.occupancyRate == 0)
    }

    @Test("GBFS v3.0: data.feeds discovery, localized names, ISO times, vehicle types")
    func v3() throws {
        let feeds = try GBFSParser.discovery(Fixtures.bytes("gbfs/v3.0-json-schema-testfixtures/gbfs.json"))
        #expect(feeds.feeds.count == 8)
        #expect(feeds.version == "3.0")
        #expect(feeds.lastUpdated == Timestamp.parse("2019-07-04T13:33:03.969Z"))

        let information = try GBFSParser.stationInformation(
            Fixtures.bytes("gbfs/v3.0-json-schema-testfixtures/station_information.json"))
        #expect(information.stations.count == 23)
        #expect(
            information.stations["dba20483-5fdb-42ba-9955-d883df3195ee"]?.name == "73 rue de Lourmel 75015 Fantasmo")
        #expect(information.stations["dba20483-5fdb-42ba-9955-d883df3195ee"]?.capacity == 10)

        let propulsion = try GBFSParser.vehicleTypes(
            Fixtures.bytes("gbfs/v3.0-json-schema-testfixtures/vehicle_types.json"))
        #expect(propulsion == ["ebicycle_paris": "electric_assist"])

        let status = try GBFSParser.stationStatus(
            Fixtures.bytes("gbfs/v3.0-json-schema-testfixtures/station_status.json"), sourceID: "tier",
            catalog: information, propulsion: propulsion, fetchedAt: 0)
        #expect(status.stations.count == 1)
        let station = try #require(status.stations.first)
        #expect(station.name == "2 ROUES")
        #expect(station.bikesAvailable == 0)
        #expect(station.ebikesAvailable == 0)
        #expect(station.docksAvailable == nil)
        #expect(station.observedAt == 1_562_247_183_969)

        let vehicles = try GBFSParser.vehicleStatus(
            Fixtures.bytes("gbfs/v3.0-json-schema-testfixtures/vehicle_status.json"))
        #expect(vehicles.vehicles.count == 7)
        #expect(
            vehicles.vehicles.first?.vehicleID == "2b6488755477b6803d3e21072a3dbcff52fb8f806283fc73591c8053e6ad6125")
    }

    @Test("every capture in fixtures/gbfs is read by the parser its file name calls for")
    func everyCapture() throws {
        var read = 0
        for path in try Fixtures.files(under: "gbfs") {
            let body = try Fixtures.bytes(path)
            let name = (path as NSString).lastPathComponent
            if name == "gbfs.json" {
                #expect(try !GBFSParser.discovery(body).feeds.isEmpty, "\(path)")
            } else if name.hasPrefix("station_information") {
                #expect(try !GBFSParser.stationInformation(body).stations.isEmpty, "\(path)")
            } else if name.hasPrefix("station_status") {
                let snapshot = try GBFSParser.stationStatus(body, sourceID: "x", catalog: nil, fetchedAt: 0)
                #expect(!snapshot.stations.isEmpty && snapshot.rejected.isEmpty, "\(path)")
            } else if name.hasPrefix("vehicle_types") {
                #expect(try !GBFSParser.vehicleTypes(body).isEmpty, "\(path)")
            } else if name.hasPrefix("vehicle_status") || name.hasPrefix("free_bike_status") {
                #expect(try GBFSParser.vehicleStatus(body).rejected.isEmpty, "\(path)")
            } else {
                // Files the station pipeline does not read (alerts, pricing, regions, manifest...):
                // they must still be valid GBFS JSON.
                #expect(throws: Never.self, "\(path)") { _ = try GBFSParser.header(body) }
            }
            read += 1
        }
        #expect(read == 21)
    }

    @Test("invalid GBFS files are rejected with a reason")
    func invalid() throws {
        let emptyFeeds = try Fixtures.bytes("invalid/gbfs/entur-invalid-gbfs_missing-version_empty-feeds.json")
        let error = try #require(throws: FetchError.self) { try GBFSParser.discovery(emptyFeeds) }
        #expect(error.kind == .validation)
        #expect(error.message == "gbfs.json lists no feeds")

        let broken = try GBFSParser.vehicleStatus(
            Fixtures.bytes("invalid/gbfs/entur-v2.3-free_bike_status_with_error.json"))
        #expect(
            broken.rejected == [
                Rejection(
                    entity: "987fd100-b822-4347-86a4-b3eef8ca8b53", reason: "last_reported -1 is not a valid time",
                    field: "last_reported")
            ])
        // The vehicle is kept, without the impossible time.
        #expect(broken.vehicles.count == 2)
        #expect(
            broken.vehicles.contains {
                $0.vehicleID == "987fd100-b822-4347-86a4-b3eef8ca8b53" && $0.lastReported == nil
            })

        let valid = try GBFSParser.vehicleStatus(
            Fixtures.bytes("invalid/gbfs/entur-v2.3-free_bike_status_valid-counterpart.json"))
        #expect(valid.rejected.isEmpty)
        #expect(valid.vehicles.count == 2)
        #expect(valid.vehicles[1].stationID == "86")
    }

    @Test("garbage and wrong shapes fail with parse or validation errors naming the file")
    func garbage() throws {
        let notJSON = try #require(throws: FetchError.self) {
            try GBFSParser.stationStatus(Array("<html>oops</html>".utf8), sourceID: "x", catalog: nil, fetchedAt: 0)
        }
        #expect(notJSON.kind == .decode)
        #expect(notJSON.message.hasPrefix("station_status.json:"))

        let noStations = try #require(throws: FetchError.self) {
            try GBFSParser.stationStatus(
                Array(#"{"last_updated": 1, "data": {}}"#.utf8), sourceID: "x", catalog: nil, fetchedAt: 0)
        }
        #expect(noStations.kind == .validation)
        #expect(noStations.message == "station_status.json has no data.stations array")

        let partial = try GBFSParser.stationStatus(
            Array(
                #"{"last_updated": 10, "data": {"stations": [{"station_id": "a", "num_bikes_available": -2, "num_docks_available": 1, "is_installed": true, "is_renting": true, "is_returning": true}, {"num_bikes_available": 1}, {"station_id": "ok", "num_bikes_available": 3, "num_docks_available": 1, "is_installed": 1, "is_renting": 0, "is_returning": 0}, {"station_id": "kept", "num_bikes_available": 2, "num_docks_available": -1, "last_reported": -5}]}}"#
                    .utf8), sourceID: "x", catalog: nil, fetchedAt: 0)
        #expect(partial.stations.map(\.stationID) == ["ok", "kept"])
        #expect(partial.stations.first?.status == .closed)
        #expect(partial.stations.first?.observedAt == 10_000)
        #expect(
            partial.rejected == [
                Rejection(entity: "a", reason: "num_bikes_available -2 is negative"),
                Rejection(entity: "stations[1]", reason: "station_id is missing"),
                Rejection(entity: "kept", reason: "num_docks_available -1 is negative", field: "num_docks_available"),
                Rejection(
                    entity: "kept", reason: "is_installed, is_renting, is_returning missing; taken as true",
                    field: "is_installed,is_renting,is_returning"),
                Rejection(
                    entity: "kept", reason: "last_reported -5 is not a valid time; the feed's time is used",
                    field: "last_reported"),
            ])
        // A station with usable counts is kept without the fields that are not.
        let kept = try #require(partial.stations.last)
        #expect(kept.bikesAvailable == 2 && kept.docksAvailable == nil && kept.status == .inService)
        #expect(kept.observedAt == 10_000)
    }
}
