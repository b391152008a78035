import Foundation
import MetropulseApp
import MetropulseCore
import Testing

/// Commands and scaling against a running `serve` (real HTTP, a real SQLite file): each command is
/// recorded with the key that sent it and answered by the worker; scaling changes the pool's slots
/// while it runs.
@Suite("Fleet control: commands with answers, scaling without a restart")
struct FleetControlTests {
    static func commands(_ app: RunningApp) async throws -> [[String: Any]] {
        try await getJSON("\(app.base)/api/system/commands").json["commands"] as? [[String: Any]] ?? []
    }

    static func answered(_ app: RunningApp, _ id: String) async throws -> [String: Any]? {
        try await commands(app).first { $0["id"] as? String == id && $0["state"] as? String != "waiting" }
    }

    @Test("scale by count and by delta: the pool's slots change, the worker answers, the fleet shows it")
    func scale() async throws {
        let folder = try temporaryFolder()
        let app = try await RunningApp.start(configuration(database: folder + "/m.sqlite"))
        let headers = ["X-API-Key": testAdminKey, "Content-Type": "application/json"]
        try await eventually("the worker's first heartbeat") {
            try await !app.runtime.backend.store.heartbeats().isEmpty
        }
        let (status, body) = try await post(
            "\(app.base)/api/system/workers/scale", body: #"{"count": 7}"#, headers: headers)
        #expect(status == 202)
        #expect(body["slots_before"] as? Int == 4 && body["slots"] as? Int == 7)
        let command = try #require(body["command"] as? [String: Any])
        let id = try #require(command["id"] as? String)
        #expect(command["kind"] as? String == "SCALE" && command["issued_by"] as? String == "admin")
        let worker = try #require(app.runtime.workerPool)
        try await eventually("the pool at 7 slots") { worker.slots == 7 }
        let done = try #require(try await Self.answered(app, id))
        #expect(done["state"] as? String == "done")
        let ack = try #require((done["acks"] as? [[String: Any]])?.first)
        #expect(ack["ok"] as? Bool == true && ack["result"] as? String == "slots 4 → 7")
        try await eventually("the fleet shows 7 slots") {
            let (_, json) = try await getJSON("\(app.base)/api/system/workers")
            return (json["workers"] as? [[String: Any]])?.first?["concurrency"] as? Int == 7
        }
        let (down, shrunk) = try await post(
            "\(app.base)/api/system/workers/scale", body: #"{"delta": -5}"#, headers: headers)
        #expect(down == 202 && shrunk["slots"] as? Int == 2)
        try await eventually("the pool at 2 slots") { worker.slots == 2 }
        // The pool goes on working at its new size.
        let before = worker.processedCount
        try await eventually("tasks processed at 2 slots") { worker.processedCount > before }
        try await app.stop()
    }

    @Test("bad scale requests are 4xx errors naming the field; nothing is sent")
    func badScale() async throws {
        let folder = try temporaryFolder()
        let app = try await RunningApp.start(configuration(database: folder + "/m.sqlite"))
        let headers = ["X-API-Key": testAdminKey, "Content-Type": "application/json"]
        try await eventually("the worker's first heartbeat") {
            try await !app.runtime.backend.store.heartbeats().isEmpty
        }
        for (body, code, field) in [
            (#"{"count": 0}"#, 400, "count"), (#"{"delta": -4}"#, 400, "delta"), (#"{"count": 1000000}"#, 400, "count"),
            (#"{"count": 2, "delta": 1}"#, 400, "count or delta"), ("{}", 400, "count or delta"),
            (#"{"count": "many"}"#, 400, "count"), (#"{"count": 2, "target": "nobody"}"#, 409, "target"),
        ] {
            let (status, json) = try await post("\(app.base)/api/system/workers/scale", body: body, headers: headers)
            let message = (json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(status == code, "\(body): \(message)")
            #expect(message.contains(field), "\(body): \(message)")
        }
        let (unkeyed, _) = try await post("\(app.base)/api/system/workers/scale", body: #"{"count": 2}"#)
        #expect(unkeyed == 401)
        let (scaleAsCommand, json) = try await post(
            "\(app.base)/api/system/commands", body: #"{"kind": "SCALE"}"#, headers: headers)
        #expect(scaleAsCommand == 400)
        #expect(((json["error"] as? [String: Any])?["message"] as? String ?? "").contains("workers/scale"))
        #expect(try await Self.commands(app).isEmpty, "no refused request was recorded")
        #expect(app.runtime.workerPool?.slots == 4)
        try await app.stop()
    }

    @Test("every command is recorded with its sender and answered by the worker, reload included")
    func acknowledgements() async throws {
        let folder = try temporaryFolder()
        let app = try await RunningApp.start(configuration(database: folder + "/m.sqlite"))
        let headers = ["X-API-Key": testAdminKey, "Content-Type": "application/json"]
        try await eventually("the worker's first heartbeat") {
            try await !app.runtime.backend.store.heartbeats().isEmpty
        }
        let workerID = try #require(app.runtime.workerPool?.configuration.workerID)
        let expected = [
            "PAUSE_FETCH": "paused", "DRAIN": "draining", "RESUME_FETCH": "running",
            "REBALANCE": "nothing to rebalance",
            "RELOAD_CONFIG": "configuration reloaded",
        ]
        for kind in ["PAUSE_FETCH", "DRAIN", "RESUME_FETCH", "REBALANCE", "RELOAD_CONFIG"] {
            let (status, sent) = try await post(
                "\(app.base)/api/system/commands", body: #"{"kind": "\#(kind)"}"#, headers: headers)
            #expect(status == 202)
            #expect(sent["workers"] as? [String] == [workerID], "the running worker is expected to answer")
            #expect(sent["issued_by"] as? String == "admin")
            let id = try #require(sent["id"] as? String)
            var answer: [String: Any]?
            try await eventually("\(kind) answered") {
                answer = try await Self.answered(app, id)
                return answer != nil
            }
            let ack = try #require((answer?["acks"] as? [[String: Any]])?.first)
            #expect(ack["worker_id"] as? String == workerID)
            #expect((ack["result"] as? String ?? "").hasPrefix(expected[kind] ?? "?"), "\(kind): \(ack)")
            #expect(answer?["state"] as? String == "done")
        }
        // A command to a worker that is not running is recorded with nobody to answer it.
        let (status, sent) = try await post(
            "\(app.base)/api/system/commands", body: #"{"kind": "PAUSE_FETCH", "target": "gone-1"}"#, headers: headers)
        #expect(status == 202 && (sent["workers"] as? [String])?.isEmpty == true)
        #expect(try await Self.commands(app).first?["state"] as? String == "unaddressed")
        #expect(try await Self.commands(app).count == 6)
        try await app.stop()
    }
}
