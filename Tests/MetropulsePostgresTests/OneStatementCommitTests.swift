import Foundation
import Logging
import MetropulseCore
import PostgresNIO
import Testing

@testable import MetropulsePostgres

/// The one-statement PostgreSQL commit bets on this process's cached latest blocks and on its
/// leases; when another process wrote the source, or a lease passed, it writes nothing and the
/// locked commit runs instead.
@Suite(
    "One-statement PostgreSQL commits",
    .enabled(if: ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"] != nil))
struct OneStatementCommitTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func snapshot(_ k: Int, source: String = "bikes", run: String? = nil) -> RunResult {
        let at = Int64(1_000_000 + k * 60_000)
        let stations = (1...3).map { i in
            StationObservation(
                sourceID: source, stationID: "s\(i)", code: "C\(i)", name: "Station \(i)", latitude: 48.85,
                longitude: 2.35, capacity: 20, bikesAvailable: k, mechanicalAvailable: k, ebikesAvailable: 0,
                docksAvailable: 20 - k, isInstalled: true, isRenting: true, isReturning: true, observedAt: at)
        }
        return RunResult(
            run: TaskRun(
                id: run ?? "\(source)@\(k)#1", jobID: "\(source)@\(k)", taskID: nil, sourceID: source, attempt: 1,
                workerID: "w",
                status: .succeeded, startedAt: at, finishedAt: at + 1, entityCount: 3),
            observations: ObservationBatch(stations: stations), outcome: nil)
    }

    /// Two processes on one fresh schema: two backends, each with its own client and cache.
    static func withTwoProcesses(_ body: (PostgresBackend, PostgresBackend) async throws -> Void) async throws {
        let url = try #require(ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"])
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await PostgresBackend.withScratchSchema(url: url, schema: schema, logger: logger) { a in
            let otherClient = try PostgresBackend.client(url: url, schema: schema, logger: logger)
            let running = Task { await otherClient.run() }
            defer { running.cancel() }
            try await body(a, PostgresBackend(client: otherClient, logger: logger))
        }
    }

    @Test("two processes writing one source: the bet falls back when the other wrote; nothing lost or doubled")
    func twoWriters() async throws {
        try await Self.withTwoProcesses { a, b in
            try await a.write([Self.snapshot(0)])  // nothing cached yet: locked
            try await a.write([Self.snapshot(1)])  // its own block cached: one statement
            #expect(a.oneStatementCommits.committed == 1)
            try await b.write([Self.snapshot(2)])  // the other process, locked
            try await a.write([Self.snapshot(3)])  // A's block is stale: falls back, locked
            #expect(a.oneStatementCommits.fellBack == 1)
            try await a.write([Self.snapshot(4)])  // the source is contended: locked at once
            #expect(a.oneStatementCommits.committed == 1)
            #expect(a.oneStatementCommits.fellBack == 1)

            #expect(try await a.rawStationObservationCount(sourceID: "bikes") == 15)
            for backend in [a, b] {
                let latest = try #require(try await backend.station(sourceID: "bikes", stationID: "s2"))
                #expect(latest.observation.bikesAvailable == 4)
                #expect(latest.runID == "bikes@4#1")
            }
            let history = try await b.stationHistory(
                sourceID: "bikes", stationID: "s1", since: nil, until: nil, limit: 100)
            #expect(history.map(\.observation.bikesAvailable).sorted() == [0, 1, 2, 3, 4])
            #expect(try await b.taskRuns(TaskRunQuery(limit: 100)).count == 5)
        }
    }

    @Test("a commit whose lease passed writes nothing in one statement; the locked commit settles it")
    func leasePassed() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"])
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await PostgresBackend.withScratchSchema(url: url, schema: schema, logger: Self.logger) { backend in
            try await backend.write([Self.snapshot(0)])  // caches the block
            try await backend.enqueue([NewTask(jobID: "bikes@1", sourceID: "bikes", runAt: 0)], now: 0)
            let first = try #require(try await backend.claim(owner: "w", limit: 1, leaseMillis: 10, now: 0).first)
            // The lease passes and the task is claimed again before the first attempt commits.
            let second = try #require(
                try await backend.claim(owner: "w", limit: 1, leaseMillis: 60_000, now: 100).first)
            var late = Self.snapshot(1)
            late.run.taskID = first.id
            late.outcome = TaskOutcome(first, disposition: .succeeded, finishedAt: 200)
            try await backend.commit([late])
            #expect(backend.oneStatementCommits.fellBack == 1)
            // Only the lease-lost record of the late attempt; its stations and outcome dropped.
            let runs = try await backend.taskRuns(TaskRunQuery(jobID: "bikes@1", limit: 10))
            #expect(runs.map(\.errorKind) == [.leaseLost])
            #expect(try await backend.rawStationObservationCount(sourceID: "bikes") == 3)
            #expect(try await backend.tasks(state: .running, limit: 10).map(\.attempts) == [second.attempt])

            // The current attempt commits (locked: the failed bet left the block uncached), and
            // the next write bets again.
            var current = Self.snapshot(2)
            current.run.id = "bikes@1#2"
            current.run.taskID = second.id
            current.outcome = TaskOutcome(second, disposition: .succeeded, finishedAt: 300)
            try await backend.commit([current])
            #expect(try await backend.rawStationObservationCount(sourceID: "bikes") == 6)
            #expect(try await backend.tasks(state: .succeeded, limit: 10).count == 1)
            try await backend.write([Self.snapshot(3)])
            #expect(backend.oneStatementCommits.committed == 1)
            #expect(try await backend.rawStationObservationCount(sourceID: "bikes") == 9)
            #expect(try await backend.station(sourceID: "bikes", stationID: "s3")?.observation.bikesAvailable == 3)
        }
    }

    @Test("two processes committing the same two sources at once: no deadlock, no observation twice")
    func concurrentWriters() async throws {
        try await Self.withTwoProcesses { a, b in
            // Every commit bets first, so bets and locked commits cross.
            a.oneStatementCommits.contentionWindow = .zero
            b.oneStatementCommits.contentionWindow = .zero
            // Each writes both sources in every commit, in opposite orders, interleaving snapshots.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (backend, name, offset, reversed) in [(a, "a", 0, false), (b, "b", 1, true)] {
                    group.addTask {
                        for round in 0..<15 {
                            let k = 2 * round + offset
                            var batch = ["x", "y"].map { Self.snapshot(k, source: $0, run: "\($0)@\(k)-\(name)") }
                            if reversed { batch.reverse() }
                            try await backend.write(batch)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Every commit after a process's first bet (both caches are filled by then).
            let bets = [a, b].map { $0.oneStatementCommits.committed + $0.oneStatementCommits.fellBack }
            #expect(bets == [14, 14])
            for source in ["x", "y"] {
                for station in ["s1", "s2", "s3"] {
                    let latest = try #require(try await a.station(sourceID: source, stationID: station))
                    #expect(latest.observation.bikesAvailable == 29)
                    let history = try await b.stationHistory(
                        sourceID: source, stationID: station, since: nil, until: nil, limit: 100)
                    let times = history.map(\.observation.observedAt)
                    #expect(Set(times).count == times.count, "an observation stored twice")
                    #expect(times.contains(1_000_000 + 29 * 60_000))
                }
            }
        }
    }
}
