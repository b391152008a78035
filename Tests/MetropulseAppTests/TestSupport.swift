import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import MetropulseApp
import MetropulseCore
import MetropulseSQLite
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
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

/// The admin key of the test configurations (`api.admin_key`).
let testAdminKey = "secret"

/// A GET of `url` carrying `key` in `X-API-Key` (the operator endpoints need one; the others ignore it).
func keyed(_ url: String, _ key: String?) -> HTTPClientRequest {
    var request = HTTPClientRequest(url: url)
    if let key { request.headers.add(name: "X-API-Key", value: key) }
    return request
}

/// GET a JSON document over real HTTP on loopback.
func getJSON(_ url: String, key: String? = testAdminKey) async throws -> (status: Int, json: [String: Any]) {
    let response = try await HTTPClient.shared.execute(keyed(url, key), timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 64 << 20)
    let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
    return (Int(response.status.code), object as? [String: Any] ?? [:])
}

/// A response body as text.
func getText(_ url: String, key: String? = testAdminKey) async throws -> String {
    let response = try await HTTPClient.shared.execute(keyed(url, key), timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 64 << 20)
    return String(decoding: body.readableBytesView, as: UTF8.self)
}

/// Reads a server-sent event stream until `enough` says so (or `timeout`); returns each event's
/// `data` as JSON.
func readEvents(
    _ url: String, lastEventID: String? = nil, timeout: Duration = .seconds(30),
    until enough: ([[String: Any]]) -> Bool
) async throws -> [[String: Any]] {
    var request = keyed(url, testAdminKey)
    if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
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
    configuration.api.adminKey = testAdminKey
    configuration.workers.concurrency = 4
    configuration.workers.heartbeatMillis = 1_000
    if let sources { configuration.sources = sources }
    return configuration
}

/// A feed publisher on a loopback port, serving `router`; cancel the task to stop it.
struct Publisher {
    let port: Int
    let task: Task<Void, any Error>

    static func start(_ router: Router<BasicRequestContext>) async throws -> Publisher {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return Publisher(port: port, task: task)
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }
}

/// A minimal GBFS v2.3 system: discovery pointing at a station_status with the given body.
enum TinyGBFS {
    /// Serves `PREFIX/gbfs.json`, pointing at `PREFIX/station_status.json` on the same host.
    static func serveDiscovery(on router: Router<BasicRequestContext>, prefix: String = "") {
        let folder = prefix.isEmpty ? "" : "/\(prefix)"
        router.get("\(prefix.isEmpty ? "" : prefix + "/")gbfs.json") { request, _ -> String in
            discovery(base: "http://\(request.head.authority ?? "")\(folder)")
        }
    }

    static func discovery(base: String) -> String {
        """
        {"last_updated": \(Int(Date().timeIntervalSince1970)), "ttl": 0, "version": "2.3",
         "data": {"en": {"feeds": [{"name": "station_status", "url": "\(base)/station_status.json"}]}}}
        """
    }

    static func status(lastUpdated: Int, bikes: Int, ttl: Int = 0) -> String {
        """
        {"last_updated": \(lastUpdated), "ttl": \(ttl), "version": "2.3", "data": {"stations": [
         {"station_id": "s1", "num_bikes_available": \(bikes), "num_docks_available": 4, "is_installed": true,
          "is_renting": true, "is_returning": true, "last_reported": \(lastUpdated)}]}}
        """
    }
}

/// A SQLite store in a fresh folder, with a configuration file naming one disabled GBFS source,
/// and rounds of its stations written as that source's runs: for tests whose processes read what
/// the test writes (streams, webhooks).
final class StationRounds: Sendable {
    let folder: String
    let path: String
    let configPath: String
    let sourceID: String
    let store: SQLiteBackend
    private let round = Mutex(0)

    init(sourceID: String) throws {
        folder = try temporaryFolder()
        path = folder + "/stations.sqlite"
        configPath = folder + "/sources.yaml"
        self.sourceID = sourceID
        try """
        sources:
          - id: \(sourceID)
            kind: gbfs
            url: http://127.0.0.1:9/gbfs.json
            enabled: false
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        store = try SQLiteBackend(path: path)
    }

    /// One run of the source with these stations' bikes (of 30 docks), observed now.
    func write(_ bikes: [(id: String, bikes: Int)]) async throws {
        let number = round.withLock {
            $0 += 1
            return $0
        }
        let at = WallClock.system.nowMillis
        let observations = bikes.map { station in
            StationObservation(
                sourceID: sourceID, stationID: station.id, name: "Station \(station.id)", latitude: 48.85,
                longitude: 2.35, capacity: 30, bikesAvailable: station.bikes, docksAvailable: 30 - station.bikes,
                isInstalled: true, isRenting: true, isReturning: true, observedAt: at)
        }
        let id = "\(sourceID)-\(number)"
        try await store.write([
            RunResult(
                run: TaskRun(
                    id: id, jobID: id, taskID: nil, sourceID: sourceID, attempt: 1, workerID: "test",
                    status: .succeeded, startedAt: at - 10, finishedAt: at, entityCount: observations.count),
                observations: ObservationBatch(stations: observations), outcome: nil)
        ])
    }
}
