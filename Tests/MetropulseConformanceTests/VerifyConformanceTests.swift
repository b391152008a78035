import Foundation
import MetropulseCore
import Testing

/// `StoreVerifier` (`metropulse verify`) on every store backend: a store written by the pipeline
/// agrees; a latest value no raw observation holds, and a latest row whose run record failed,
/// are differences.
@Suite("Verify")
struct VerifyConformanceTests {
    static let day: Int64 = 1_767_571_200_000

    static func result(_ id: String, at: Int64, bikes: [Int], status: TaskRunStatus = .succeeded) -> RunResult {
        RunResult(
            run: TaskRun(
                id: id, jobID: id, taskID: nil, sourceID: "bikes", attempt: 1, workerID: "w", status: status,
                startedAt: at - 100, finishedAt: at, entityCount: bikes.count),
            observations: ObservationBatch(
                stations: bikes.enumerated().map { i, count in
                    StationObservation(
                        sourceID: "bikes", stationID: "s\(i)", capacity: 20, bikesAvailable: count,
                        docksAvailable: 20 - count, isInstalled: true, isRenting: true, isReturning: true,
                        observedAt: at - 1_000)
                }),
            outcome: nil)
    }

    @Test("agreeing tiers, then a value the raw tier lacks and a failed run record", arguments: BackendFactory.all)
    func verify(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        let now = Self.day + 3_600_000
        try await store.write([Self.result("r1", at: Self.day, bikes: [1, 2, 3])])
        try await store.write([Self.result("r2", at: Self.day + 60_000, bikes: [4, 2, 3])])
        try await store.write([
            RunResult(
                run: TaskRun(
                    id: "air", jobID: "air", taskID: nil, sourceID: "air", attempt: 1, workerID: "w",
                    status: .succeeded, startedAt: Self.day, finishedAt: Self.day + 1),
                observations: ObservationBatch(measurements: [
                    CityMeasurement(
                        sourceID: "air", zone: "north", metric: "pm25", value: 3, unit: nil, observedAt: Self.day)
                ]), outcome: nil)
        ])
        let verifier = StoreVerifier(store: store, runRetentionMillis: 30 * 86_400_000)
        let clean = try await verifier.verify(now: now)
        #expect(clean.differences == [])
        #expect(
            clean.checked.contains {
                $0.hasPrefix("bikes: 3 latest stations against 3 rebuilt") && $0.hasSuffix("agree")
            })

        // The same feed time fetched again with another count: the latest tier takes it, the raw
        // tier keeps the first (history only moves forward), and the tiers now differ.
        var changed = Self.result("r3", at: Self.day + 60_000, bikes: [9, 2, 3])
        changed.run.finishedAt = Self.day + 120_000
        try await store.write([changed])
        // A run named by latest rows recorded again as failed.
        try await store.write([Self.result("r3", at: Self.day + 120_000, bikes: [], status: .failed)])
        let report = try await verifier.verify(now: now)
        #expect(report.differences.contains { $0.hasPrefix("bikes: station s0: latest bikes 9 ≠ raw 4") })
        #expect(report.differences.contains("bikes: latest rows name run r3, whose record says failed"))
        #expect(!report.differences.contains { $0.hasPrefix("air:") })
    }
}
