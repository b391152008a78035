import Foundation
import Hummingbird
import HummingbirdTesting
import MetropulseAPI
import MetropulseCore
import Testing

@testable import MetropulseWeb

@Suite("The live map's feed: a snapshot first, then only what changed")
struct LiveFeedTests {
    @Test("changed stations only; vehicles that left are removed; a subscriber past the tombstones gets a snapshot")
    func changes() async throws {
        let site = try TestSite(sources: [
            SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"]),
            SourceDefinition(id: "metro", kind: .gtfsRT, urls: ["http://127.0.0.1:1/vp.pb"]),
        ])
        let feed = site.environment.live
        let topics = Set(LiveFeed.Topic.allCases)
        var now = site.clock.now
        try await site.write(
            ObservationBatch(stations: (1...3).map { TestSite.station("s\($0)", bikes: $0, at: now - 5_000) }),
            source: "velib", at: now - 1_000)
        func vehicle(_ id: String, lat: Double) -> VehiclePosition {
            VehiclePosition(
                sourceID: "metro", vehicleID: id, routeID: "M1", latitude: lat, longitude: 2.35, observedAt: now - 2_000
            )
        }
        try await site.write(
            ObservationBatch(
                vehicles: [vehicle("v1", lat: 48.85), vehicle("v2", lat: 48.86)], transitSnapshot: true,
                transitObservedAt: now - 2_000),
            source: "metro", at: now - 1_000)
        await feed.refresh(now: now)
        let first = await feed.changes(since: nil, topics: topics, sourceIDs: nil, now: now)
        #expect(first.snapshot)
        #expect(first.stations?.count == 3)
        #expect(first.vehicles?.count == 2)
        #expect(first.sources?.count == 2)

        // Nothing new: nothing to send.
        now += 2_000
        await feed.refresh(now: now)
        #expect(await feed.changes(since: first.version, topics: topics, sourceIDs: nil, now: now).isEmpty)

        // One station changes, one vehicle leaves and the other moves.
        now += 2_000
        try await site.write(
            ObservationBatch(stations: [TestSite.station("s2", bikes: 0, at: now - 500)]), source: "velib",
            at: now - 400)
        try await site.write(
            ObservationBatch(
                vehicles: [vehicle("v1", lat: 48.851)], transitSnapshot: true, transitObservedAt: now - 300),
            source: "metro", at: now - 300)
        await feed.refresh(now: now)
        let update = await feed.changes(since: first.version, topics: topics, sourceIDs: nil, now: now)
        #expect(!update.snapshot)
        #expect(update.stations?.map(\.key) == ["velib/s2"])
        #expect(update.stations?.first?.bikes == 0)
        #expect(update.vehicles?.map(\.key) == ["metro/v1"])
        #expect(update.removedVehicles == ["metro/v2"])

        // Filtered to one source.
        let only = await feed.changes(
            since: first.version, topics: [.stations, .vehicles], sourceIDs: ["velib"], now: now)
        #expect(only.stations?.count == 1 && only.vehicles?.isEmpty == true && only.sources == nil)

        // Long after, the tombstone is gone: a subscriber that saw only the first state is sent a snapshot.
        now += 11 * 60_000
        await feed.refresh(now: now)
        let late = await feed.changes(since: first.version, topics: topics, sourceIDs: nil, now: now)
        #expect(late.snapshot)
        #expect(late.vehicles?.map(\.key) == ["metro/v1"])
    }

    @Test("GET /api/stream refuses unknown topics and sources with a 400 naming the field")
    func badRequests() async throws {
        let site = try TestSite(sources: [SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/g"])])
        try await site.test { client in
            try await client.execute(uri: "/api/stream?topics=stations,weather", method: .get) {
                #expect($0.status == .badRequest)
                #expect($0.text.contains("topics"))
            }
            try await client.execute(uri: "/api/stream?source=nope", method: .get) {
                #expect($0.status == .badRequest)
                #expect($0.text.contains("source"))
            }
            try await client.execute(uri: "/api/stream", method: .get, headers: [.init("Last-Event-ID")!: "x"]) {
                #expect($0.status == .badRequest)
            }
        }
    }
}
