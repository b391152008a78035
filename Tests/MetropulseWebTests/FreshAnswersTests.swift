import Foundation
import MetropulseCore
import MetropulseSQLite
import Synchronization
import Testing

@testable import MetropulseAPI

@Suite("Encoded answers kept while nothing new is stored (FreshAnswers)")
struct FreshAnswersTests {
    private final class Computations: Sendable {
        private let count = Mutex(0)
        func next() -> Int {
            count.withLock {
                $0 += 1
                return $0
            }
        }
        var value: Int { count.withLock { $0 } }
    }

    @Test("one computation per key and marker within the time to live; a new marker is waited for")
    func sameMarker() async throws {
        let answers = FreshAnswers<Int>(ttlMillis: 1_000)
        let made = Computations()
        let compute: @Sendable () async throws -> Int = { made.next() }
        // Many requests at once for the same question: one computation.
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<100 {
                group.addTask { try await answers.value(for: "q", marker: "m1", now: 0, compute: compute) }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(values.allSatisfy { $0 == 1 })
        #expect(made.value == 1)
        #expect(try await answers.value(for: "q", marker: "m1", now: 999, compute: compute) == 1)
        // Another question is its own entry.
        #expect(try await answers.value(for: "other", marker: "m1", now: 10, compute: compute) == 2)
        // A run stored (a new marker): the new answer, not the old one.
        #expect(try await answers.value(for: "q", marker: "m2", now: 20, compute: compute) == 3)
        #expect(made.value == 3)
    }

    @Test("past the time to live the last answer is served while the next is computed")
    func staleWhileRevalidating() async throws {
        let answers = FreshAnswers<Int>(ttlMillis: 1_000)
        let made = Computations()
        let compute: @Sendable () async throws -> Int = { made.next() }
        #expect(try await answers.value(for: "q", marker: "m", now: 0, compute: compute) == 1)
        // Expired: the request gets the previous answer at once; a computation starts.
        #expect(try await answers.value(for: "q", marker: "m", now: 1_500, compute: compute) == 1)
        // Once it is done, its answer is the one served.
        var served = 1
        for _ in 0..<200 where served == 1 {
            try await Task.sleep(for: .milliseconds(5))
            served = try await answers.value(for: "q", marker: "m", now: 1_600, compute: compute)
        }
        #expect(served == 2)
        #expect(made.value == 2)
    }

    @Test("a failed computation is not kept past its time to live")
    func failure() async throws {
        struct Broken: Error {}
        let answers = FreshAnswers<Int>(ttlMillis: 1_000)
        await #expect(throws: Broken.self) {
            _ = try await answers.value(for: "q", marker: "m", now: 0) { throw Broken() }
        }
        #expect(try await answers.value(for: "q", marker: "m", now: 1_000) { 7 } == 7)
    }

    @Test("the sources' states behind the markers: this process's writes at once, another's within the follow period")
    func sourceStateMarks() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mp-marks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Two handles on one file: `here` is this process's, `there` stands for another process.
        let here = try SQLiteBackend(path: folder.appendingPathComponent("m.sqlite").path)
        let there = try SQLiteBackend(path: folder.appendingPathComponent("m.sqlite").path)
        defer {
            try? here.close()
            try? there.close()
        }
        func run(_ id: String, source: String, at time: Int64) -> RunResult {
            RunResult(
                run: TaskRun(
                    id: id, jobID: id, taskID: nil, sourceID: source, attempt: 1, workerID: "w", status: .succeeded,
                    startedAt: time - 5, finishedAt: time, entityCount: 0),
                observations: ObservationBatch(), outcome: nil)
        }
        let marks = SourceStateMarks(followMillis: 100)
        #expect(try await marks.marker(of: here, scope: "*", sources: nil, now: 0) == "")
        // Another process's run: not seen until the follow period has passed.
        try await there.write([run("a1", source: "a", at: 1_000)])
        #expect(try await marks.marker(of: here, scope: "*", sources: nil, now: 50) == "")
        #expect(try await marks.marker(of: here, scope: "*", sources: nil, now: 100) == "a:1000:1000")
        // This process's run: seen by the next request, whatever the time.
        try await here.write([run("b1", source: "b", at: 2_000)])
        #expect(try await marks.marker(of: here, scope: "*", sources: nil, now: 101) == "a:1000:1000,b:2000:2000")
        #expect(try await marks.marker(of: here, scope: "b", sources: { $0 == "b" }, now: 101) == "b:2000:2000")
    }
}
