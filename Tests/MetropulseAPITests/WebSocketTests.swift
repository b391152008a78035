import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import MetropulseCore
import NIOCore
import NIOWebSocket
import Synchronization
import Testing

@testable import MetropulseAPI

@Suite("/api/ws: the live streams over a WebSocket")
struct WebSocketTests {
    @Test("subscribe: a snapshot, then a station's change; unsubscribe; a bad message gets an error, not a close")
    func subscribeAndUnsubscribe() async throws {
        var api = try TestAPI(sources: [
            SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"]),
            SourceDefinition(id: "other", kind: .gbfs, urls: ["http://127.0.0.1:1/other.json"]),
        ])
        defer { api.close() }
        @Sendable func station(_ id: String, bikes: Int, source: String = "velib") -> StationObservation {
            StationObservation(
                sourceID: source, stationID: id, bikesAvailable: bikes, docksAvailable: 10 - bikes, isInstalled: true,
                isRenting: true, isReturning: true, observedAt: TestAPI.now - 5_000)
        }
        try await api.write(
            ObservationBatch(stations: [station("a", bikes: 3), station("b", bikes: 4)]), source: "velib")
        try await api.write(ObservationBatch(stations: [station("z", bikes: 1, source: "other")]), source: "other")
        // A clock that moves, so the live feed refreshes.
        let started = Date()
        api.environment.clock = WallClock { TestAPI.now + Int64(Date().timeIntervalSince(started) * 1000) }
        let app = buildApplication(
            api.environment,
            server: APIServerSettings(host: "127.0.0.1", port: 0, idleTimeoutMillis: 60_000, maxConnections: 16))
        let store = api.store
        let api2 = api
        try await app.test(.live) { client in
            let api = api2
            let port = try #require(client.port)
            let received = Mutex(0)
            try await withDeadline(.seconds(60)) {
                try await WebSocketClient.connect(
                    url: "ws://127.0.0.1:\(port)/api/ws", logger: Logger(label: "ws-test")
                ) { inbound, outbound, _ in
                    var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    func next(_ type: String) async throws -> [String: Any] {
                        while let message = try await messages.next() {
                            guard case .text(let text) = message,
                                let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                            else { continue }
                            received.withLock { $0 += 1 }
                            if object["type"] as? String == type { return object }
                        }
                        throw CancellationError()
                    }
                    try await outbound.write(.text("not json"))
                    let error = try await next("error")
                    #expect((error["message"] as? String)?.contains("JSON") == true)
                    try await outbound.write(.text(#"{"type": "subscribe", "topics": ["weather"]}"#))
                    #expect((try await next("error")["message"] as? String)?.contains("weather") == true)

                    try await outbound.write(
                        .text(#"{"type": "subscribe", "topics": ["stations"], "source": ["velib"]}"#))
                    #expect(try await next("subscribed")["topics"] as? [String] == ["stations"])
                    let snapshot = try await next("snapshot")
                    let stations = try #require(snapshot["stations"] as? [[String: Any]])
                    #expect(Set(stations.compactMap { $0["id"] as? String }) == ["a", "b"])
                    #expect(stations.allSatisfy { $0["run"] as? String != nil && ($0["age"] as? Double ?? 0) >= 5 })

                    // A station changes: only it is sent.
                    try await api.write(
                        ObservationBatch(stations: [station("a", bikes: 0)]), source: "velib", at: TestAPI.now - 500)
                    let update = try await next("update")
                    let changed = try #require(update["stations"] as? [[String: Any]])
                    #expect(changed.map { $0["id"] as? String } == ["a"] && changed.first?["bikes"] as? Int == 0)

                    try await outbound.write(.text(#"{"type": "unsubscribe", "topics": ["stations"]}"#))
                    #expect(try await next("unsubscribed")["topics"] as? [String] == [])
                    // Subscribed to sources only now: the next snapshot has no stations.
                    try await outbound.write(.text(#"{"type": "subscribe", "topics": ["sources"]}"#))
                    let sources = try await next("snapshot")
                    #expect(sources["stations"] == nil && (sources["sources"] as? [Any])?.count == 2)
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            _ = store
            #expect(received.withLock { $0 } >= 7)
        }
    }
}
