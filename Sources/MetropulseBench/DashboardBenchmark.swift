import AsyncHTTPClient
public import Foundation
import Hummingbird
public import Logging
import MetropulseAPI
import MetropulseConnectors
import MetropulseCore
import MetropulseSQLite
import MetropulseWeb
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// `metropulse bench dashboard`: the live map with a Paris-size city (1,500 stations, 300
/// vehicles) in headless Chromium, driven through chromedriver's WebDriver protocol. Reports the
/// time to the first full render (navigation start to the first snapshot applied on the map) and
/// the time to apply one live update of every station (the update applied and the next frame
/// painted), against the same page with no markers (an empty store) as the baseline, measured in
/// the same run, alternating. Targets: first render under 1.5 × the baseline + 500 ms; a full
/// update under 100 ms.
public struct DashboardBenchmark: Sendable {
    public var stations: Int
    public var vehicles: Int
    public var rounds: Int
    public var chromium: String
    public var chromedriver: String
    public var directory: String
    let logger: Logger

    public init(
        stations: Int, vehicles: Int, rounds: Int, chromium: String, chromedriver: String, directory: String,
        logger: Logger
    ) {
        self.stations = stations
        self.vehicles = vehicles
        self.rounds = rounds
        self.chromium = chromium
        self.chromedriver = chromedriver
        self.directory = directory
        self.logger = logger
    }

    struct BenchError: Error, CustomStringConvertible {
        var description: String
    }

    /// One API and pages server on a store of its own, on a loopback port.
    final class Server: Sendable {
        let store: SQLiteBackend
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let port: Int
        let folder: String

        init(folder: String, sources: [SourceDefinition], logger: Logger, fill: (SQLiteBackend) async throws -> Void)
            async throws
        {
            self.folder = folder
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            store = try SQLiteBackend(path: folder + "/bench.sqlite")
            try await fill(store)
            let environment = APIEnvironment(
                store: store, queue: store, bus: InProcessControlBus(), catalog: SourceCatalog(sources, cities: []),
                runNow: nil, adminKey: nil, connectors: StandardConnectors.descriptions, logger: logger)
            let site = try WebSite.load(WebSettings(tileURL: ""), logger: logger)
            let pages = WebPages(site: site, environment: environment)
            let bound = AsyncStream<Int>.makeStream()
            let app = buildApplication(
                environment,
                server: APIServerSettings(host: "127.0.0.1", port: 0, idleTimeoutMillis: 60_000, maxConnections: 256),
                site: { pages.addRoutes(to: $0) }, onServerRunning: { bound.continuation.yield($0) })
            group = ServiceGroup(configuration: .init(services: [app], logger: logger))
            let group = self.group
            task = Task { try await group.run() }
            var port = 0
            for await p in bound.stream {
                port = p
                break
            }
            self.port = port
        }

        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            try? store.close()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    func progress(_ text: String) {
        FileHandle.standardError.write(Data("  \(text)\n".utf8))
    }

