import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("GTFS-Realtime on real captures")
struct GTFSRealtimeParserTests {
    @Test("Carris Metropolitana (Lisbon) alerts: 82 disruptions, Portuguese texts, periods and routes")
    func carrisAlerts() throws {
        let feed = try GTFSRealtimeParser.parse(
            Fixtures.bytes("gtfs-rt/carris-metropolitana-lisbon-2023-07/alerts.pb"), sourceID: "carris", fetchedAt: 0)
        #expect(feed.entityCount == 82 && feed.rejected.isEmpty)
        #expect(feed.timestamp == 1_690_035_764_000 && feed.version == "2.0")
        #expect(feed.batch.disruptions.count == 82)
        #expect(feed.batch.departures.isEmpty && feed.batch.vehicles.isEmpty)
        #expect(feed.batch.transitSnapshot && feed.batch.transitObservedAt == 1_690_035_764_000)
        let first = try #require(feed.batch.disruptions.first)
        #expect(first.id == "CarrisMetropolitanaGTFSAlerts-5485")
        #expect(first.cause == "maintenance" && first.effect == "stop_moved")
        #expect(first.header == "Área 3, Seixal: Festa dos Redondos")
        #expect(first.periods == [Disruption.Period(start: 1_691_020_800_000, end: 1_691_280_000_000)])
        #expect(first.entities.count == 6)
        #expect(first.routeIDs.prefix(2) == ["3110_0", "3120_0"])
        #expect(first.isActive(at: 1_691_100_000_000) && !first.isActive(at: 1_690_035_764_000))
    }

    @Test("CATA alerts: 6 alerts naming routes and stops; a feed with zero entities is a valid empty snapshot")
    func cataAlerts() throws {
        let six = try GTFSRealtimeParser.parse(
            Fixtures.bytes("gtfs-rt/edge-cases/cata-alerts-6-entities.pb"), sourceID: "cata", fetchedAt: 0)
        #expect(six.batch.disruptions.count == 6 && six.rejected.isEmpty)
        let first = try #require(six.batch.disruptions.first)
        #expect(first.id == "alert-1769006771" && first.header == "test")
        #expect(first.cause == "unknown_cause" && first.effect == "no_service")
        #expect(first.periods.isEmpty && first.isActive(at: 0))
        #expect(first.entities.first == Disruption.Entity(routeID: "22", stopID: "12", tripID: "1234"))

        let empty = try GTFSRealtimeParser.parse(
            Fixtures.bytes("gtfs-rt/edge-cases/cata-alerts-zero-entities.pb"), sourceID: "cata", fetchedAt: 0)
        #expect(empty.entityCount == 0 && empty.batch.count == 0)
        #expect(empty.batch.transitSnapshot && empty.batch.hasTransit)  // clears the source's alerts
        #expect(empty.timestamp == 1_769_030_357_000)
    }

    @Test("USF Bull Runner vehicle positions: 10 vehicles, header time when the vehicle has none")
    func bullrunnerVehicles() throws {
        let feed = try GTFSRealtimeParser.parse(
            Fixtures.bytes("gtfs-rt/usf-bullrunner/bullrunner-vehicle-positions.pb"), sourceID: "usf", fetchedAt: 0)
        #expect(feed.version == "1.0" && feed.batch.vehicles.count == 10 && feed.rejected.isEmpty)
        let first = try #require(feed.batch.vehicles.first)
        #expect(first.vehicleID == "1536" && first.routeID == "F")
        #expect(abs(first.latitude - 28.066221) < 1e-5 && abs(first.longitude - -82.417694) < 1e-5)
        #expect(first.bearing == 180 && (first.speed ?? 0) == 0)
        #expect(first.observedAt == 1_505_314_375_000)
    }

    @Test("the specification's trip updates: stops by sequence, delays, trip-level relationships")
    func specTripUpdates() throws {
        let text = try String(decoding: Fixtures.bytes("gtfs-rt/spec/example-trip-updates-full.asciipb"), as: UTF8.self)
        let feed = try GTFSRealtimeParser.parse(textFormat: text, sourceID: "spec", fetchedAt: 0)
        #expect(feed.batch.departures.count == 5 && feed.rejected.isEmpty)
        let first = feed.batch.departures.filter { $0.tripID == "trip-1" }
        #expect(first.map(\.stopID) == ["#3", "#8", "#10"])
        #expect(first.map(\.delaySeconds) == [5, 1, nil])
        #expect(first.allSatisfy { $0.relationship == "scheduled" && $0.expectedAt == nil })
        let second = feed.batch.departures.filter { $0.tripID == "frequency-expanded-trip" }
        #expect(second.map(\.delaySeconds) == [-2, nil])
        #expect(feed.timestamp == 1_284_457_468_000)
    }

    @Test("the specification's alert example")
    func specAlert() throws {
        let text = try String(decoding: Fixtures.bytes("gtfs-rt/spec/example-alerts.asciipb"), as: UTF8.self)
        let feed = try GTFSRealtimeParser.parse(textFormat: text, sourceID: "spec", fetchedAt: 0)
        #expect(feed.batch.disruptions.count == 1)
        #expect(feed.batch.disruptions.first?.header?.isEmpty == false)
    }

    @Test("not protobuf, or protobuf without a header: rejected with the reason")
    func invalid() throws {
        let garbage = #expect(throws: FetchError.self) {
            _ = try GTFSRealtimeParser.parse(Array("<html>oops</html>".utf8), sourceID: "s", fetchedAt: 0)
        }
        #expect(garbage?.kind == .decode)
        // The static GTFS zip of the invalid fixtures is not a FeedMessage either.
        let zip = #expect(throws: FetchError.self) {
            _ = try GTFSRealtimeParser.parse(
                Fixtures.bytes("invalid/gtfs/gtfs-rt-validator-badgtfs.zip"), sourceID: "s", fetchedAt: 0)
        }
        #expect(zip?.kind == .decode, "\(String(describing: zip))")
        let headerless = #expect(throws: FetchError.self) {
            _ = try GTFSRealtimeParser.parse([], sourceID: "s", fetchedAt: 0)
        }
        #expect(
            headerless?.kind == .validation && headerless?.message.contains("required") == true,
            "\(String(describing: headerless))")
    }
}
