import Foundation
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