    public func run() async throws -> String {
        guard FileManager.default.isExecutableFile(atPath: chromium),
            FileManager.default.isExecutableFile(atPath: chromedriver)
        else {
            throw BenchError(
                description: "needs Debian's chromium and chromium-driver (\(chromium), \(chromedriver) not found)")
        }
        let root = directory + "/metropulse-dashboard-\(UUID().uuidString.prefix(8))"
        let sources = [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"]),
            SourceDefinition(id: "metro", kind: .gtfsRT, urls: ["http://127.0.0.1:1/vp.pb"], tags: ["network": "city"]),
        ]
        let now = WallClock.system.nowMillis
        let (stations, vehicles) = (self.stations, self.vehicles)
        let city = try await Server(folder: root + "/city", sources: sources, logger: logger) { store in
            try await Self.fill(store, stations: stations, vehicles: vehicles, now: now)
        }
        progress("city server on port \(city.port)")
        let empty = try await Server(folder: root + "/empty", sources: sources, logger: logger) { _ in }
        progress("baseline server on port \(empty.port); starting Chromium")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let driver = try await WebDriver.start(chromium: chromium, chromedriver: chromedriver)
        progress("browser session \(driver.session)")
        var lines: [String] = []
        do {
            var full: [Double] = []
            var baseline: [Double] = []
            var updates: [Double] = []
            var markers = 0
            for round in 0..<(rounds + 1) {
                // Alternating, the first round a warm-up: the browser's caches and the servers' first answers.
                let b = try await firstRender(driver, port: empty.port, expect: 0)
                let (f, count) = try await firstRenderCount(driver, port: city.port, expect: stations)
                let u = try await fullUpdate(driver)
                progress(String(format: "round %d: baseline %.0f ms, city %.0f ms, update %.1f ms", round, b, f, u))
                if round > 0 {
                    baseline.append(b)
                    full.append(f)
                    updates.append(u)
                    markers = count
                }
            }
            try await driver.stop()
            await city.stop()
            await empty.stop()
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            let (f, b, u) = (median(full), median(baseline), median(updates))
            let target = 1.5 * b + 500
            lines.append("dashboard: the live map in headless Chromium, \(rounds) rounds after a warm-up (medians)")
            lines.append("  city: \(stations) stations and \(vehicles) vehicles; \(markers) station markers drawn")
            lines.append(
                String(
                    format:
                        "  first full render   %7.0f ms   baseline (no markers) %5.0f ms   ratio %.2f   target < %.0f ms (1.5 × baseline + 500): %@",
                    f, b, f / max(b, 1), target, f < target ? "met" : "NOT met"))
            lines.append(
                String(
                    format: "  update of every station applied and painted %6.1f ms   target < 100 ms: %@", u,
                    u < 100 ? "met" : "NOT met"))
            return lines.joined(separator: "\n")
        } catch {
            try? await driver.stop()
            await city.stop()
            await empty.stop()
            throw error
        }
    }

    func firstRender(_ driver: WebDriver, port: Int, expect: Int) async throws -> Double {
        try await firstRenderCount(driver, port: port, expect: expect).0
    }

    /// Milliseconds from navigation start to the first snapshot applied on the map, and the station markers.
    func firstRenderCount(_ driver: WebDriver, port: Int, expect: Int) async throws -> (Double, Int) {
        try await driver.navigate("http://127.0.0.1:\(port)/")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let value = try await driver.execute(
                "const m = window.metropulseMap; return m && m.stats.firstRenderAt !== null ? [m.stats.firstRenderAt, m.stationCount()] : null;"
            )
            if let pair = value as? [Any], let at = (pair[0] as? NSNumber)?.doubleValue,
                let count = (pair[1] as? NSNumber)?.intValue
            {
                guard count == expect else {
                    throw BenchError(description: "the map drew \(count) station markers, expected \(expect)")
                }
                return (at, count)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError(description: "the map did not render within 30 s")
    }

    /// Applies a change of every station's counts, waits for the frame after it, and returns the time taken.
    func fullUpdate(_ driver: WebDriver) async throws -> Double {
        let script = """
            const done = arguments[arguments.length - 1];
            const m = window.metropulseMap;
            const stations = m.stationKeys().map((k) => { const s = m.station(k);
              return { ...s, bikes: s.bikes === 0 ? 5 : 0, docks: s.bikes === 0 ? 0 : 9, observed: Date.now() }; });
            const started = performance.now();
            m.apply({ snapshot: false, stations });
            requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - started)));
            """
        guard let value = try await driver.executeAsync(script) as? NSNumber else {
            throw BenchError(description: "the update script returned no time")
        }
        return value.doubleValue
    }

    /// 1,500 stations and 300 vehicles around Paris, as one run of each source.
    static func fill(_ store: SQLiteBackend, stations: Int, vehicles: Int, now: Int64) async throws {
        var random = SystemRandomNumberGenerator()
        let observations = (0..<stations).map { i -> StationObservation in
            let capacity = Int.random(in: 10...40, using: &random)
            let bikes = Int.random(in: 0...capacity, using: &random)
            return StationObservation(
                sourceID: "bikes", stationID: "\(10_000 + i)", name: "Station \(i)",
                latitude: 48.8566 + Double.random(in: -0.06...0.06, using: &random),
                longitude: 2.3522 + Double.random(in: -0.09...0.09, using: &random), capacity: capacity,
                bikesAvailable: bikes, ebikesAvailable: bikes / 3, docksAvailable: capacity - bikes, isInstalled: true,
                isRenting: true, isReturning: true, observedAt: now - 30_000)
        }
        let positions = (0..<vehicles).map { i in
            VehiclePosition(
                sourceID: "metro", vehicleID: "v\(i)", routeID: "L\(i % 16)",
                latitude: 48.8566 + Double.random(in: -0.06...0.06, using: &random),
                longitude: 2.3522 + Double.random(in: -0.09...0.09, using: &random),
                bearing: Double.random(in: 0..<360, using: &random), observedAt: now - 10_000)
        }
        func run(_ source: String, _ batch: ObservationBatch) -> RunResult {
            RunResult(
                run: TaskRun(
                    id: "\(source)@\(now)", jobID: "\(source)@\(now)", taskID: nil, sourceID: source, attempt: 1,
                    workerID: "bench", status: .succeeded, startedAt: now - 20, finishedAt: now,
                    entityCount: batch.count),
                observations: batch, outcome: nil)
        }
        try await store.write([
            run("bikes", ObservationBatch(stations: observations)),
            run("metro", ObservationBatch(vehicles: positions, transitSnapshot: true, transitObservedAt: now - 10_000)),
        ])
    }
}

/// The few WebDriver commands the benchmark needs, against a chromedriver child process.
final class WebDriver: Sendable {
    let process: Process
    let base: String
    let session: String
    let client: HTTPClient

