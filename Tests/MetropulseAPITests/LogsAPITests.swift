import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import MetropulseCore
import MetropulseSQLite
import Testing

@testable import MetropulseAPI

@Suite("The central log's API, in process")
struct LogsAPITests {
    static func seed(_ api: TestAPI) async throws {
        let now = TestAPI.now
        try await api.store.appendLogs([
            LogRecord(
                at: now - 60_000, service: "worker", instance: "w-1", level: .warning, logger: "metropulse",
                message: "fetch failed", metadata: ["source": "velib", "job_id": "velib@1"]),
            LogRecord(
                at: now - 30_000, service: "api", instance: "a-1", level: .info, logger: "hummingbird",
                message: "server started"),
            LogRecord(
                at: now - 10_000, service: "worker", instance: "w-1", level: .error, logger: "metropulse",
                message: "commit failed: disk full"),
        ])
    }

    @Test("searches by role, level, words and time, newest first")
    func search() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        try await Self.seed(api)
        try await api.test { client in
            let all = try await client.get("/api/system/logs", as: LogBoard.LogList.self)
            #expect(all.logs.map(\.message) == ["commit failed: disk full", "server started", "fetch failed"])
            #expect(all.count == 3)
            let first = try #require(all.logs.last)
            #expect(first.metadata == ["source": "velib", "job_id": "velib@1"], "metadata keys as logged")
            #expect(first.time == Timestamp.iso8601(TestAPI.now - 60_000))
            #expect(first.service == "worker" && first.instance == "w-1" && first.level == "warning")
            func messages(_ query: String) async throws -> [String] {
                try await client.get("/api/system/logs?\(query)", as: LogBoard.LogList.self).logs.map(\.message)
            }
            #expect(try await messages("service=api") == ["server started"])
            #expect(try await messages("service=w-1&level=error") == ["commit failed: disk full"])
            #expect(try await messages("level=warning") == ["commit failed: disk full", "fetch failed"])
            #expect(try await messages("q=failed") == ["commit failed: disk full", "fetch failed"])
            #expect(try await messages("q=VELIB") == ["fetch failed"])
            #expect(try await messages("q=dis%20comm") == ["commit failed: disk full"])
            let since = Timestamp.iso8601(TestAPI.now - 40_000)
            #expect(try await messages("since=\(since)") == ["commit failed: disk full", "server started"])
            #expect(try await messages("until=\(since)") == ["fetch failed"])
            #expect(try await messages("limit=1") == ["commit failed: disk full"])
        }
    }

    @Test("a bad parameter is a 400 naming it; no key is a 401")
    func errors() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        try await api.test { client in
            for (query, name) in [
                ("level=loud", "level"), ("q=%21%21%21", "q"), ("limit=0", "limit"), ("limit=5000", "limit"),
                ("since=yesterday", "since"), ("since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "since"),
            ] {
                let body = try await client.get(
                    "/api/system/logs?\(query)", as: ErrorBody.self, status: .badRequest)
                #expect(body.error.message.hasPrefix(name), "\(query): \(body.error.message)")
            }
            try await client.execute(uri: "/api/system/logs", method: .get) { #expect($0.status == .unauthorized) }
        }
    }
}
