import Foundation
import Hummingbird
import HummingbirdTesting
import MetropulseCore
import MetropulseSQLite
import Testing

@testable import MetropulseAPI

@Suite("Transit endpoints through the read model, in process")
struct TransitEndpointTests {
    static let now = TestAPI.now
    static let sources = [
        SourceDefinition(id: "metro", kind: .gtfsRT, urls: ["http://127.0.0.1:1/tu.pb"], tags: ["network": "paris"]),
        SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"]),
    ]

    static func network() async throws -> TestAPI {
        let api = try TestAPI(sources: sources)
        let observed = now - 20_000
        func departure(_ trip: String, stop: String, sequence: Int, route: String, inSeconds: Int64) -> Departure {
            Departure(
                sourceID: "metro", stopID: stop, stopSequence: sequence, routeID: route, tripID: trip,
                scheduledAt: now + inSeconds * 1000 - 60_000, expectedAt: now + inSeconds * 1000, delaySeconds: 60,
                relationship: "scheduled", observedAt: observed)
        }
        try await api.write(
            ObservationBatch(
                departures: [
                    departure("t1", stop: "A", sequence: 1, route: "M1", inSeconds: 60),
                    departure("t1", stop: "B", sequence: 2, route: "M1", inSeconds: 180),
                    departure("t2", stop: "A", sequence: 1, route: "M1", inSeconds: 300),
                    departure("t3", stop: "C", sequence: 1, route: "M2", inSeconds: 120),
                ],
                vehicles: [
                    VehiclePosition(
                        sourceID: "metro", vehicleID: "v1", routeID: "M1", tripID: "t1", latitude: 48.85,
                        longitude: 2.35, bearing: 90, observedAt: observed)
                ],
                disruptions: [
                    Disruption(
                        sourceID: "metro", id: "works", effect: "reduced_service", header: "Works on M1",
                        periods: [.init(start: now - 3_600_000, end: now + 3_600_000)],
                        entities: [.init(routeID: "M1")], observedAt: observed),
                    Disruption(
                        sourceID: "metro", id: "strike", effect: "no_service", header: "Strike",
                        entities: [.init(agencyID: "ratp")], observedAt: observed),
                ], transitSnapshot: true, transitObservedAt: observed),
            source: "metro")
        return api
    }

    @Test("lines: every line with its status, worst effect and counts; a snapshot orders the stops")
    func lines() async throws {
        let api = try await Self.network()
        defer { api.close() }
        try await api.test { client in
            let list = try await client.get("/api/lines", as: TransitBoard.LineList.self)
            #expect(list.lines.map(\.line) == ["M1", "M2"])
            let m1 = try #require(list.lines.first)
            #expect(m1.network == "paris" && m1.status == "disrupted" && m1.effect == "reduced_service")
            #expect(m1.departures == 3 && m1.vehicles == 1 && m1.activeDisruptions == 1)
            #expect(list.lines.last?.status == "normal")

            let snapshot = try await client.get(
                "/api/snapshots/paris/M1?per_stop=1", as: TransitBoard.LineSnapshot.self)
            #expect(snapshot.stops.map(\.stopId) == ["A", "B"])
            #expect(snapshot.stops.allSatisfy { $0.departures.count == 1 })
            #expect(snapshot.stops.first?.departures.first?.inMinutes == 1)
            #expect(snapshot.dataAgeSeconds == 20)
            #expect(snapshot.status == "disrupted")
        }
    }

    @Test("traffic, departures at a stop and vehicles answer from the same read model")
    func trafficDeparturesVehicles() async throws {
        let api = try await Self.network()
        defer { api.close() }
        try await api.test { client in
            let traffic = try await client.get("/api/traffic/status", as: TransitBoard.TrafficStatus.self)
            #expect(traffic.lines.map(\.line) == ["M1"])
            #expect(traffic.other.map(\.id) == ["strike"])
            let atStop = try await client.get("/api/stops/A/departures?limit=1", as: TransitBoard.DepartureList.self)
            #expect(atStop.count == 1 && atStop.departures.first?.tripId == "t1")
            let vehicles = try await client.get("/api/vehicles?line=M1", as: TransitBoard.VehicleList.self)
            #expect(vehicles.vehicles.map(\.vehicleId) == ["v1"])
            #expect(vehicles.vehicles.first?.network == "paris" && vehicles.vehicles.first?.dataAgeSeconds == 20)
        }
    }

