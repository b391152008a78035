import Foundation
import MetropulseApp
import MetropulseCore
import MetropulseSQLite
import Testing

/// `Last-Event-ID` over real HTTP: an `api` process whose feed follows the store every 100 ms
/// sends a client that comes back each version it missed, as it happened.
@Suite("Live streams: resuming")
struct StreamResumeTests {
    @Test("a resumed stream replays exactly the missed events, in order, with their ids")
    func resume() async throws {
        let rounds = try StationRounds(sourceID: "paris")
        func write(_ bikes: [String: Int]) async throws {
            try await rounds.write(bikes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
        try await write(["a": 1, "b": 2, "c": 3])
        let api = try ChildProcess(
            arguments: ["api", "--port", "0", "--database-path", rounds.path],
            environment: ["METROPULSE_CONFIG": rounds.configPath, "METROPULSE_API_LIVE_INTERVAL": "100ms"])
        defer { if api.process.isRunning { api.process.terminate() } }
        let stream = "http://127.0.0.1:\(try await api.apiPort())/api/stream?topics=stations"
        func stations(_ event: [String: Any]) -> [String] {
            ((event["stations"] as? [[String: Any]]) ?? []).map { "\($0["id"] ?? "")=\($0["bikes"] ?? "")" }.sorted()
        }
        func version(_ event: [String: Any]) -> Int { (event["version"] as? Int) ?? -1 }
        let snapshot = try #require(
            try await readEvents(stream) { $0.contains { stations($0).count == 3 } }.first { stations($0).count == 3 })
        let start = version(snapshot)
        // Two changes while the client is away; each is seen by the feed (a short look confirms it).
        var versions: [Int] = []
        for change in [["a": 9], ["a": 7, "b": 0]] {
            try await write(change)
            let expected = change.map { "\($0.key)=\($0.value)" }.sorted()
            let seen = try await readEvents(stream, lastEventID: String(versions.last ?? start)) {
                $0.contains { stations($0) == expected }
            }
            versions.append(version(try #require(seen.first { stations($0) == expected })))
        }
        // Back from the snapshot's version: exactly the two missed events, in order.
        let resumed = try await readEvents(stream, lastEventID: String(start)) { $0.count >= 2 }
        #expect(resumed.prefix(2).map(stations) == [["a=9"], ["a=7", "b=0"]])
        #expect(resumed.prefix(2).map(version) == versions)
        #expect(resumed.prefix(2).allSatisfy { ($0["snapshot"] as? Bool) == false })
        #expect(await api.stop() == 0)
        try rounds.store.close()
    }
}

/// In one process (`serve`), a commit of its workers wakes the live feed: the change reaches a
/// subscriber without waiting for `api.live_interval`.
@Suite("Live streams: woken by a commit")
struct StreamCommitWakeTests {
    @Test("serve with api.live_interval 60 s: a run committed through the workers' committer reaches a subscriber")
    func wokenByCommit() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wake-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var settings = configuration(
            database: folder + "/wake.sqlite",
            sources: [
                SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:9/gbfs.json"], enabled: false)
            ]
        )
        settings.api.liveIntervalMillis = 60_000
        settings.demo.enabled = false
        settings.jobs.enabled = false
        settings.web.enabled = false
        let app = try await RunningApp.start(settings)
        func commit(_ id: String, bikes: Int) async throws {
            let now = WallClock.system.nowMillis
            try await app.runtime.committer.commit([
                RunResult(
                    run: TaskRun(
                        id: id, jobID: id, taskID: nil, sourceID: "bikes", attempt: 1, workerID: "test",
                        status: .succeeded, startedAt: now - 5, finishedAt: now, entityCount: 1),
                    observations: ObservationBatch(stations: [
                        StationObservation(
                            sourceID: "bikes", stationID: "s1", bikesAvailable: bikes, docksAvailable: 10,
                            isInstalled: true, isRenting: true, isReturning: true, observedAt: now)
                    ]), outcome: nil)
            ])
        }
        try await commit("first", bikes: 1)
        func bikes(_ event: [String: Any]) -> [Int] {
            ((event["stations"] as? [[String: Any]]) ?? []).compactMap { $0["bikes"] as? Int }
        }
        let stream = app.base + "/api/stream?topics=stations&source=bikes"
        // The refresher's first look (at start) may precede the first commit: the snapshot has s1
        // once that commit woke it.
        let first = try await readEvents(stream, timeout: .seconds(20)) { $0.contains { bikes($0) == [1] } }
        #expect(first.contains { bikes($0) == [1] })
        // The subscriber's answer as plain values (JSON objects are not Sendable).
        let waiting = Task {
            try await readEvents(stream, timeout: .seconds(20)) { $0.contains { bikes($0) == [2] } }.map {
                "\(bikes($0))/\(($0["snapshot"] as? Bool) ?? true)"
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        try await commit("second", bikes: 2)
        let events = try await waiting.value
        // Well within the 60 s interval: only the commit's wake-up can have sent it.
        #expect(events.contains("[2]/false"))
        try await app.stop()
    }
}
