import Foundation
import HTTPTypes
import HummingbirdTesting
import MetropulseCore
import MetropulseSQLite
import Testing

@testable import MetropulseAPI

@Suite("The database summary, in process")
struct DatabaseSummaryAPITests {
    @Test("tasks by state, workers by health and status, tables, observations per kind, sizes")
    func summary() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        let now = TestAPI.now
        try await api.store.enqueue(
            [NewTask(jobID: "a@1", sourceID: "a", priority: 0, runAt: now - 10_000, maxAttempts: 3)], now: now - 10_000)
        let workers: [(String, Int64, WorkerStatus)] = [
            ("w-1", now - 1_000, .running), ("w-2", now - 3_600_000, .running), ("w-3", now - 2_000, .paused),
        ]
        for (id, seen, status) in workers {
            try await api.store.upsertHeartbeat(
                WorkerHeartbeat(
                    workerID: id, host: "h", pid: 1, status: status, concurrency: 4, inFlight: 0, processed: 0,
                    failed: 0, fetchRate: 0, errorsLastMinute: 0, cpuSeconds: 0, memoryBytes: 0, startedAt: 0,
                    lastSeenAt: seen))
        }
        let station = StationObservation(
            sourceID: "bikes", stationID: "1", bikesAvailable: 3, docksAvailable: 7, isInstalled: true, isRenting: true,
            isReturning: true, observedAt: now - 60_000)
        try await api.write(ObservationBatch(stations: [station]), source: "bikes", at: now - 60_000)
        try await api.test { client in
            let summary = try await client.get("/api/system/db/summary", as: DatabaseBoard.SummaryDTO.self)
            #expect(summary.backend == "sqlite")
            #expect(summary.tasks.queued == 1 && summary.tasks.total == 1)
            #expect(summary.workers.total == 3 && summary.workers.healthy == 2 && summary.workers.down == 1)
            #expect(summary.workers.byStatus == ["running": 2, "paused": 1])
            #expect(summary.workers.slots == 8, "the slots of the workers not down")
            let stations = try #require(summary.observations.first { $0.kind == "stations" })
            #expect(stations.lastHour == 1 && stations.lastDay == 1 && stations.basis == "history")
            #expect(summary.tables.first { $0.name == "tasks" }?.rows == 1)
            #expect(summary.tables.first { $0.name == "worker_heartbeats" }?.rows == 3)
            #expect(summary.databaseBytes > 0 && summary.walBytes != nil)
            #expect(summary.generatedAt == Timestamp.iso8601(now))
            try await client.execute(uri: "/api/system/db/summary", method: .get) {
                #expect($0.status == .unauthorized)
            }
        }
    }
}
