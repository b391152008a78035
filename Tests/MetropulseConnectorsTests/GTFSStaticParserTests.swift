import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("Static GTFS names")
struct GTFSStaticParserTests {
    @Test("USF Bull Runner: stops, routes and agency, names as published, trimmed")
    func bullRunner() throws {
        let names = try GTFSStaticParser.parse(try Fixtures.bytes("gtfs-rt/usf-bullrunner/bullrunner-gtfs.zip"))
        #expect(names.stops.count == 125)
        #expect(names.routes.count == 6)
        #expect(names.agencies == ["USF Bull Runner"])
        #expect(names.stops["101"]?.name == "Math & Engineering")
        #expect(names.stops["101"]?.latitude == 28.0591746914)
        #expect(names.stops["101"]?.longitude == -82.4134214222)
        let route = try #require(names.routes["A"])
        #expect(route.shortName == "A")
        #expect(route.longName == "Green Campus Loop")
        #expect(route.type == 3)
        #expect(route.color == "00573C")
    }

    @Test("the real-time vehicles of the same feed name routes the static feed knows")
    func bullRunnerVehicles() throws {
        let names = try GTFSStaticParser.parse(try Fixtures.bytes("gtfs-rt/usf-bullrunner/bullrunner-gtfs.zip"))
        let feed = try GTFSRealtimeParser.parse(
            try Fixtures.bytes("gtfs-rt/usf-bullrunner/bullrunner-vehicle-positions.pb"), sourceID: "usf",
            fetchedAt: 0)
        let routes = Set(feed.batch.vehicles.compactMap(\.routeID))
        #expect(!routes.isEmpty)
        #expect(routes.allSatisfy { names.routes[$0] != nil })
    }

    @Test("Google's sample feed: short and long names, agency")
    func googleSample() throws {
        let names = try GTFSStaticParser.parse(try Fixtures.bytes("gtfs-static/google-sample-feed-1.zip"))
        #expect(names.stops.count == 9)
        #expect(names.routes.count == 5)
        #expect(names.agencies == ["Demo Transit Authority"])
        #expect(names.stops["FUR_CREEK_RES"]?.name == "Furnace Creek Resort (Demo)")
        #expect(names.routes["AB"]?.shortName == "10")
        #expect(names.routes["AB"]?.name == "10")
        #expect(names.routes["AB"]?.longName == "Airport - Bullfrog")
    }

    @Test("a zip without stops.txt is rejected, naming what it holds")
    func badZip() throws {
        let bytes = try Fixtures.bytes("invalid/gtfs/gtfs-rt-validator-badgtfs.zip")
        let error = try #require(throws: FetchError.self) { try GTFSStaticParser.parse(bytes) }
        #expect(error.kind == .validation)
        #expect(error.message.contains("no stops.txt"))
        #expect(error.message.contains("bad_stops.txt"))
    }

    @Test("bytes that are not a zip are a decode error")
    func notAZip() throws {
        let error = try #require(throws: FetchError.self) { try GTFSStaticParser.parse(Array("stop_id\n".utf8)) }
        #expect(error.kind == .decode)
        #expect(error.message.contains("not a zip"))
    }
}
