import Foundation
import Hummingbird
public import Logging
import MetropulseCore
public import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `metropulse supervise`: runs a scheduler, N worker processes, an API (and a sink with
/// `data_path: kafka`) as children on one machine, restarts a child that exits with backoff,
/// and starts or stops worker processes when scaled (from `metropulse supervise scale N`, or the
/// API's `POST /api/system/workers/scale`, which the API child forwards here). Children share work
/// through the configured PostgreSQL (and Kafka). A loopback control endpoint, named with a token
/// in `<state>/supervise.json`, answers `status`, `scale` and `down`.
public final class Supervisor: Service {
    public struct Configuration: Sendable {
        /// The `metropulse` binary the children run.
        public var binary: String
        /// Arguments every child gets after its role (`--config`, `--workers`, ...).
        public var arguments: [String]
        public var workers: Int
        public var sink: Bool
        /// Logs of the children and the endpoint file.
        public var stateDirectory: String

        public init(binary: String, arguments: [String], workers: Int, sink: Bool, stateDirectory: String) {
            self.binary = binary
            self.arguments = arguments
            self.workers = workers
            self.sink = sink
            self.stateDirectory = stateDirectory
        }
    }

    /// The most worker processes one supervisor runs.
    public static let maxWorkers = 64

    private struct State {
        var children: [SupervisedChild] = []
        var workers: Int
        var down = false
        var endpoint: SupervisorEndpoint?
    }

    let configuration: Configuration
    private let state: Mutex<State>
    private let wake = AsyncSignal()
    private let logger: Logger
    private let token: String
    private let clock = WallClock.system

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.state = Mutex(State(workers: configuration.workers))
        self.logger = logger
        self.token = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
    }

    public static func endpointPath(_ stateDirectory: String) -> String { stateDirectory + "/supervise.json" }

    public func run() async throws {
        try FileManager.default.createDirectory(
            atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let control = ServiceGroup(
            configuration: .init(services: [controlServer { continuation.yield($0) }], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await control.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            let endpoint = SupervisorEndpoint(pid: getpid(), url: "http://127.0.0.1:\(port)", token: token)
            try writeEndpoint(endpoint)
            state.withLock { $0.endpoint = endpoint }
            logger.notice(
                "supervising", metadata: ["workers": "\(configuration.workers)", "control": "\(endpoint.url)"])
            await withGracefulShutdownHandler {
                await self.superviseLoop(endpoint)
            } onGracefulShutdown: {
                self.state.withLock { $0.down = true }
                self.wake.notify()
            }
            try? FileManager.default.removeItem(atPath: Self.endpointPath(configuration.stateDirectory))
            await control.triggerGracefulShutdown()
        }
        logger.notice("every child stopped; supervisor exits")
    }

    /// Starts the roles, keeps them running and the workers at their number, and stops them all
    /// on `down` or SIGTERM.
    private func superviseLoop(_ endpoint: SupervisorEndpoint) async {
        var fixed = ["scheduler", "api"]
        if configuration.sink { fixed.append("sink") }
        for role in fixed {
            var environment: [String: String] = [:]
            if role == "api" {
                environment["METROPULSE_SUPERVISOR_URL"] = endpoint.url
                environment["METROPULSE_SUPERVISOR_TOKEN"] = endpoint.token
            }
            add(child(name: role, role: role, environment: environment))
        }
        while true {
            let now = clock.nowMillis
            if state.withLock({ $0.down }) { break }
            reconcileWorkers()
            for child in state.withLock({ $0.children }) where !child.hasStarted || child.dueForRestart(now: now) {
                let crashed = child.hasStarted
                do {
                    try child.start(now: now)
                    if crashed {
                        logger.warning(
                            "child restarted", metadata: ["child": "\(child.name)", "restarts": "\(child.restarts)"])
                    } else {
                        logger.info("child started", metadata: ["child": "\(child.name)", "pid": "\(child.pid ?? 0)"])
                    }
                } catch {
                    logger.error(
                        "child could not start", metadata: ["child": "\(child.name)", "error": "\(error)"])
                }
            }
            await wake.wait(timeoutMillis: 250)
        }
        await stopAll()
    }

    /// Starts workers up to the wanted number; asks the newest ones to stop past it, and forgets
    /// the ones that stopped.
    private func reconcileWorkers() {
        let (workers, wanted) = state.withLock { state in
            state.children.removeAll { $0.role == "worker" && $0.stopping && !$0.isRunning }
            return (state.children.filter { $0.role == "worker" && !$0.stopping }, state.workers)
        }
        if workers.count < wanted {
            // The lowest free numbers, also past workers still stopping.
            var taken = Set(state.withLock { $0.children.map(\.name) })
            var index = 1
            for _ in workers.count..<wanted {
                while taken.contains("worker-\(index)") { index += 1 }
                taken.insert("worker-\(index)")
                add(child(name: "worker-\(index)", role: "worker", environment: [:]))
            }
        } else if workers.count > wanted {
            let newestFirst = workers.sorted { Self.index($0.name) > Self.index($1.name) }
            for worker in newestFirst.prefix(workers.count - wanted) {
                logger.info("worker stopped: scaled down", metadata: ["child": "\(worker.name)"])
                worker.stop()
            }
        }
    }

    private static func index(_ name: String) -> Int { Int(name.split(separator: "-").last ?? "") ?? 0 }

    private func child(name: String, role: String, environment: [String: String]) -> SupervisedChild {
        SupervisedChild(
            name: name, role: role, binary: configuration.binary, arguments: [role] + configuration.arguments,
            environment: environment, stateDirectory: configuration.stateDirectory)
    }

    private func add(_ child: SupervisedChild) {
        state.withLock { $0.children.append(child) }
    }

    /// SIGTERM to every child (workers finish their tasks); SIGKILL to those still running after
    /// 90 s.
    private func stopAll() async {
        let children = state.withLock { $0.children }
        for child in children { child.stop() }
        let deadline = ContinuousClock.now + .seconds(90)
        while children.contains(where: \.isRunning), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for child in children where child.isRunning {
            logger.error("child did not stop within 90 s; killed", metadata: ["child": "\(child.name)"])
            child.signal(SIGKILL)
        }
    }

    /// The children now.
    public func status() -> SupervisorStatus {
        state.withLock { state in
            SupervisorStatus(
                pid: getpid(), workers: state.workers,
                children: state.children.map { c in
                    SupervisorStatus.Child(
                        name: c.name, role: c.role, pid: c.pid, running: c.isRunning, restarts: c.restarts,
                        startedAt: c.startedAt, exitStatus: c.exitStatus, log: c.logPath)
                }, stopping: state.down)
        }
    }

    /// Sets the number of worker processes (`count`) or changes it (`delta`); returns it before and after.
    public func scale(count: Int?, delta: Int?) throws(SupervisorError) -> (before: Int, after: Int) {
        if (count == nil) == (delta == nil) { throw SupervisorError("count or delta: give exactly one") }
        let result = try state.withLock { state throws(SupervisorError) -> (Int, Int) in
            let wanted = count ?? (state.workers + (delta ?? 0))
            guard (0...Self.maxWorkers).contains(wanted) else {
                throw SupervisorError(
                    "\(count != nil ? "count" : "delta") must leave 0 to \(Self.maxWorkers) worker processes; it asks for \(wanted)"
                )
            }
            defer { state.workers = wanted }
            return (state.workers, wanted)
        }
        logger.notice("worker processes scaled", metadata: ["from": "\(result.0)", "to": "\(result.1)"])
        wake.notify()
        return result
    }

    public func down() {
        state.withLock { $0.down = true }
        wake.notify()
    }

    private func writeEndpoint(_ endpoint: SupervisorEndpoint) throws {
        let path = Self.endpointPath(configuration.stateDirectory)
        let data = try JSONEncoder().encode(endpoint)
        FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
    }

    // MARK: The control endpoint (loopback, token)

    struct ScaleBody: Codable {
        var count: Int?
        var delta: Int?
    }

    struct ScaleAnswer: ResponseCodable {
        var before: Int
        var after: Int
    }

    private func controlServer(onPort: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        let router = Router()
        let token = self.token
        router.add(middleware: SupervisorTokenMiddleware(token: token))
        router.get("status") { _, _ in try JSONResponse(self.status()) }
        router.post("scale") { request, context in
            let body = try await request.decode(as: ScaleBody.self, context: context)
            do {
                let (before, after) = try self.scale(count: body.count, delta: body.delta)
                return try JSONResponse(ScaleAnswer(before: before, after: after))
            } catch let error as SupervisorError {
                throw HTTPError(.badRequest, message: error.description)
            }
        }
        router.post("down") { _, _ in
            self.down()
            return try JSONResponse(self.status())
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "metropulse-supervise"),
            onServerRunning: { onPort($0.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// A refused supervisor request, with the reason.
public struct SupervisorError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// True when the supervisor answered and refused (a bad count); false when it was not reached.
    public var refused: Bool
    public init(_ description: String, refused: Bool = true) {
        self.description = description
        self.refused = refused
    }
}

/// Only callers holding the token from `supervise.json` may use the control endpoint.
struct SupervisorTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let given = Array((request.headers[.init("X-Supervisor-Token")!] ?? "").utf8)
        let expected = Array(token.utf8)
        var difference = given.count ^ expected.count
        for (index, byte) in expected.enumerated() {
            difference |= Int(byte ^ (index < given.count ? given[index] : 0))
        }
        guard difference == 0 else { throw HTTPError(.unauthorized, message: "a supervisor token is needed") }
        return try await next(request, context)
    }
}

/// A JSON answer of the control endpoint.
struct JSONResponse: ResponseGenerator {
    let data: Data

    init<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        data = try encoder.encode(value)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