    @Test("an unknown network is a 404 naming the known ones; a bad parameter is a 400 naming it")
    func errors() async throws {
        let api = try await Self.network()
        defer { api.close() }
        try await api.test { client in
            let missing = try await client.get("/api/snapshots/nowhere/M1", as: ErrorBody.self, status: .notFound)
            #expect(missing.error.message.contains("unknown network 'nowhere' (known: paris)"))
            let vehicles = try await client.get("/api/vehicles?network=nowhere", as: ErrorBody.self, status: .notFound)
            #expect(vehicles.error.message.contains("unknown network"))
            let bad = try await client.get(
                "/api/snapshots/paris/M1?per_stop=0", as: ErrorBody.self, status: .badRequest)
            #expect(bad.error.message.contains("per_stop"))
        }
    }
}

@Suite("City endpoints through the read model, in process")
struct CityEndpointTests {
    @Test("cities, zones with their latest readings and age, a zone's history; unknown ones are 404s")
    func zones() async throws {
        let now = TestAPI.now
        let city = City(id: "lyon", zones: [.init(id: "centre"), .init(id: "nord")])
        let api = try TestAPI(
            sources: [
                SourceDefinition(
                    id: "weather-centre", kind: .city, urls: ["http://127.0.0.1:1/w"],
                    tags: ["city": "lyon", "zone": "centre"])
            ], cities: [city])
        defer { api.close() }
        for (minutes, temperature) in [(30, 11.0), (10, 12.5)] {
            let at = now - Int64(minutes) * 60_000
            try await api.write(
                ObservationBatch(measurements: [
                    CityMeasurement(
                        sourceID: "weather-centre", zone: "centre", metric: "temperature", value: temperature,
                        unit: "°C", observedAt: at)
                ]), source: "weather-centre", at: at + 1_000)
        }
        try await api.test { client in
            let cities = try await client.get("/api/cities", as: CityBoard.CityList.self)
            #expect(cities.cities.map(\.city) == ["lyon"])
            #expect(cities.cities.first?.zones == ["centre", "nord"])
            let zones = try await client.get("/api/cities/lyon/zones", as: CityBoard.ZoneList.self)
            #expect(zones.zones.map(\.zone) == ["centre", "nord"])
            let centre = try #require(zones.zones.first)
            #expect(centre.metrics.map(\.value) == [12.5])
            #expect(centre.dataAgeSeconds == 600)
            #expect(zones.zones.last?.metrics.isEmpty == true)
            let history = try await client.get(
                "/api/cities/lyon/zones/centre/history?metric=temperature", as: CityBoard.History.self)
            #expect(history.readings.map(\.value).sorted() == [11.0, 12.5])
            let unknown = try await client.get("/api/cities/paris/zones", as: ErrorBody.self, status: .notFound)
            #expect(unknown.error.message.contains("unknown city 'paris' (known: lyon)"))
            let noZone = try await client.get(
                "/api/cities/lyon/zones/sud/history", as: ErrorBody.self, status: .notFound)
            #expect(noZone.error.message.contains("unknown zone 'sud'"))
        }
    }
}

