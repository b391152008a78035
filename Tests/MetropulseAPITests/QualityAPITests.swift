import Foundation
import HTTPTypes
import HummingbirdTesting
import MetropulseCore
import MetropulseSQLite
import Testing

@testable import MetropulseAPI

@Suite("The quality API and a run's rejections, in process")
struct QualityAPITests {
    @Test("a task run's detail lists its rejections; an unknown run is a 404")
    func runDetail() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        let run = TaskRun(
            id: "job-1#1@5", jobID: "job-1", taskID: 1, sourceID: "velib", attempt: 1, workerID: "w",
            status: .succeeded, startedAt: TestAPI.now - 2_000, finishedAt: TestAPI.now - 1_000, entityCount: 3,
            rejectedCount: 1,
            rejections: [
                Rejection(entity: "12", reason: "num_bikes_available -1 is negative"),
                Rejection(entity: "13", reason: "is_renting missing; taken as true", field: "is_renting"),
            ])
        try await api.store.write([RunResult(run: run, outcome: nil)])
        try await api.test { client in
            let detail = try await client.get(
                "/api/system/task-runs/job-1%231@5", as: OperationsBoard.TaskRunDTO.self)
            #expect(detail.rejectedCount == 1)
            #expect(detail.rejections?.map(\.entity) == ["12", "13"])
            #expect(detail.rejections?.last?.field == "is_renting" && detail.rejections?.first?.field == nil)
            let list = try await client.get("/api/system/task-runs", as: OperationsBoard.TaskRunList.self)
            #expect(list.runs.first?.rejections == nil)
            let missing = try await client.get("/api/system/task-runs/nope", as: ErrorBody.self, status: .notFound)
            #expect(missing.error.message.contains("nope"))
        }
    }

    @Test("latest results worst first with the rejections by reason; history filtered; bad filters are 400s")
    func quality() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        try await api.store.write([
            RunResult(
                run: TaskRun(
                    id: "r1", jobID: "r1", taskID: nil, sourceID: "velib", attempt: 1, workerID: "w",
                    status: .succeeded, startedAt: TestAPI.now - 2_000, finishedAt: TestAPI.now - 1_000,
                    entityCount: 5, rejectedCount: 2,
                    rejections: [
                        Rejection(entity: "1", reason: "num_bikes_available -1 is negative"),
                        Rejection(entity: "2", reason: "num_bikes_available -7 is negative"),
                    ]), outcome: nil)
        ])
        try await api.store.recordQualityResults([
            QualityResult(
                check: "run_gaps", sourceID: "velib", severity: .warning, count: 0, total: 60, detail: "fine",
                at: TestAPI.now - 600_000),
            QualityResult(
                check: "over_capacity", sourceID: "velib", severity: .warning, count: 1, total: 10, detail: "1 of 10",
                samples: ["7: 12 bikes + 0 docks, capacity 10"], at: TestAPI.now - 600_000),
            QualityResult(
                check: "over_capacity", sourceID: "velib", severity: .warning, count: 0, total: 10, detail: "0 of 10",
                at: TestAPI.now - 900_000),
        ])
        try await api.test { client in
            let overview = try await client.get("/api/quality", as: QualityBoard.Overview.self)
            #expect(overview.latest.map(\.check) == ["over_capacity", "run_gaps"])
            #expect(overview.latest.map(\.status) == ["failed", "passed"])
            #expect(overview.failing == ["warning": 1] && overview.passed == 1)
            #expect(overview.checkedAt == Timestamp.iso8601(TestAPI.now - 600_000))
            #expect(overview.checks.count == DataQualityJob.Check.allCases.count)
            #expect(overview.rejections.count == 1)
            #expect(overview.rejections.first?.reason == "num_bikes_available # is negative")
            #expect(overview.rejections.first?.count == 2 && overview.rejections.first?.outcome == "rejected")
            let other = try await client.get("/api/quality?source=other", as: QualityBoard.Overview.self)
            #expect(other.latest.isEmpty && other.rejections.isEmpty)

            let history = try await client.get(
                "/api/quality/history?check=over_capacity&source=velib", as: QualityBoard.History.self)
            #expect(history.results.map(\.count) == [1, 0])
            let bad = try await client.get("/api/quality/history?check=nope", as: ErrorBody.self, status: .badRequest)
            #expect(bad.error.message.contains("check"))
            let order = try await client.get(
                "/api/quality/history?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", as: ErrorBody.self,
                status: .badRequest)
            #expect(order.error.message.contains("since"))
        }
    }
}
