import MetropulseCore
import Testing

@Suite("City zones")
struct CityZoneTests {
    static let city = City(
        id: "c",
        zones: [
            City.Zone(
                id: "square",
                polygon: [
                    GeoPoint(latitude: 0, longitude: 0), GeoPoint(latitude: 0, longitude: 1),
                    GeoPoint(latitude: 1, longitude: 1), GeoPoint(latitude: 1, longitude: 0),
                ]),
            City.Zone(id: "north", point: GeoPoint(latitude: 3, longitude: 0.5)),
            City.Zone(id: "east", point: GeoPoint(latitude: 0.5, longitude: 3)),
        ])

    @Test("a point inside a polygon belongs to it; outside, to the nearest zone")
    func assignment() {
        #expect(Self.city.zone(for: GeoPoint(latitude: 0.5, longitude: 0.5)) == "square")
        #expect(Self.city.zone(for: GeoPoint(latitude: 2.6, longitude: 0.5)) == "north")
        #expect(Self.city.zone(for: GeoPoint(latitude: 0.5, longitude: 2.2)) == "east")
        // Just outside the square, nearer its centre than the points.
        #expect(Self.city.zone(for: GeoPoint(latitude: 1.1, longitude: 0.5)) == "square")
        #expect(City(id: "empty", zones: []).zone(for: GeoPoint(latitude: 0, longitude: 0)) == nil)
    }

    @Test("readings with a position move to their zone; others keep theirs")
    func attach() {
        var batch = ObservationBatch(measurements: [
            CityMeasurement(
                sourceID: "s", zone: "s", metric: "t", value: 1, unit: nil, observedAt: 0,
                location: GeoPoint(latitude: 0.2, longitude: 0.9)),
            CityMeasurement(sourceID: "s", zone: "record-7", metric: "t", value: 2, unit: nil, observedAt: 0),
        ])
        batch.attachZones(of: Self.city)
        #expect(batch.measurements.map(\.zone) == ["square", "record-7"])
    }
}
