import MetropulseCore
import Testing

@Suite("Packed station blocks")
struct StationBlockTests {
    static func station(
        _ id: String, bikes: Int, at observedAt: Int64, name: String? = "Gare de l’Est – Nord", docks: Int? = 12
    ) -> StationObservation {
        StationObservation(
            sourceID: "velib", stationID: id, code: name == nil ? nil : "C\(id)", name: name,
            latitude: name == nil ? nil : 48.876_543_21, longitude: name == nil ? nil : 2.358_765_4,
            capacity: name == nil ? nil : 35, bikesAvailable: bikes, mechanicalAvailable: bikes > 2 ? 2 : nil,
            ebikesAvailable: bikes > 2 ? bikes - 2 : nil, docksAvailable: docks, isInstalled: bikes != 7,
            isRenting: bikes % 2 == 0, isReturning: true, observedAt: observedAt)
    }

    static let stations = [
        station("213688169", bikes: 4, at: 1_760_778_679_000),
        station("1", bikes: 0, at: -5, name: nil, docks: nil),
        station("4294967297", bikes: 7, at: 1_760_778_000_000),
        station("x", bikes: 3, at: 0),
    ]

    @Test("a raw block gives back every observation, status and occupancy included")
    func rawRoundTrip() throws {
        let bytes = StationBlock.encodeRaw(Self.stations)
        let decoded = try StationBlock.decodeRaw(bytes, sourceID: "velib")
        // The raw tier keeps availability; names and places live in the latest tier.
        let expected = Self.stations.map { s in
            StationObservation(
                sourceID: s.sourceID, stationID: s.stationID, capacity: s.capacity, bikesAvailable: s.bikesAvailable,
                mechanicalAvailable: s.mechanicalAvailable, ebikesAvailable: s.ebikesAvailable,
                docksAvailable: s.docksAvailable, isInstalled: s.isInstalled, isRenting: s.isRenting,
                isReturning: s.isReturning, observedAt: s.observedAt)
        }
        #expect(decoded == expected)
        #expect(decoded.map(\.status) == Self.stations.map(\.status))
        #expect(decoded.map(\.occupancyRate) == Self.stations.map(\.occupancyRate))
        #expect(bytes.count < 30 * Self.stations.count)
    }

    @Test("one station is found in a raw block without the others")
    func findOne() throws {
        let bytes = StationBlock.encodeRaw(Self.stations)
        let found = try StationBlock.rawObservations(of: "4294967297", in: bytes, sourceID: "velib")
        #expect(found.map(\.bikesAvailable) == [7])
        #expect(found.first?.status == .outOfService)
        #expect(try StationBlock.rawObservations(of: "42949672", in: bytes, sourceID: "velib").isEmpty)
        #expect(try StationBlock.decodeRaw(StationBlock.encodeRaw([]), sourceID: "velib").isEmpty)
    }

    @Test("a latest block keeps descriptive fields and each station's run")
    func latestRoundTrip() throws {
        var latest = LatestStations()
        _ = latest.merge(Array(Self.stations.prefix(2)), fetchedAt: 100, runID: "run-a")
        _ = latest.merge(Array(Self.stations.suffix(2)), fetchedAt: 200, runID: "run-b")
        let decoded = try LatestStations(
            state: latest.encodedState(), details: latest.encodedDetails(), sourceID: "velib")
        #expect(decoded.stations == latest.stations)
        #expect(decoded.station("213688169")?.runID == "run-a")
        #expect(decoded.station("x")?.fetchedAt == 200)
        #expect(decoded.station("C4294967297")?.observation.stationID == "4294967297")
        #expect(decoded.station("nope") == nil)
    }

    @Test("merging keeps newer observations as history and drops older ones")
    func mergeRules() {
        var latest = LatestStations()
        let first = latest.merge([Self.station("a", bikes: 1, at: 10)], fetchedAt: 11, runID: "r1")
        #expect(first.fresh.count == 1 && first.changed && first.detailsChanged)
        let again = latest.merge([Self.station("a", bikes: 1, at: 10)], fetchedAt: 11, runID: "r1")
        #expect(again.fresh.isEmpty && !again.changed)
        let refetched = latest.merge([Self.station("a", bikes: 1, at: 10)], fetchedAt: 21, runID: "r2")
        #expect(refetched.fresh.isEmpty && refetched.changed)
        #expect(latest.station("a")?.runID == "r2")
        let older = latest.merge([Self.station("a", bikes: 5, at: 5)], fetchedAt: 31, runID: "r3")
        #expect(older.fresh.isEmpty && !older.changed)
        let newer = latest.merge(
            [Self.station("a", bikes: 2, at: 20), Self.station("a", bikes: 3, at: 30)], fetchedAt: 41, runID: "r4")
        #expect(newer.fresh.map(\.bikesAvailable) == [2, 3])
        #expect(newer.changed && !newer.detailsChanged)
        let renamed = latest.merge([Self.station("a", bikes: 3, at: 40, name: "Renamed")], fetchedAt: 51, runID: "r5")
        #expect(renamed.changed && renamed.detailsChanged)
        #expect(latest.station("a")?.observation.bikesAvailable == 3)
    }

    @Test("damaged bytes are an error, not a crash")
    func damaged() {
        let bytes = StationBlock.encodeRaw(Self.stations)
        #expect(throws: StationBlockError.self) {
            try StationBlock.decodeRaw(Array(bytes.prefix(bytes.count - 3)), sourceID: "velib")
        }
        #expect(throws: StationBlockError.unknownFormat(9)) {
            try StationBlock.decodeRaw([9, 0], sourceID: "velib")
        }
        var latest = LatestStations()
        _ = latest.merge(Self.stations, fetchedAt: 1, runID: "r")
        let state = latest.encodedState()
        let details = latest.encodedDetails()
        #expect(throws: StationBlockError.self) { try LatestStations(state: bytes, details: details, sourceID: "v") }
        #expect(throws: StationBlockError.self) {
            try LatestStations(state: [3, 0xFF, 0xFF, 0xFF], details: details, sourceID: "v")
        }
        // Details that do not belong to the state.
        #expect(throws: StationBlockError.self) {
            try LatestStations(state: state, details: LatestStations().encodedDetails(), sourceID: "v")
        }
        var other = LatestStations()
        _ = other.merge(Self.stations.reversed(), fetchedAt: 1, runID: "r")
        #expect(throws: StationBlockError.self) {
            try LatestStations(state: state, details: other.encodedDetails(), sourceID: "v")
        }
    }
}
