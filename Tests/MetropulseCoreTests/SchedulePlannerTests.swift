import Foundation
import MetropulseCore
import Testing

@Suite("Schedule planner")
struct SchedulePlannerTests {
    let source = SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://x"], intervalMillis: 60_000, priority: 3)

    @Test("the phase is stable per source and spreads sources over the interval")
    func phase() {
        let a = SchedulePlanner.phase(sourceID: "velib", intervalMillis: 60_000)
        #expect(a == SchedulePlanner.phase(sourceID: "velib", intervalMillis: 60_000))
        #expect((0..<60_000).contains(a))
        let phases = Set(
            (0..<50).map { SchedulePlanner.phase(sourceID: "source-\($0)", intervalMillis: 60_000) / 1_000 })
        #expect(phases.count >= 28)
    }

    @Test("one task per slot, with a deterministic job id")
    func oneTaskPerSlot() throws {
        let phase = SchedulePlanner.phase(sourceID: "velib", intervalMillis: 60_000)
        let now = 10 * 60_000 + phase + 5_000
        let due = try #require(SchedulePlanner.due(source, lastSlotAt: nil, now: now))
        #expect(due.slotStart == 10 * 60_000 + phase)
        #expect(due.task.jobID == "velib@\(due.slotStart)")
        #expect(due.task.priority == 3)
        #expect(due.task.runAt == now)
        #expect(due.nextSlotStart == due.slotStart + 60_000)
        #expect(SchedulePlanner.due(source, lastSlotAt: due.slotStart, now: now + 50_000) == nil)
        let next = try #require(SchedulePlanner.due(source, lastSlotAt: due.slotStart, now: due.nextSlotStart))
        #expect(next.slotStart == due.nextSlotStart)
    }

    @Test("after downtime only the current slot runs: missed slots are skipped, not burst")
    func missedSlotsSkipped() throws {
        let phase = SchedulePlanner.phase(sourceID: "velib", intervalMillis: 60_000)
        let last = 10 * 60_000 + phase
        let afterOutage = last + 2 * 3_600_000 + 1_234
        let due = try #require(SchedulePlanner.due(source, lastSlotAt: last, now: afterOutage))
        #expect(due.slotStart == last + 120 * 60_000)
        #expect(SchedulePlanner.due(source, lastSlotAt: due.slotStart, now: afterOutage + 1) == nil)
    }

    @Test("slot arithmetic holds for times before the phase")
    func negativeShift() {
        #expect(SchedulePlanner.slotStart(containing: 5, intervalMillis: 10, phase: 7) == -3)
        #expect(SchedulePlanner.slotStart(containing: 7, intervalMillis: 10, phase: 7) == 7)
        #expect(SchedulePlanner.slotStart(containing: 16, intervalMillis: 10, phase: 7) == 7)
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test("exponential backoff with jitter within [ceiling/2, ceiling], capped")
    func backoff() {
        let policy = RetryPolicy.exponentialJitter(baseDelayMillis: 1_000, maxDelayMillis: 10_000)
        #expect(policy.ceiling(afterAttempt: 1) == 1_000)
        #expect(policy.ceiling(afterAttempt: 3) == 4_000)
        #expect(policy.ceiling(afterAttempt: 10) == 10_000)
        #expect(policy.ceiling(afterAttempt: 200) == 10_000)
        for attempt in 1...5 {
            for _ in 0..<50 {
                guard
                    case .retry(let at, _) = policy.disposition(
                        afterAttempt: attempt, maxAttempts: 9, now: 100, error: "e")
                else {
                    Issue.record("expected a retry")
                    return
                }
                let ceiling = policy.ceiling(afterAttempt: attempt)
                #expect((100 + ceiling / 2...100 + ceiling).contains(at))
            }
        }
    }

    @Test("dead after the last attempt; Retry-After is honoured")
    func deadAndRetryAfter() {
        let policy = RetryPolicy.exponentialJitter(baseDelayMillis: 1_000, maxDelayMillis: 10_000)
        #expect(policy.disposition(afterAttempt: 3, maxAttempts: 3, now: 0, error: "x") == .dead(error: "x"))
        guard
            case .retry(let at, _) = policy.disposition(
                afterAttempt: 1, maxAttempts: 3, now: 0, error: "x", retryAfterMillis: 30_000)
        else {
            Issue.record("expected a retry")
            return
        }
        #expect(at == 30_000)
    }
}

@Suite("Timestamps and station status")
struct ModelTests {
    @Test("ISO 8601 formatting and parsing round-trip")
    func iso() {
        #expect(Timestamp.iso8601(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.iso8601(1_760_778_556_123) == "2025-10-18T09:09:16.123Z")
        #expect(Timestamp.parse("2025-10-18T09:09:16.123Z") == 1_760_778_556_123)
        #expect(Timestamp.parse("2019-07-04T13:33:03.969Z") == 1_562_247_183_969)
        #expect(Timestamp.parse("2024-04-18T09:37:59.000+00:00") == 1_713_433_079_000)
        #expect(Timestamp.parse("2024-04-18T11:37:59+02:00") == 1_713_433_079_000)
        #expect(Timestamp.parse("2024-04-18T09:37:59.123456Z") == 1_713_433_079_123)
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.parse("2024-13-18T09:37:59Z") == nil)
        for millis: Int64 in [-86_400_001, 951_782_400_000, 4_102_444_800_999] {
            #expect(Timestamp.parse(Timestamp.iso8601(millis)) == millis)
        }
    }

