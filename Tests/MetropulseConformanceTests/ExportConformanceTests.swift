import Foundation
import Logging
import MetropulseCore
import Testing

/// Exports (`ExportStore`, `Exporter`, `ExportFormat`) on every store backend: every page in key
/// order, filters by source and time, the formats' quoting.
@Suite("Exports")
struct ExportConformanceTests {
    static let hour = StationHours.hourMillis
    /// 2026-01-05 00:00 UTC.
    static let day: Int64 = 1_767_571_200_000

    static func all(_ exporter: Exporter, _ dataset: ExportDataset, _ filter: ExportFilter = ExportFilter())
        async throws -> [[ExportValue]]
    {
        var rows: [[ExportValue]] = []
        var pages = 0
        try await exporter.export(dataset, filter: filter) { page in
            #expect(!page.isEmpty && page.count <= exporter.pageSize)
            pages += 1
            rows += page
        }
        return rows
    }

    @Test("every dataset in pages equals the rows stored, filtered by source and time", arguments: BackendFactory.all)
    func datasets(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        // Station observations: 2 sources, 3 stations, 5 fetches a minute apart.
        var results: [RunResult] = []
        for fetch in 0..<5 {
            let at = Self.day + Int64(fetch) * 60_000
            for source in ["a", "b"] {
                let stations = (1...3).map { i in
                    StationObservation(
                        sourceID: source, stationID: "s\(i)", capacity: 10, bikesAvailable: fetch + i,
                        docksAvailable: 10 - fetch - i, isInstalled: true, isRenting: true, isReturning: true,
                        observedAt: at)
                }
                results.append(
                    RunResult(
                        run: TaskRun(
                            id: "\(source)-\(fetch)", jobID: "\(source)-\(fetch)", taskID: nil, sourceID: source,
                            attempt: 1, workerID: "w", status: .succeeded, startedAt: at, finishedAt: at + 500,
                            entityCount: 3),
                        observations: ObservationBatch(stations: stations), outcome: nil))
            }
        }
        // City readings and vehicle positions.
        let readings = (0..<7).map { i in
            CityMeasurement(
                sourceID: "air", zone: i % 2 == 0 ? "north" : "south", metric: "pm25", value: Double(i) + 0.5,
                unit: "µg/m³", observedAt: Self.day + Int64(i) * 600_000)
        }
        let vehicles = (0..<4).map { i in
            VehiclePosition(
                sourceID: "bus", vehicleID: "v\(i % 2)", label: "Line, \"7\"", routeID: "7", latitude: 48.8 + Double(i),
                longitude: 2.3, observedAt: Self.day + Int64(i) * 30_000)
        }
        results.append(
            RunResult(
                run: TaskRun(
                    id: "air-1", jobID: "air-1", taskID: nil, sourceID: "air", attempt: 1, workerID: "w",
                    status: .succeeded, startedAt: Self.day, finishedAt: Self.day + 1),
                observations: ObservationBatch(measurements: readings), outcome: nil))
        for (index, vehicle) in vehicles.enumerated() {
            results.append(
                RunResult(
                    run: TaskRun(
                        id: "bus-\(index)", jobID: "bus-\(index)", taskID: nil, sourceID: "bus", attempt: 1,
                        workerID: "w", status: .succeeded, startedAt: vehicle.observedAt,
                        finishedAt: vehicle.observedAt + 1),
                    observations: ObservationBatch(vehicles: [vehicle]), outcome: nil))
        }
        try await store.write(results)

        let exporter = Exporter(store: store, pageSize: 4)
        let observations = try await Self.all(exporter, .stationObservations)
        #expect(observations.count == 30)
        #expect(observations.allSatisfy { $0.count == ExportDataset.stationObservations.header.count })
        #expect(try await exporter.estimate(.stationObservations, filter: ExportFilter()) == 30)
        let sourceB = try await Self.all(
            exporter, .stationObservations,
            ExportFilter(sourceID: "b", since: Self.day + 60_000, until: Self.day + 180_000))
        #expect(sourceB.count == 6)
        #expect(sourceB.allSatisfy { $0[0] == .text("b") })
        #expect(sourceB.first?[2] == .text(Timestamp.iso8601(Self.day + 60_000)))
        #expect(sourceB.first?[4] == .int(2))

        let zone = try await Self.all(exporter, .zoneReadings)
        #expect(zone.count == 7)
        #expect(
            zone.map { $0[1] } == Array(repeating: .text("north"), count: 4)
                + Array(repeating: .text("south"), count: 3))
        #expect(
            zone.first == [
                .text("air"), .text("north"), .text("pm25"), .text(Timestamp.iso8601(Self.day)), .real(0.5),
                .text("µg/m³"), .text(Timestamp.iso8601(Self.day + 1)),
            ])
        #expect(try await exporter.estimate(.zoneReadings, filter: ExportFilter(since: Self.day + 600_000)) == 6)
        let later = try await Self.all(exporter, .zoneReadings, ExportFilter(since: Self.day + 3_000_000))
        #expect(later.count == 2)

        let positions = try await Self.all(exporter, .vehiclePositions)
        #expect(positions.count == 4)
        #expect(positions.map { $0[1] } == [.text("v0"), .text("v0"), .text("v1"), .text("v1")])
        #expect(positions.first?[2] == .text("Line, \"7\"") && positions.first?[5] == .real(48.8))

        // The gold tier, through the jobs.
        let context = JobContext(
            jobID: "refresh_hourly", now: Self.day + 3 * Self.hour, watermark: nil, store: store, queue: backend.queue,
            logger: .init(label: "test") { _ in SwiftLogNoOpLogHandler() })
        _ = try await RefreshHourlyJob().run(context)
        let stored = try await store.stationHours(sourceID: "a", stationID: nil, since: nil, until: nil, limit: 100)
        let hours = try await Self.all(exporter, .stationHours, ExportFilter(sourceID: "a"))
        #expect(hours.count == stored.count && hours.count == 3)
        #expect(hours.first?[2] == .text(Timestamp.iso8601(Self.day)))
        #expect(hours.first?[3] == .int(Int64(stored.first?.observations ?? 0)))
        #expect(try await Self.all(exporter, .stationHours, ExportFilter(since: Self.day + Self.hour)).isEmpty)

        // The formats.
        var bytes: [UInt8] = []
        ExportFormat.csv.encode(
            Array(positions.prefix(1)), columns: ExportDataset.vehiclePositions.header, into: &bytes)
        let csv = String(decoding: bytes, as: UTF8.self)
        #expect(csv.hasPrefix("bus,v0,\"Line, \"\"7\"\"\",7,,48.8,2.3,,,,,2026-01-05T00:00:00.000Z\r\n"))
        bytes = []
        ExportFormat.ndjson.encode(
            Array(positions.prefix(1)), columns: ExportDataset.vehiclePositions.header, into: &bytes)
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        #expect(object?["label"] as? String == "Line, \"7\"" && object?["trip_id"] is NSNull)
        #expect(object?["latitude"] as? Double == 48.8 && object?.count == ExportDataset.vehiclePositions.header.count)
        #expect(ExportFormat.csvField("=cmd()") == "'=cmd()" && ExportFormat.csvField("-2") == "-2")
        bytes = []
        ExportFormat.ndjson.encode([[.text("a\u{1}\n\"\\")]], columns: ["x"], into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "{\"x\":\"a\\u0001\\n\\\"\\\\\"}\n")
    }
}