    init(process: Process, base: String, session: String, client: HTTPClient) {
        self.process = process
        self.base = base
        self.session = session
        self.client = client
    }

    static func start(chromium: String, chromedriver: String) async throws -> WebDriver {
        let port = try freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromedriver)
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let base = "http://127.0.0.1:\(port)"
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": chromium,
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--window-size=1280,800",
                        ],
                    ],
                ]
            ]
        ]
        var session: String?
        let deadline = Date().addingTimeInterval(15)
        while session == nil && Date() < deadline {
            if let answer = try? await call(client, "POST", base + "/session", capabilities),
                let value = answer["value"] as? [String: Any], let id = value["sessionId"] as? String
            {
                session = id
            } else {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        guard let session else {
            process.terminate()
            try await client.shutdown()
            throw DashboardBenchmark.BenchError(description: "chromedriver gave no browser session within 15 s")
        }
        return WebDriver(process: process, base: base, session: session, client: client)
    }

    func navigate(_ url: String) async throws {
        _ = try await Self.call(client, "POST", "\(base)/session/\(session)/url", ["url": url])
    }

    func execute(_ script: String) async throws -> Any? {
        try await Self.call(client, "POST", "\(base)/session/\(session)/execute/sync", ["script": script, "args": []])[
            "value"]
    }

    func executeAsync(_ script: String) async throws -> Any? {
        try await Self.call(
            client, "POST", "\(base)/session/\(session)/execute/async", ["script": script, "args": []])[
                "value"]
    }

    func stop() async throws {
        _ = try? await Self.call(client, "DELETE", "\(base)/session/\(session)", nil)
        process.terminate()
        for _ in 0..<50 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try await client.shutdown()
    }

    static func call(_ client: HTTPClient, _ method: String, _ url: String, _ body: [String: Any]?) async throws
        -> [String: Any]
    {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Content-Type", value: "application/json")
        if let body {
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] ?? [:]
        if response.status.code >= 400 {
            let message = ((object["value"] as? [String: Any])?["message"] as? String) ?? "HTTP \(response.status.code)"
            throw DashboardBenchmark.BenchError(description: "WebDriver \(method) \(url): \(message)")
        }
        return object
    }

    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DashboardBenchmark.BenchError(description: "no socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw DashboardBenchmark.BenchError(description: "cannot bind a loopback port") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
