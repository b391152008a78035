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

    @Test("a client that resumes is sent each version it missed, as it happened; past the log, a snapshot")
    func replay() async throws {
        let site = try TestSite(sources: [
            SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        let feed = site.environment.live
        let topics: Set<LiveFeed.Topic> = [.stations]
        var now = site.clock.now
        try await site.write(
            ObservationBatch(stations: (1...3).map { TestSite.station("s\($0)", bikes: $0, at: now - 5_000) }),
            source: "velib", at: now - 1_000)
        await feed.poll(now: now)
        let first = await feed.changes(since: nil, topics: topics, filter: .init(), now: now)
        // Two changes while the client is away, each read by the feed's refresher.
        now += 1_000
        try await site.write(
            ObservationBatch(stations: [TestSite.station("s1", bikes: 9, at: now - 100)]), source: "velib",
            at: now - 50)
        await feed.poll(now: now)
        now += 1_000
        try await site.write(
            ObservationBatch(stations: [
                TestSite.station("s1", bikes: 7, at: now - 100), TestSite.station("s2", bikes: 0, at: now - 100),
            ]), source: "velib", at: now - 50)
        await feed.poll(now: now)
        let missed = try #require(
            await feed.replay(since: first.version, topics: topics, filter: .init(), now: now))
        #expect(missed.events.map(\.version) == [first.version + 1, first.version + 2])
        #expect(
            missed.events.map { ($0.stations ?? []).map { "\($0.id)=\($0.bikes)" }.sorted() } == [
                ["s1=9"], ["s1=7", "s2=0"],
            ])
        #expect(missed.events.allSatisfy { !$0.snapshot && $0.runs?.isEmpty == false })
        #expect(missed.version == first.version + 2)
        // The net changes say only where things are now.
        let net = await feed.changes(since: first.version, topics: topics, filter: .init(), now: now)
        #expect(net.stations?.map { "\($0.id)=\($0.bikes)" }.sorted() == ["s1=7", "s2=0"])
        // Filters apply to what is replayed; a client up to date gets nothing.
        let filtered = await feed.replay(
            since: first.version, topics: topics, filter: .init(sourceIDs: ["other"]), now: now)
        #expect(filtered?.events.isEmpty == true)
        #expect(
            await feed.replay(since: missed.version, topics: topics, filter: .init(), now: now)?.events.isEmpty == true)
        // A waiting subscriber is woken by the next version (its continuation resumed by the poll
        // that moved the version), not by its timeout.
        let waiting = Task { await feed.waitForChange(after: missed.version, timeout: .seconds(600)) }
        while feed.waitingCount == 0 { await Task.yield() }
        now += 1_000
        try await site.write(
            ObservationBatch(stations: [TestSite.station("s3", bikes: 1, at: now - 100)]), source: "velib",
            at: now - 50)
        await feed.poll(now: now)
        #expect(feed.waitingCount == 0)
        await waiting.value
        // Past the log (older than the tombstones), no replay: the client gets the net changes.
        now += 11 * 60_000
        try await site.write(
            ObservationBatch(stations: [TestSite.station("s3", bikes: 2, at: now - 100)]), source: "velib",
            at: now - 50)
        await feed.poll(now: now)
        #expect(await feed.replay(since: first.version, topics: topics, filter: .init(), now: now) == nil)
        let late = await feed.changes(since: first.version, topics: topics, filter: .init(), now: now)
        #expect(late.stations?.map { "\($0.id)=\($0.bikes)" }.sorted() == ["s1=7", "s2=0", "s3=2"])
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

    @Test("readings, alerts and disruptions too; each value with its age and run, the run with its endpoint; filters")
    func topicsAndProvenance() async throws {
        let site = try TestSite(
            sources: [
                SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"]),
                SourceDefinition(
                    id: "metro", kind: .gtfsRT, urls: ["http://127.0.0.1:1/alerts.pb"], tags: ["network": "idfm"]),
                SourceDefinition(
                    id: "air", kind: .city, urls: ["http://127.0.0.1:1/air"], tags: ["city": "paris"]),
            ], cities: [City(id: "paris", zones: [.init(id: "centre"), .init(id: "nord")])])
        let feed = site.environment.live
        let topics = Set(LiveFeed.Topic.allCases)
        var now = site.clock.now
        var inside = TestSite.station("in", bikes: 3, at: now - 5_000)
        (inside.latitude, inside.longitude) = (48.85, 2.35)
        var outside = TestSite.station("out", bikes: 4, at: now - 5_000)
        (outside.latitude, outside.longitude) = (45.0, 5.0)
        try await site.write(
            ObservationBatch(stations: [inside, outside]), source: "velib", at: now - 1_000,
            url: "http://127.0.0.1:1/station_status.json")
        try await site.write(
            ObservationBatch(measurements: [
                CityMeasurement(
                    sourceID: "air", zone: "centre", metric: "pm2_5", value: 12, unit: "µg/m³", observedAt: now - 60_000
                ),
                CityMeasurement(
                    sourceID: "air", zone: "nord", metric: "pm2_5", value: 9, unit: "µg/m³", observedAt: now - 60_000),
            ]), source: "air", at: now - 1_000)
        try await site.write(
            ObservationBatch(
                disruptions: [
                    Disruption(
                        sourceID: "metro", id: "works", header: "Line 4 closed", entities: [.init(routeID: "4")],
                        observedAt: now - 2_000)
                ], transitSnapshot: true, transitObservedAt: now - 2_000),
            source: "metro", at: now - 1_000)
        let aqi = CityLive.Feature(
            name: "us_aqi", value: 130, unit: "AQI", observedAt: now - 60_000, sourceID: "air", runID: "r")
        let checks = CityAlerts.checks(
            zone: "nord", features: ["us_aqi": aqi], risk: CityLive.risk(["us_aqi": aqi], powerPeak: nil),
            anomalies: [])
        var alerts = CityAlerts.step(city: "paris", active: [], checks: checks, now: now - 600_000)
        alerts = CityAlerts.step(city: "paris", active: alerts, checks: checks, now: now - 300_000)
        try await site.environment.store.upsertCityAlerts(alerts)
        await feed.refresh(now: now)
        let first = await feed.changes(since: nil, topics: topics, filter: LiveFeed.Filter(), now: now)
        #expect(first.stations?.count == 2 && first.readings?.count == 2 && first.disruptions?.count == 1)
        #expect(Set(first.alerts?.map(\.zone) ?? []) == ["nord"] && first.alerts?.first?.state == "open")
        let station = try #require(first.stations?.first { $0.id == "in" })
        #expect(station.run == "velib@\(now - 1_000)" && station.fetched == now - 1_000 && station.age == 5)
        let run = try #require(first.runs?.first { $0.id == station.run })
        #expect(run.url == "http://127.0.0.1:1/station_status.json" && run.source == "velib")
        let reading = try #require(first.readings?.first { $0.zone == "centre" })
        #expect(
            reading.city == "paris" && reading.value == 12 && reading.age == 60 && reading.run == "air@\(now - 1_000)")
        #expect(first.disruptions?.first?.lines == ["4"] && first.disruptions?.first?.network == "idfm")
        // The task runs that finished, oldest first.
        #expect(Set(first.taskRuns?.map(\.source) ?? []) == ["velib", "air", "metro"])
        #expect(first.taskRuns?.allSatisfy { $0.status == "succeeded" && $0.finishedAt == now - 1_000 } == true)

        // Filters: a box around Paris, a zone, a line.
        let boxed = await feed.changes(
            since: nil, topics: [.stations], filter: LiveFeed.Filter(box: (48.8, 2.2, 48.9, 2.5)), now: now)
        #expect(boxed.stations?.map(\.id) == ["in"])
        let zoned = await feed.changes(
            since: nil, topics: [.readings, .alerts], filter: LiveFeed.Filter(zones: ["centre"]), now: now)
        #expect(zoned.readings?.map(\.zone) == ["centre"] && zoned.alerts?.isEmpty == true)
        let lined = await feed.changes(
            since: nil, topics: [.disruptions], filter: LiveFeed.Filter(lines: ["1"]), now: now)
        #expect(lined.disruptions?.isEmpty == true)

        // The same values fetched again by a later run: nothing to send (the run is not a change).
        now += 5_000
        try await site.write(ObservationBatch(stations: [inside, outside]), source: "velib", at: now - 1_000)
        await feed.refresh(now: now)
        #expect(
            await feed.changes(since: first.version, topics: [.stations], filter: LiveFeed.Filter(), now: now).isEmpty)
        // A reading that changes is sent alone, with its new run.
        now += 5_000
        try await site.write(
            ObservationBatch(measurements: [
                CityMeasurement(
                    sourceID: "air", zone: "centre", metric: "pm2_5", value: 30, unit: "µg/m³", observedAt: now - 2_000)
            ]), source: "air", at: now - 1_000)
        await feed.refresh(now: now)
        let update = await feed.changes(since: first.version, topics: topics, filter: LiveFeed.Filter(), now: now)
        #expect(update.readings?.map(\.value) == [30] && update.readings?.first?.run == "air@\(now - 1_000)")
        #expect(update.stations?.isEmpty == true)
        #expect(update.taskRuns?.map(\.key) == ["velib@\(now - 6_000)", "air@\(now - 1_000)"])
    }

    @Test("GET /api/stream refuses a malformed bbox with a 400 naming it")
    func badBox() async throws {
        let site = try TestSite(sources: [SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/g"])])
        try await site.test { client in
            for box in ["1,2,3", "2.4,48.9,2.2,48.8", "a,b,c,d", "200,0,210,1", "2.2,48.8,x,2.4,48.9"] {
                try await client.execute(uri: "/api/stream?bbox=\(box)", method: .get) {
                    #expect($0.status == .badRequest, "\(box)")
                    #expect($0.text.contains("bbox"))
                }
            }
        }
    }
}
