import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import MetropulseCore
import MetropulseSQLite
import NIOCore
import Testing

@testable import MetropulseAPI

@Suite("The jobs API and station statistics, in process")
struct JobsAPITests {
    static func post(_ client: any TestClientProtocol, _ uri: String, key: String = TestAPI.adminKey)
        async throws -> (HTTPResponse.Status, [String: Any])
    {
        var headers = HTTPFields()
        headers[.init("X-API-Key")!] = key
        return try await client.execute(uri: uri, method: .post, headers: headers) { response in
            let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            return (response.status, json ?? [:])
        }
    }

    @Test("jobs with their state and runs; run now, pause and resume need the admin key; unknown jobs are 404s")
    func jobs() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        let run = JobRun(
            jobID: "refresh_hourly", cycle: TestAPI.now - 300_000, trigger: .schedule, attempt: 1, status: .succeeded,
            startedAt: TestAPI.now - 299_000, finishedAt: TestAPI.now - 298_000, rowsRead: 10, rowsWritten: 3,
            detail: "rewrote 1 hours of 1 sources: 3 station-hours")
        try await api.store.recordJobRun(run)
        try await api.test { client in
            let list = try await client.get("/api/jobs", as: JobBoard.JobList.self)
            #expect(
                list.jobs.map(\.id) == [
                    "check_queue_health", "check_store_health", "refresh_hourly", "refresh_line_hours",
                    "refresh_zone_hours", "refresh_daily", "compute_station_ranking", "data_quality_check",
                    "process_city",
                ])
            let hourly = try #require(list.jobs.first { $0.id == "refresh_hourly" })
            #expect(hourly.dependsOn == ["check_store_health"] && !hourly.paused)
            #expect(hourly.lastRun?.id == run.id && hourly.lastRun?.durationMs == 1_000)
            #expect(hourly.lastSuccessAt == Timestamp.iso8601(TestAPI.now - 298_000))
            #expect(hourly.nextRunAt == Timestamp.iso8601(TestAPI.now - TestAPI.now % 300_000 + 300_000))
            let runs = try await client.get("/api/jobs/refresh_hourly/runs", as: JobBoard.JobRunList.self)
            #expect(runs.runs.map(\.rowsWritten) == [3])
            let detail = try await client.get(
                "/api/jobs/refresh_hourly/runs/\(run.id)",
                as: JobBoard.RunDetail.self)
            #expect(detail.run.detail == run.detail)

            let (refused, _) = try await Self.post(client, "/api/jobs/refresh_hourly/run", key: TestAPI.readKey)
            #expect(refused == .forbidden)
            let (accepted, body) = try await Self.post(client, "/api/jobs/refresh_hourly/run")
            #expect(accepted == .accepted && body["action"] as? String == "run requested")
            let state = try await api.store.jobStates().first { $0.jobID == "refresh_hourly" }
            #expect(state?.requestedAt == TestAPI.now && state?.requestedBy == "admin")

            let (paused, pausedBody) = try await Self.post(client, "/api/jobs/check_store_health/pause")
            #expect(paused == .ok && (pausedBody["job"] as? [String: Any])?["paused"] as? Bool == true)
            _ = try await Self.post(client, "/api/jobs/check_store_health/resume")
            #expect(try await api.store.jobStates().first { $0.jobID == "check_store_health" }?.paused == false)

            let (missing, error) = try await Self.post(client, "/api/jobs/nope/run")
            #expect(missing == .notFound)
            #expect(((error["error"] as? [String: Any])?["message"] as? String)?.hasPrefix("job: unknown job") == true)
            _ = try await client.get("/api/jobs/nope/runs", as: [String: [String: String]].self, status: .notFound)
            _ = try await client.get(
                "/api/jobs/refresh_hourly/runs?status=lost", as: [String: [String: String]].self, status: .badRequest)
        }
    }

    @Test("a station's hourly statistics once refresh_hourly ran; a wrong granularity is a 400")
    func stationStats() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        let hour = StationHours.hour(of: TestAPI.now) - StationHours.hourMillis
        for (index, bikes) in [0, 0, 5, 5].enumerated() {
            let at = hour + Int64(index) * 15 * 60_000
            try await api.write(
                ObservationBatch(stations: [
                    StationObservation(
                        sourceID: "bikes", stationID: "7", capacity: 10, bikesAvailable: bikes,
                        docksAvailable: 10 - bikes,
                        isInstalled: true, isRenting: true, isReturning: true, observedAt: at)
                ]), source: "bikes", at: at + 1_000)
        }
        let result = try await RefreshHourlyJob().run(
            JobContext(
                jobID: "refresh_hourly", now: TestAPI.now, watermark: nil, store: api.store, queue: api.store,
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }))
        #expect(result.rowsRead == 4 && result.rowsWritten == 1)
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        for job in [RefreshDailyJob(), StationRankingJob()] as [any Job] {
            _ = try await job.run(
                JobContext(
                    jobID: job.description.id, now: TestAPI.now, watermark: nil, store: api.store, queue: api.store,
                    logger: logger))
        }
        try await api.test { client in
            let stats = try await client.get("/api/stations/bikes/7/stats", as: StationBoard.StationStats.self)
            #expect(stats.granularity == "hour" && stats.count == 1)
            let row = try #require(stats.stats.first)
            #expect(row.hour == Timestamp.iso8601(hour) && row.observations == 4)
            #expect(row.bikesMean == 2.5 && row.bikesMin == 0 && row.bikesMax == 5 && row.minutesEmpty == 30)
            _ = try await client.get(
                "/api/stations/bikes/7/stats?granularity=week", as: [String: [String: String]].self, status: .badRequest
            )
            _ = try await client.get(
                "/api/stations/bikes/99/stats", as: [String: [String: String]].self, status: .notFound)
            #expect(row.bikesTaken == 0 && row.bikesReturned == 5)
            let daily = try await client.get(
                "/api/stations/bikes/7/stats?granularity=day", as: StationBoard.StationStats.self)
            #expect(daily.granularity == "day" && daily.stats.first?.minutesEmpty == 30)
            let ranking = try await client.get(
                "/api/rankings/stations?source=bikes&by=turnover", as: StationBoard.Ranking.self)
            #expect(ranking.stations.map(\.id) == ["7"] && ranking.stations.first?.turnover == 5)
            _ = try await client.get("/api/rankings/stations", as: [String: [String: String]].self, status: .badRequest)
            _ = try await client.get(
                "/api/rankings/stations?source=bikes&by=speed", as: [String: [String: String]].self, status: .badRequest
            )
            _ = try await client.get(
                "/api/rankings/stations?source=nope", as: [String: [String: String]].self, status: .notFound)
        }
    }
}