    @Test("status and occupancy are derived from the flags and counts")
    func status() {
        #expect(StationStatus(isInstalled: false, isRenting: true, isReturning: true) == .outOfService)
        #expect(StationStatus(isInstalled: true, isRenting: false, isReturning: false) == .closed)
        #expect(StationStatus(isInstalled: true, isRenting: false, isReturning: true) == .inService)
        let station = StationObservation(
            sourceID: "s", stationID: "1", capacity: 30, bikesAvailable: 6, docksAvailable: 18, isInstalled: true,
            isRenting: true, isReturning: true, observedAt: 0)
        #expect(station.occupancyRate == 0.25)
        let noPlaces = StationObservation(
            sourceID: "s", stationID: "1", bikesAvailable: 0, docksAvailable: 0, isInstalled: true, isRenting: true,
            isReturning: true, observedAt: 0)
        #expect(noPlaces.occupancyRate == nil)
    }
}

@Suite("Group commit")
struct GroupCommitTests {
    actor Log {
        var batches: [[Int]] = []
        func add(_ batch: [Int]) { batches.append(batch) }
    }

    @Test("concurrent submissions share flushes")
    func coalesce() async throws {
        let log = Log()
        let committer = GroupCommit<Int> { items in
            try await Task.sleep(for: .milliseconds(5))
            await log.add(items)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 { group.addTask { try await committer.submit(i) } }
            try await group.waitForAll()
        }
        let batches = await log.batches
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<40))
        #expect(batches.count <= 3)
    }

    @Test("a bad item fails alone; the rest of its batch lands")
    func isolation() async throws {
        let log = Log()
        let committer = GroupCommit<Int> { items in
            try await Task.sleep(for: .milliseconds(5))
            if items.contains(13) { throw CancellationError() }
            await log.add(items)
        }
        let failed = await withTaskGroup(of: Int?.self) { group in
            for i in 0..<40 {
                group.addTask {
                    do {
                        try await committer.submit(i)
                        return nil
                    } catch {
                        return i
                    }
                }
            }
            var failed: [Int] = []
            for await i in group { if let i { failed.append(i) } }
            return failed
        }
        #expect(failed == [13])
        #expect(await log.batches.flatMap { $0 }.sorted() == (0..<40).filter { $0 != 13 })
    }

    @Test("a flush that never answers fails its batch after the timeout; the next batches still land")
    func stuckFlush() async throws {
        let log = Log()
        let committer = GroupCommit<Int>(timeout: .milliseconds(200)) { items in
            if items.contains(0) {
                // A call on a dead connection: ignores cancellation and never returns in time.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().asyncAfter(deadline: .now() + 5) { continuation.resume() }
                }
                return
            }
            await log.add(items)
        }
        await #expect(throws: DeadlineExceeded.self) { try await committer.submit(0) }
        try await committer.submit(1)
        try await committer.submit(2)
        #expect(await log.batches.flatMap { $0 } == [1, 2])
    }
}
