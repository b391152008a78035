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
}
