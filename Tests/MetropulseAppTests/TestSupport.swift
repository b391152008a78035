import AsyncHTTPClient
import Foundation
import Logging
import MetropulseApp
import MetropulseCore
import MetropulseSQLite
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing

/// Waits for a condition that an event will make true; fails the test after `timeout`.
func eventually(
    _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
    throw CancellationError()
}

/// A fresh folder for one test's database.
func temporaryFolder() throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mp-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.path
}

let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// GET a JSON document over real HTTP on loopback.
func getJSON(_ url: String) async throws -> (status: Int, json: [String: Any]) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 64 << 20)
    let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
    return (Int(response.status.code), object as? [String: Any] ?? [:])
}

/// Reads a server-sent event stream until `enough` says so (or `timeout`); returns each event's
/// `data` as JSON.
func readEvents(
    _ url: String, timeout: Duration = .seconds(30), until enough: ([[String: Any]]) -> Bool
) async throws -> [[String: Any]] {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
    var events: [[String: Any]] = []
    var pending = ""
    let deadline = ContinuousClock.now + timeout
    for try await chunk in response.body {
        pending += String(buffer: chunk)
        while let end = pending.range(of: "\n\n") {
            let block = pending[..<end.lowerBound]
            pending = String(pending[end.upperBound...])
            for line in block.split(separator: "\n") where line.hasPrefix("data: ") {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
                {
                    events.append(object)
                }
            }
        }
        if enough(events) || ContinuousClock.now > deadline { break }
    }
    return events
}

func post(_ url: String, body: String = "", headers: [String: String] = [:]) async throws -> (
    status: Int, json: [String: Any]
) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let data = try await response.body.collect(upTo: 1 << 20)
    let object = try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))
    return (Int(response.status.code), object as? [String: Any] ?? [:])
}

/// A Metropulse process run in this test process: real services, real sockets, real SQLite file.
final class RunningApp: Sendable {
    let runtime: MetropulseRuntime
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int

    static func start(_ configuration: MetropulseConfiguration, roles: Roles = .all) async throws -> RunningApp {
        let bound = AsyncStream<Int>.makeStream()
        let runtime = try MetropulseRuntime(
            configuration: configuration, configurationPath: nil, roles: roles, logger: quietLogger,
            onAPIBound: { bound.continuation.yield($0) })
        try await runtime.backend.prepare()
        let group = runtime.serviceGroup(signals: [])
        let task = Task { try await group.run() }
        var iterator = bound.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return RunningApp(runtime: runtime, group: group, task: task, port: port)
    }

    private init(runtime: MetropulseRuntime, group: ServiceGroup, task: Task<Void, any Error>, port: Int) {
        self.runtime = runtime
        self.group = group
        self.task = task
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Graceful stop, as on SIGTERM: in-flight tasks finish first.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
        try runtime.backend.close()
    }
}

func configuration(database: String, sources: [SourceDefinition]? = nil) -> MetropulseConfiguration {
    var configuration = MetropulseConfiguration()
    configuration.database.path = database
    configuration.api.port = 0
    configuration.api.adminKey = "secret"
    configuration.workers.concurrency = 4
    configuration.workers.heartbeatMillis = 1_000
    if let sources { configuration.sources = sources }
    return configuration
}
