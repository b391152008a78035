import MetropulseCore
import Testing

/// The work-queue semantics every backend must keep.
@Suite("Queue conformance")
struct QueueConformanceTests {
    @Test("a job id is accepted once", arguments: BackendFactory.queues)
    func dedupe(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        #expect(try await backend.queue.enqueue([task("a"), task("b")], now: 0) == 2)
        #expect(try await backend.queue.enqueue([task("a"), task("c")], now: 0) == 1)
        let claimed = try await backend.queue.claim(owner: "w", limit: 10, leaseMillis: 1000, now: 0)
        #expect(Set(claimed.map(\.jobID)) == ["a", "b", "c"])
        // Still deduplicated after the task finished.
        try await backend.queue.finish(
            claimed.map { .init($0, disposition: .succeeded, finishedAt: 1) })
        #expect(try await backend.queue.enqueue([task("a")], now: 2) == 0)
    }

    @Test("claims by priority, then oldest run time; future tasks wait", arguments: BackendFactory.queues)
    func order(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue(
            [
                task("low-old", priority: 0, runAt: 10), task("high-new", priority: 5, runAt: 30),
                task("high-old", priority: 5, runAt: 20), task("low-new", priority: 0, runAt: 40),
                task("future", priority: 9, runAt: 1_000),
            ], now: 0)
        let first = try await backend.queue.claim(owner: "w", limit: 3, leaseMillis: 1000, now: 100)
        #expect(first.map(\.jobID) == ["high-old", "high-new", "low-old"])
        let second = try await backend.queue.claim(owner: "w", limit: 10, leaseMillis: 1000, now: 100)
        #expect(second.map(\.jobID) == ["low-new"])
        #expect(try await backend.queue.claim(owner: "w", limit: 10, leaseMillis: 1000, now: 999).isEmpty)
        #expect(
            try await backend.queue.claim(owner: "w", limit: 10, leaseMillis: 1000, now: 1_000).map(\.jobID) == [
                "future"
            ])
    }

    @Test("an expired lease is taken again; the old owner's outcome is ignored", arguments: BackendFactory.queues)
    func leaseExpiry(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue([task("a")], now: 0)
        let first = try #require(
            try await backend.queue.claim(owner: "dead-worker", limit: 1, leaseMillis: 100, now: 0).first)
        #expect(first.attempt == 1)
        #expect(try await backend.queue.claim(owner: "other", limit: 1, leaseMillis: 100, now: 50).isEmpty)
        let second = try #require(
            try await backend.queue.claim(owner: "other", limit: 1, leaseMillis: 100, now: 101).first)
        #expect(second.id == first.id)
        #expect(second.attempt == 2)
        #expect(second.leaseOwner == "other")
        // The first worker wakes up and reports: ignored, the task stays with "other".
        try await backend.queue.finish([
            .init(first, disposition: .succeeded, finishedAt: 120)
        ])
        #expect(try await backend.queue.stats(now: 120).running == 1)
        try await backend.queue.finish([
            .init(second, disposition: .succeeded, finishedAt: 130)
        ])
        let stats = try await backend.queue.stats(now: 130)
        #expect(stats.running == 0)
        #expect(stats.succeeded == 1)
    }

    @Test(
        "a task whose lease expires on its last attempt is dead with the reason, not taken again",
        arguments: BackendFactory.queues)
    func spentLease(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue([task("poison", maxAttempts: 2), task("fine", runAt: 1_000)], now: 0)
        // Two workers take the task in turn and never answer (a feed that crashes or hangs them).
        let first = try #require(try await backend.queue.claim(owner: "w1", limit: 1, leaseMillis: 100, now: 0).first)
        #expect(first.jobID == "poison" && first.attempt == 1)
        let second = try #require(
            try await backend.queue.claim(owner: "w2", limit: 1, leaseMillis: 100, now: 101).first)
        #expect(second.jobID == "poison" && second.attempt == 2)
        // The last attempt's lease passes: the task is dead, and the next claim gets other work.
        let next = try await backend.queue.claim(owner: "w3", limit: 10, leaseMillis: 100, now: 1_000)
        #expect(next.map(\.jobID) == ["fine"])
        let dead = try await backend.queue.tasks(state: .dead, limit: 10)
        #expect(dead.map(\.jobID) == ["poison"])
        #expect(dead.first?.lastError == spentLeaseError)
        #expect(try await backend.queue.stats(now: 1_000).dead == 1)
        // A late outcome from the last worker changes nothing; requeueing brings it back.
        try await backend.queue.finish([.init(second, disposition: .succeeded, finishedAt: 1_001)])
        #expect(try await backend.queue.tasks(state: .dead, limit: 10).count == 1)
        #expect(try await backend.queue.requeueDead(taskIDs: nil, now: 1_002) == 1)
        let again = try await backend.queue.claim(owner: "w4", limit: 10, leaseMillis: 100, now: 1_002)
        #expect(again.map(\.jobID) == ["poison"] && again.first?.attempt == 1)
    }

    @Test("renewing a lease keeps the task from being taken", arguments: BackendFactory.queues)
    func renew(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue([task("a")], now: 0)
        let claimed = try await backend.queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 0)
        try await backend.queue.renewLeases(owner: "w", taskIDs: claimed.map(\.id), until: 500)
        try await backend.queue.renewLeases(owner: "intruder", taskIDs: claimed.map(\.id), until: 50)
        #expect(try await backend.queue.claim(owner: "other", limit: 1, leaseMillis: 100, now: 400).isEmpty)
        #expect(try await backend.queue.claim(owner: "other", limit: 1, leaseMillis: 100, now: 501).count == 1)
    }

    @Test(
        "retry waits for its time, dead after the last attempt, requeue brings it back",
        arguments: BackendFactory.queues)
    func retryDeadRequeue(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let queue = backend.queue
        try await queue.enqueue([task("a", maxAttempts: 2)], now: 0)
        let first = try #require(try await queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 0).first)
        try await queue.finish([
            .init(first, disposition: .retry(at: 1_000, error: "boom"), finishedAt: 10)
        ])
        var stats = try await queue.stats(now: 10)
        #expect(stats.retrying == 1)
        #expect(try await queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 999).isEmpty)
        let listed = try await queue.tasks(state: .retrying, limit: 10)
        #expect(listed.first?.lastError == "boom")
        #expect(listed.first?.runAt == 1_000)
        let second = try #require(try await queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 1_000).first)
        #expect(second.attempt == 2)
        try await queue.finish([
            .init(second, disposition: .dead(error: "boom again"), finishedAt: 1_010)
        ])
        stats = try await queue.stats(now: 1_010)
        #expect(stats.dead == 1)
        #expect(stats.retrying == 0)
        #expect(try await queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 5_000).isEmpty)
        #expect(try await queue.requeueDead(taskIDs: nil, now: 6_000) == 1)
        let third = try #require(try await queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 6_000).first)
        #expect(third.attempt == 1)
        #expect(try await queue.requeueDead(taskIDs: [third.id], now: 6_000) == 0)
    }

    @Test("concurrent claimers never get the same task", arguments: BackendFactory.queues)
    func concurrentClaimers(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let queue = backend.queue
        try await queue.enqueue((0..<300).map { task("t\($0)") }, now: 0)
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await queue.claim(owner: "w\(worker)", limit: 7, leaseMillis: 60_000, now: 1)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            var all: [Int64] = []
            for try await ids in group { all += ids }
            return all
        }
        #expect(claims.count == 300)
        #expect(Set(claims).count == 300)
    }

    @Test("stats report depth, lag and last-minute throughput", arguments: BackendFactory.queues)
    func stats(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let queue = backend.queue
        try await queue.enqueue([task("a", runAt: 1_000), task("b", runAt: 2_000), task("c", runAt: 90_000)], now: 0)
        var stats = try await queue.stats(now: 5_000)
        #expect(stats.queued == 3)
        #expect(stats.oldestReadySince == 1_000)
        let claimed = try await queue.claim(owner: "w", limit: 1, leaseMillis: 1000, now: 5_000)
        try await queue.finish(
            claimed.map { .init($0, disposition: .succeeded, finishedAt: 6_000) })
        stats = try await queue.stats(now: 7_000)
        #expect(stats.queued == 2)
        #expect(stats.succeeded == 1)
        #expect(stats.finishedLastMinute == 1)
        #expect(stats.oldestReadySince == 2_000)
        #expect(try await queue.stats(now: 70_000).finishedLastMinute == 0)
    }
}

extension QueueConformanceTests {
    @Test("old succeeded tasks are pruned; dead and unfinished ones stay", arguments: BackendFactory.queues)
    func prune(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let queue = backend.queue
        try await queue.enqueue(
            [task("old"), task("new"), task("dead", maxAttempts: 1), task("waiting", runAt: 9_999)], now: 0)
        let claimed = try await queue.claim(owner: "w", limit: 3, leaseMillis: 1_000, now: 0)
        let byJob = Dictionary(uniqueKeysWithValues: claimed.map { ($0.jobID, $0.id) })
        try await queue.finish([
            .init(taskID: byJob["old"]!, leaseOwner: "w", attempt: 1, disposition: .succeeded, finishedAt: 100),
            .init(taskID: byJob["new"]!, leaseOwner: "w", attempt: 1, disposition: .succeeded, finishedAt: 900),
            .init(taskID: byJob["dead"]!, leaseOwner: "w", attempt: 1, disposition: .dead(error: "x"), finishedAt: 100),
        ])
        #expect(try await queue.pruneSucceeded(finishedBefore: 500) == 1)
        let left = try await queue.tasks(state: nil, limit: 10).map(\.jobID).sorted()
        #expect(left == ["dead", "new", "waiting"])
    }
}