@Suite("Operator endpoints through the read model, in process")
struct OperationsEndpointTests {
    @Test("the fleet's health from heartbeat age and status; the queue's tasks and lag; no scheduler yet")
    func fleetAndQueue() async throws {
        let now = TestAPI.now
        let api = try TestAPI(sources: [])
        defer { api.close() }
        // Heartbeats every 10 s (the default): late by more than 25 s is behind, 60 s down.
        for (id, age, status) in [
            ("fresh", 3_000, WorkerStatus.running), ("late", 30_000, .running), ("gone", 70_000, .running),
            ("stuck", 1_000, .stalled),
        ] as [(String, Int64, WorkerStatus)] {
            try await api.store.upsertHeartbeat(
                WorkerHeartbeat(
                    workerID: id, host: "h", pid: 1, status: status, concurrency: 4, inFlight: 0, processed: 0,
                    failed: 0, fetchRate: 0, errorsLastMinute: 0, cpuSeconds: 0, memoryBytes: 0,
                    startedAt: now - 100_000, lastSeenAt: now - age))
        }
        try await api.store.enqueue(
            [NewTask(jobID: "j1", sourceID: "s", runAt: now - 4_000), NewTask(jobID: "j2", sourceID: "s", runAt: now)],
            now: now - 5_000)
        try await api.test { client in
            let fleet = try await client.get("/api/system/workers", as: OperationsBoard.WorkerList.self)
            let health = Dictionary(uniqueKeysWithValues: fleet.workers.map { ($0.workerId, $0.health) })
            #expect(health == ["fresh": "healthy", "late": "behind", "gone": "down", "stuck": "behind"])
            let queue = try await client.get("/api/system/queue", as: OperationsBoard.QueueDTO.self)
            #expect(queue.queued == 2 && queue.running == 0)
            #expect(queue.oldestWaitingAgeSeconds == 4)
            let tasks = try await client.get("/api/system/tasks?state=queued", as: OperationsBoard.TaskList.self)
            #expect(tasks.tasks.map(\.jobId).sorted() == ["j1", "j2"])
            let scheduler = try await client.get("/api/system/scheduler", as: OperationsBoard.SchedulerDTO.self)
            #expect(scheduler.state == "never" && scheduler.leader == nil)
            let bad = try await client.get("/api/system/tasks?state=sleeping", as: ErrorBody.self, status: .badRequest)
            #expect(bad.error.message.contains("state"))
        }
    }
}

@Suite("Station endpoints through the read model, in process")
struct StationEndpointTests {
    @Test("latest values nearest first, one station with the run that fetched it, its history; errors name the field")
    func stations() async throws {
        let now = TestAPI.now
        let api = try TestAPI(sources: [
            SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        func station(_ id: String, lat: Double, bikes: Int, at: Int64) -> StationObservation {
            StationObservation(
                sourceID: "velib", stationID: id, name: "Station \(id)", latitude: lat, longitude: 2.35, capacity: 20,
                bikesAvailable: bikes, docksAvailable: 20 - bikes, isInstalled: true, isRenting: true,
                isReturning: true, observedAt: at)
        }
        for (minutes, bikes) in [(5, 3), (1, 7)] {
            let at = now - Int64(minutes) * 60_000
            try await api.write(
                ObservationBatch(stations: [
                    station("near", lat: 48.8566, bikes: bikes, at: at), station("far", lat: 48.8666, bikes: 1, at: at),
                ]), source: "velib", at: at + 500)
        }
        try await api.test { client in
            let list = try await client.get(
                "/api/stations?near=48.8566,2.35&radius_m=5000", as: StationBoard.StationList.self)
            #expect(list.stations.map(\.id) == ["near", "far"])
            #expect(list.stations.first?.bikesAvailable == 7 && list.stations.first?.distanceM == 0)
            let detail = try await client.get("/api/stations/velib/near", as: StationBoard.StationDetail.self)
            #expect(detail.station.ageSeconds == 60 && detail.fetchAgeSeconds == 59.5)
            #expect(detail.run?.id == "velib@\(now - 60_000 + 500)")
            let history = try await client.get(
                "/api/stations/velib/near/history", as: StationBoard.StationHistory.self)
            #expect(history.observations.map(\.bikesAvailable).sorted() == [3, 7])
            let unknown = try await client.get("/api/stations/nowhere/near", as: ErrorBody.self, status: .notFound)
            #expect(unknown.error.message.contains("unknown source 'nowhere'"))
            let bad = try await client.get("/api/stations?near=91,0", as: ErrorBody.self, status: .badRequest)
            #expect(bad.error.message.contains("near"))
        }
    }
}
