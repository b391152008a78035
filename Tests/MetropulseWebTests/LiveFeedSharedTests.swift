import MetropulseAPI
import NIOCore
import Synchronization
import Testing

@Suite("The live feed's shared part: one encoding per question and version, waits without tasks")
struct LiveFeedSharedTests {
    @Test("many subscribers asking the same question from the same version: encoded once, the same bytes to each")
    func encodedOnce() async throws {
        let shared = LiveFeedShared()
        let made = Counter()
        let key = LiveFeedShared.Key(since: 4, subscription: "stations|*", framing: "sse")
        let answers = try await withThrowingTaskGroup(of: (String, UInt64).self) { group in
            for _ in 0..<500 {
                group.addTask {
                    let (bytes, version) = try await shared.event(key, version: 5) {
                        made.add()
                        // Long enough for the others to ask while it is being made.
                        try await Task.sleep(for: .milliseconds(50))
                        return (ByteBuffer(string: "event 5"), 5)
                    }
                    return (String(buffer: bytes), version)
                }
            }
            var answers: [(String, UInt64)] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
        #expect(made.value == 1)
        #expect(answers.count == 500)
        #expect(answers.allSatisfy { $0.0 == "event 5" && $0.1 == 5 })

        // Another question, or the same one at the next version, is made again.
        let other = LiveFeedShared.Key(since: 4, subscription: "vehicles|*", framing: "sse")
        _ = try await shared.event(other, version: 5) {
            made.add()
            return (ByteBuffer(string: "other"), 5)
        }
        let next = try await shared.event(key, version: 6) {
            made.add()
            return (ByteBuffer(string: "event 6"), 6)
        }
        #expect(String(buffer: next.0) == "event 6")
        #expect(made.value == 3)
    }

    @Test("a subscriber whose encoding reached a later version keeps its bytes to itself; a failure is not shared")
    func notSharedWhenDifferent() async throws {
        let shared = LiveFeedShared()
        let key = LiveFeedShared.Key(since: nil, subscription: "stations|*", framing: "sse")
        let first = try await shared.event(key, version: 1) { (ByteBuffer(string: "at 2"), 2) }
        #expect(first.1 == 2)
        let second = try await shared.event(key, version: 1) { (ByteBuffer(string: "again"), 1) }
        #expect(String(buffer: second.0) == "again")

        struct Broken: Error {}
        let failing = LiveFeedShared.Key(since: 1, subscription: "stations|*", framing: "sse")
        await #expect(throws: Broken.self) {
            _ = try await shared.event(failing, version: 3) { throw Broken() }
        }
        let after = try await shared.event(failing, version: 3) { (ByteBuffer(string: "fine"), 3) }
        #expect(String(buffer: after.0) == "fine")
    }

    @Test("waits end at a new version, at their deadline (expired by the refresher) or when cancelled")
    func waits() async throws {
        let shared = LiveFeedShared()
        // Already past: returns at once.
        await shared.wait(after: 0, until: .now - .seconds(1))

        let woken = Task { await shared.wait(after: 0, until: .now + .seconds(600)) }
        while shared.waitingCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        shared.moved(to: 1)
        await woken.value
        #expect(shared.waitingCount == 0)
        // Seen is behind the version: no wait.
        await shared.wait(after: 0, until: .now + .seconds(600))

        let expiring = Task { await shared.wait(after: 1, until: .now + .milliseconds(20)) }
        while shared.waitingCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(40))
        shared.expire()
        await expiring.value

        let cancelled = Task { await shared.wait(after: 1, until: .now + .seconds(600)) }
        while shared.waitingCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        cancelled.cancel()
        await cancelled.value
        #expect(shared.waitingCount == 0)
    }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
