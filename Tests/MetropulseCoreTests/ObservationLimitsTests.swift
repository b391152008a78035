import MetropulseCore
import Testing

@Suite("Observation limits and checked times")
struct ObservationLimitsTests {
    static let now: Int64 = 1_760_778_679_000

    @Test("empty or oversized ids are rejected, empty optional ids become absent, text is cut and cleaned")
    func identifiersAndText() {
        var batch = ObservationBatch(
            stations: [
                StationObservation(
                    sourceID: "s", stationID: "", bikesAvailable: 1, docksAvailable: 1, isInstalled: true,
                    isRenting: true, isReturning: true, observedAt: Self.now),
                StationObservation(
                    sourceID: "s", stationID: String(repeating: "x", count: 300), bikesAvailable: 1, docksAvailable: 1,
                    isInstalled: true, isRenting: true, isReturning: true, observedAt: Self.now),
                StationObservation(
                    sourceID: "s", stationID: "ok\0", code: "", name: String(repeating: "é", count: 2_000),
                    latitude: .nan, longitude: 2, bikesAvailable: 3, docksAvailable: Int.max, isInstalled: true,
                    isRenting: true, isReturning: true, observedAt: Self.now),
            ],
            departures: [
                Departure(sourceID: "s", stopID: "S1", routeID: "", tripID: "", observedAt: Self.now),
                Departure(sourceID: "s", stopID: "", routeID: "R", observedAt: Self.now),
            ],
            disruptions: [
                Disruption(
                    sourceID: "s", id: "a", header: "\0", entities: [Disruption.Entity(routeID: "")],
                    observedAt: Self.now)
            ],
            measurements: [
                CityMeasurement(
                    sourceID: "s", zone: "z", metric: "m", value: .infinity, unit: nil, observedAt: Self.now),
                CityMeasurement(sourceID: "s", zone: "", metric: "m", value: 1, unit: nil, observedAt: Self.now),
            ])
        let rejected = batch.enforceLimits()
        #expect(rejected.count == 5)
        #expect(rejected.map(\.reason).contains("station id is empty or too long"))
        #expect(rejected.map(\.reason).contains("value is not a finite number"))
        #expect(batch.stations.count == 1)
        let station = batch.stations[0]
        #expect(station.stationID == "ok" && station.code == nil)
        #expect(station.name?.utf8.count == ObservationBatch.Limits.textBytes)
        #expect(station.latitude == nil && station.longitude == nil)
        #expect(station.docksAvailable == nil)
        #expect(batch.departures.count == 1 && batch.departures[0].routeID == nil && batch.departures[0].tripID == nil)
        #expect(batch.disruptions[0].header == nil && batch.disruptions[0].entities.isEmpty)
        #expect(batch.measurements.isEmpty)
    }

    @Test("an entity observed outside 1970–9999 is rejected; other times out of range are dropped")
    func times() {
        var batch = ObservationBatch(
            departures: [
                Departure(
                    sourceID: "s", stopID: "S1", scheduledAt: .max, expectedAt: -5, delaySeconds: .max,
                    observedAt: Self.now),
                Departure(sourceID: "s", stopID: "S2", observedAt: .max),
            ],
            vehicles: [
                VehiclePosition(sourceID: "s", vehicleID: "v", latitude: 91, longitude: 0, observedAt: Self.now)
            ],
            transitObservedAt: .min)
        let rejected = batch.enforceLimits()
        #expect(rejected.count == 2)
        #expect(batch.departures.map(\.stopID) == ["S1"])
        #expect(batch.departures[0].scheduledAt == nil && batch.departures[0].expectedAt == nil)
        #expect(batch.departures[0].delaySeconds == nil)
        #expect(batch.vehicles.isEmpty && batch.transitObservedAt == nil)
    }

    @Test("checked time conversions never trap")
    func conversions() {
        #expect(Timestamp.millis(seconds: Int64.max) == nil)
        #expect(Timestamp.millis(seconds: Int64.min) == nil)
        #expect(Timestamp.millis(seconds: 1e300) == nil)
        #expect(Timestamp.millis(seconds: Double.nan) == nil)
        #expect(Timestamp.millis(seconds: -1.0) == nil)
        #expect(Timestamp.millis(seconds: Int64(1_760_778_679)) == 1_760_778_679_000)
        #expect(Timestamp.millis(seconds: 1e12, in: Timestamp.representable) == nil)
        #expect(Timestamp.iso8601(.max) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.iso8601(.min) == "0001-01-01T00:00:00.000Z")
        #expect(Timestamp.parseHTTPDate("Wed, 21 Oct 99999999999999999 07:28:00 GMT") == nil)
        #expect(Timestamp.parseHTTPDate("Wed, 21 Oct 2015 07:28:00 GMT") == 1_445_412_480_000)
    }
}
