import AsyncHTTPClient
public import Foundation
import Logging
import MetropulseApp
import MetropulseCore
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// One station update published to every SSE subscriber of one process, measured from the
/// publish to each subscriber's receipt, against FastAPI with `sse-starlette` in the same run.
///
/// Metropulse runs as `serve` does (SQLite, every role) in this process: the update is a run
/// committed through the workers' committer, which the live feed reads at once and sends to every
/// subscriber of `/api/stream?topics=stations&source=bench`. FastAPI (uvicorn, one worker: the
/// subscribers must share one process to be fanned out to) holds one `asyncio.Queue` per
/// subscriber and a `POST /publish` puts the update in each. The subscribers are the same client
/// on both sides: a child process (`metropulse bench fanout-clients`) holding every connection
/// on NIO, noting when each one has the update (monotonic clock, shared by both processes).
///
/// Each side is tried at `subscribers`, then half as many until its p99 is under the target with
/// every update delivered: the subscribers each holds at that p99 give the ratio. Memory per idle
/// subscriber is the server's resident growth from before the subscribers connected to after all
/// had their snapshot, divided by their number.
public struct FanoutBenchmark: Sendable {
    public var subscribers: Int
    public var rounds: Int
    public var stations: Int
    public var python: String
    public var executable: String
    public var directory: String
    public var targetMillis: Double = 100

    public init(
        subscribers: Int, rounds: Int, stations: Int, python: String, executable: String, directory: String
    ) {
        self.subscribers = max(1, subscribers)
        self.rounds = max(2, rounds)
        self.stations = max(1, stations)
        self.python = python
        self.executable = executable
        self.directory = directory
    }

    /// One side at one number of subscribers.
    public struct Step: Sendable {
        public var subscribers: Int
        public var connected: Int
        /// Publish to receipt, ms, every subscriber of every measured round.
        public var latencies: [Double]
        /// Receipts expected but not seen within the round's timeout.
        public var missed: Int
        /// Server resident growth per connected subscriber, bytes.
        public var bytesPerSubscriber: Double

        public func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
        }

        func held(target: Double) -> Bool {
            connected == subscribers && missed == 0 && !latencies.isEmpty && percentile(0.99) < target
        }
    }

    public struct Side: Sendable {
        public var name: String
        public var steps: [Step]
        public var target: Double

        /// The most subscribers held at the target p99 with every update delivered.
        public var held: Int { steps.filter { $0.held(target: target) }.map(\.subscribers).max() ?? 0 }
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var ours: Side
        public var theirs: Side
        public var subscribers: Int
        public var rounds: Int
        public var stations: Int
        public var target: Double

        public var description: String {
            var lines = [
                "fan-out: one station update published to every SSE subscriber of one process (\(rounds) updates, a source of \(stations) stations)",
                "| server | subscribers | connected | p50 ms | p99 ms | max ms | missed | KiB per idle subscriber |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for side in [ours, theirs] {
                for step in side.steps {
                    lines.append(
                        "| \(side.name) | \(step.subscribers) | \(step.connected) | "
                            + String(
                                format: "%.1f | %.1f | %.1f | %d | %.1f |", step.percentile(0.5),
                                step.percentile(0.99), step.latencies.max() ?? .nan, step.missed,
                                step.bytesPerSubscriber / 1024))
                }
            }
            let first = ours.steps.first
            let p99 = first?.percentile(0.99) ?? .nan
            let memory = (first?.bytesPerSubscriber ?? .nan) / 1024
            lines.append(
                "subscribers held at p99 < \(Int(target)) ms: Metropulse \(ours.held), FastAPI + sse-starlette \(theirs.held)"
                    + (theirs.held > 0
                        ? String(format: ", ratio %.1f", Double(ours.held) / Double(theirs.held))
                        : (ours.held > 0 ? ", FastAPI held none of the sizes tried" : "")))
            lines.append(
                "targets at \(subscribers) subscribers: p99 < \(Int(target)) ms "
                    + (first?.held(target: target) == true ? "met" : "not met") + String(format: " (%.1f ms)", p99)
                    + ", < 10 KiB per idle subscriber " + (memory < 10 ? "met" : "not met")
                    + String(format: " (%.1f KiB)", memory))
            return lines.joined(separator: "\n")
        }

        public var met: Bool {
            guard let first = ours.steps.first else { return false }
            return first.held(target: target) && first.bytesPerSubscriber / 1024 < 10
        }
    }

    static let starletteApp = #"""
        import asyncio, os
        from fastapi import FastAPI, Request
        from sse_starlette.sse import EventSourceResponse

        app = FastAPI()
        SNAPSHOT = open(os.environ["SNAPSHOT"]).read()
        queues = set()

        @app.get("/api/stream")
        async def stream(request: Request):
            queue = asyncio.Queue(maxsize=64)
            queues.add(queue)

            async def events():
                try:
                    yield {"event": "snapshot", "data": SNAPSHOT}
                    while True:
                        yield {"event": "update", "data": await queue.get()}
                finally:
                    queues.discard(queue)

            return EventSourceResponse(events(), ping=15)

        @app.post("/publish")
        async def publish(request: Request):
            data = (await request.body()).decode()
            for queue in list(queues):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(data)
            return {"subscribers": len(queues)}
        """#

    func progress(_ text: String) {
        FileHandle.standardError.write(Data("  \(text)\n".utf8))
    }

    /// The sizes tried: `subscribers`, then halves down to 125.
    var ladder: [Int] {
        var sizes = [subscribers]
        while let last = sizes.last, last / 2 >= 125 { sizes.append(last / 2) }
        return sizes
    }

    public func run() async throws -> Report {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw DashboardBenchmark.BenchError(
                description: "needs a Python with fastapi, uvicorn, sse-starlette: \(python) not found")
        }
        let folder = directory + "/bench-fanout-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var ourSteps: [Step] = []
        var snapshot = ""
        for size in ladder {
            let (step, data) = try await measureOurs(subscribers: size, folder: folder)
            ourSteps.append(step)
            snapshot = data
            if step.held(target: targetMillis) { break }
        }
        try snapshot.write(toFile: folder + "/snapshot.json", atomically: true, encoding: .utf8)
        try Self.starletteApp.write(toFile: folder + "/app.py", atomically: true, encoding: .utf8)
        var theirSteps: [Step] = []
        for size in ladder {
            let step = try await measureTheirs(subscribers: size, folder: folder)
            theirSteps.append(step)
            if step.held(target: targetMillis) { break }
        }
        return Report(
            ours: Side(name: "Metropulse", steps: ourSteps, target: targetMillis),
            theirs: Side(name: "FastAPI + sse-starlette", steps: theirSteps, target: targetMillis),
            subscribers: subscribers, rounds: rounds, stations: stations, target: targetMillis)
    }

    func measureOurs(subscribers: Int, folder: String) async throws -> (Step, String) {
        let server = try Child(
            executable: executable,
            arguments: [
                "bench", "fanout-server", "--subscribers", String(subscribers), "--stations", String(stations),
                "--directory", folder,
            ])
        defer { server.stop() }
        let bound = try await server.line(timeout: .seconds(120))
        guard bound.hasPrefix("port "), let port = Int(bound.dropFirst(5)) else {
            throw DashboardBenchmark.BenchError(description: "the Metropulse server did not start: \(bound)")
        }
        let streamPath = "/api/stream?topics=stations&source=bench"
        // The snapshot's data, which FastAPI then sends as its own snapshot: the same bytes.
        let snapshot = try await firstData(url: "http://127.0.0.1:\(port)\(streamPath)")
        progress("Metropulse: \(subscribers) subscribers")
        let step = try await measure(
            subscribers: subscribers, port: port, path: streamPath, server: server.process.processIdentifier
        ) { marker in
            server.send("publish \(marker)")
            let answer = try await server.line(timeout: .seconds(30))
            guard answer.hasPrefix("published "), let at = UInt64(answer.dropFirst(10)) else {
                throw DashboardBenchmark.BenchError(description: "the Metropulse server did not publish: \(answer)")
            }
            return at
        }
        server.send("quit")
        return (step, snapshot)
    }

    func measureTheirs(subscribers: Int, folder: String) async throws -> Step {
        let port = try WebDriver.freeLoopbackPort()
        let uvicorn = try ServeBenchmark.uvicorn(
            python: python, folder: folder, port: port, options: ["--backlog", "4096"],
            environment: ["SNAPSHOT": folder + "/snapshot.json"])
        // uvicorn waits for open streams at SIGTERM, which never end: it is killed.
        defer { Child.end(uvicorn, after: .zero) }
        let deadline = Date().addingTimeInterval(30)
        while (try? await post("http://127.0.0.1:\(port)/publish", body: "{}")) == nil {
            guard Date() < deadline else { throw DashboardBenchmark.BenchError(description: "uvicorn does not answer") }
            try await Task.sleep(for: .milliseconds(200))
        }
        progress("FastAPI + sse-starlette: \(subscribers) subscribers")
        return try await measure(
            subscribers: subscribers, port: port, path: "/api/stream", server: uvicorn.processIdentifier
        ) { marker in
            let at = FanoutClients.monotonicNanos()
            _ = try await post(
                "http://127.0.0.1:\(port)/publish",
                body: "{\"stations\":[{\"bikes\":\(marker),\"id\":\"s0\",\"source\":\"bench\"}]}")
            return at
        }
    }

    /// Connects the subscribers (the client child), notes the server's memory, then publishes
    /// `rounds` updates (the first a warm-up), each with a marker the subscribers look for.
    func measure(
        subscribers: Int, port: Int, path: String, server: Int32,
        publish: (Int) async throws -> UInt64
    ) async throws -> Step {
        try await Task.sleep(for: .seconds(1))
        let before = ProcessStats.residentBytes(pid: server) ?? 0
        let clients = try Child(
            executable: executable,
            arguments: [
                "bench", "fanout-clients", "--port", String(port), "--path", path, "--count", String(subscribers),
            ])
        defer { clients.stop() }
        let ready = try await clients.line(timeout: .seconds(180))
        guard ready.hasPrefix("ready ") else {
            throw DashboardBenchmark.BenchError(description: "the subscribers did not connect: \(ready)")
        }
        let connected = Int(ready.split(separator: " ")[1]) ?? 0
        try await Task.sleep(for: .seconds(2))
        let after = ProcessStats.residentBytes(pid: server) ?? 0
        progress(
            "\(connected) connected; \(String(format: "%.1f", Double(after - before) / 1024 / Double(max(1, connected)))) KiB each"
        )
        var latencies: [Double] = []
        var missed = 0
        let cpu = (
            ProcessStats.cpuSeconds(pid: server) ?? 0,
            ProcessStats.cpuSeconds(pid: clients.process.processIdentifier) ?? 0
        )
        for round in 0..<rounds {
            let marker = 1_000_000 + round
            clients.send("expect \(round) \"bikes\":\(marker)")
            guard try await clients.line(timeout: .seconds(10)) == "armed" else {
                throw DashboardBenchmark.BenchError(description: "the subscribers did not arm")
            }
            // When the update was published (monotonic, as the subscribers note their receipts).
            let published = try await publish(marker)
            clients.send("collect 5000")
            let times = try await clients.line(timeout: .seconds(30))
            let values = times.dropFirst("times ".count).split(separator: ",").compactMap { UInt64($0) }
            let seen = values.filter { $0 > 0 }
            if round > 0 {
                latencies += seen.map { Double(Int64($0) - Int64(published)) / 1e6 }
                missed += connected - seen.count
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        let used = (
            (ProcessStats.cpuSeconds(pid: server) ?? 0) - cpu.0,
            (ProcessStats.cpuSeconds(pid: clients.process.processIdentifier) ?? 0) - cpu.1
        )
        progress(
            String(
                format: "CPU during the updates: server %.2f s, subscribers %.2f s (%.0f µs and %.0f µs a delivery)",
                used.0, used.1, used.0 / Double(rounds * max(1, connected)) * 1e6,
                used.1 / Double(rounds * max(1, connected)) * 1e6))
        clients.send("quit")
        let step = Step(
            subscribers: subscribers, connected: connected, latencies: latencies, missed: missed,
            bytesPerSubscriber: Double(after - before) / Double(max(1, connected)))
        progress(
            String(
                format: "p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d missed", step.percentile(0.5), step.percentile(0.99),
                latencies.max() ?? .nan, missed))
        return step
    }

    func firstData(url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        var text = ""
        for try await chunk in response.body {
            text += String(buffer: chunk)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }),
                text.contains("\n\n")
            {
                return String(line.dropFirst(6))
            }
        }
        throw DashboardBenchmark.BenchError(description: "\(url) sent no event")
    }

    func post(_ url: String, body: String) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        guard response.status.code == 200 else {
            throw DashboardBenchmark.BenchError(description: "\(url): HTTP \(response.status.code)")
        }
        return Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
    }

    /// A child process spoken to in lines on its standard input and output.
    final class Child: Sendable {
        let process: Process
        let input: FileHandle
        let lines: LineReader

        init(executable: String, arguments: [String]) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let stdin = Pipe()
            let stdout = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = FileHandle.standardError
            input = stdin.fileHandleForWriting
            lines = LineReader(stdout.fileHandleForReading)
            try process.run()
        }

        func send(_ line: String) {
            input.write(Data((line + "\n").utf8))
        }

        func line(timeout: Duration) async throws -> String {
            guard let line = await lines.next(timeout: timeout) else {
                throw DashboardBenchmark.BenchError(
                    description: "\(process.arguments?.prefix(2).joined(separator: " ") ?? "a child") did not answer")
            }
            return line
        }

        func stop() { Self.end(process, after: .seconds(10)) }

        /// Ends `process`: SIGTERM, then SIGKILL if it still runs after `grace`.
        static func end(_ process: Process, after grace: Duration) {
            guard process.isRunning else { return }
            process.terminate()
            let deadline = ContinuousClock.now + grace
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }
}

/// Lines read from a file handle on a thread of their own, so that no task of the process is
/// blocked waiting for them.
final class LineReader: Sendable {
    private let queue = Mutex<(lines: [String], ended: Bool)>(([], false))

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<end], as: UTF8.self)
                    self.queue.withLock { $0.lines.append(line) }
                    pending = Data(pending[(end + 1)...])
                }
            }
            self.queue.withLock { $0.ended = true }
        }
    }

    /// The next line, or nil at the end or after `timeout`.
    func next(timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (line, ended) = queue.withLock { state -> (String?, Bool) in
                state.lines.isEmpty ? (nil, state.ended) : (state.lines.removeFirst(), false)
            }
            if let line { return line }
            if ended { return nil }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }
}

/// The Metropulse side of `bench fanout`, in a process of its own: runs as `serve` does (SQLite,
/// every role, the source `bench` disabled so only the benchmark's commits change it), prints
/// `port PORT`, then for each `publish MARKER` on standard input commits a run giving station s0
/// MARKER bikes through the workers' committer and answers `published NANOS` (monotonic, taken
/// before the commit). `quit` stops it.
public struct FanoutServer: Sendable {
    public var subscribers: Int
    public var stations: Int
    public var directory: String

    public init(subscribers: Int, stations: Int, directory: String) {
        self.subscribers = subscribers
        self.stations = stations
        self.directory = directory
    }

    static func station(_ i: Int, bikes: Int, now: Int64) -> StationObservation {
        StationObservation(
            sourceID: "bench", stationID: "s\(i)", name: "Station \(i)", latitude: 48.85 + Double(i % 10) * 0.002,
            longitude: 2.34 + Double(i / 10) * 0.002, capacity: 40, bikesAvailable: bikes,
            docksAvailable: max(0, 40 - bikes), isInstalled: true, isRenting: true, isReturning: true,
            observedAt: now)
    }

    static func run(_ id: String, _ observations: [StationObservation], now: Int64) -> RunResult {
        RunResult(
            run: TaskRun(
                id: id, jobID: id, taskID: nil, sourceID: "bench", attempt: 1, workerID: "bench", status: .succeeded,
                startedAt: now - 5, finishedAt: now, entityCount: observations.count),
            observations: ObservationBatch(stations: observations), outcome: nil)
    }

    public func run() async throws {
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let path = directory + "/ours-\(getpid()).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        var configuration = MetropulseConfiguration.benchServe(
            database: path,
            sources: [
                SourceDefinition(id: "bench", kind: .gbfs, urls: ["http://127.0.0.1:9/gbfs.json"], enabled: false)
            ])
        configuration.api.maxConnections = subscribers + 256
        configuration.api.maxStreams = subscribers + 64
        let bound = AsyncStream<Int>.makeStream()
        let runtime = try MetropulseRuntime(
            configuration: configuration, configurationPath: nil, roles: .all, logger: logger,
            onAPIBound: { bound.continuation.yield($0) })
        try await runtime.backend.prepare()
        let now = WallClock.system.nowMillis
        try await runtime.committer.commit([
            Self.run("fill", (0..<stations).map { Self.station($0, bikes: $0 % 40, now: now) }, now: now)
        ])
        let group = runtime.serviceGroup(signals: [])
        let running = Task { try await group.run() }
        defer { running.cancel() }
        var boundIterator = bound.stream.makeAsyncIterator()
        guard let port = await boundIterator.next() else { throw CancellationError() }
        let say = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        say("port \(port)")
        let commands = LineReader(FileHandle.standardInput)
        var round = 0
        while let line = await commands.next(timeout: .seconds(3_600)) {
            let words = line.split(separator: " ")
            if words.first == "publish", words.count == 2, let marker = Int(words[1]) {
                round += 1
                let published = FanoutClients.monotonicNanos()
                let at = WallClock.system.nowMillis
                try await runtime.committer.commit([
                    Self.run("update-\(round)", [Self.station(0, bikes: marker, now: at)], now: at)
                ])
                say("published \(published)")
            } else if line == "quit" {
                break
            }
        }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }
}

/// The subscribers of `bench fanout`: `count` connections to one event stream on loopback, each
/// looking for the marker it is told to expect and noting when it arrives. Commands on standard
/// input, one a line: `expect ROUND MARKER` (answers `armed`), `collect MILLIS` (waits until every
/// subscriber has the marker or for MILLIS, answers `times` and each subscriber's monotonic
/// receipt in ns, 0 when not seen), `quit`. Prints `ready CONNECTED CLOSED` once every
/// subscriber has its first event.
public struct FanoutClients: Sendable {
    public var port: Int
    public var path: String
    public var count: Int

    public init(port: Int, path: String, count: Int) {
        self.port = port
        self.path = path
        self.count = count
    }

    /// Nanoseconds on the system's monotonic clock, the same in every process.
    public static func monotonicNanos() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds
    }

    final class Board: Sendable {
        struct State {
            var round = -1
            var marker: [UInt8] = []
            var times: [UInt64]
            var ready: [Bool]
            var closed = 0
        }

        let state: Mutex<State>

        init(count: Int) {
            state = Mutex(State(times: Array(repeating: 0, count: count), ready: Array(repeating: false, count: count)))
        }
    }

    final class Subscriber: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let index: Int
        let board: Board
        let request: String
        var tail: [UInt8] = []
        var ready = false
        var seenRound = -1

        init(index: Int, board: Board, request: String) {
            self.index = index
            self.board = board
            self.request = request
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let at = FanoutClients.monotonicNanos()
            let buffer = unwrapInboundIn(data)
            let bytes = tail + Array(buffer.readableBytesView)
            let readyNow = !ready && FanoutClients.find(Array("event: snapshot".utf8), in: bytes)
            if readyNow { ready = true }
            let (index, seenRound) = (self.index, self.seenRound)
            let found = board.state.withLock { state -> Int? in
                if readyNow { state.ready[index] = true }
                guard state.round != seenRound, !state.marker.isEmpty, FanoutClients.find(state.marker, in: bytes)
                else { return nil }
                state.times[index] = at
                return state.round
            }
            if let found { self.seenRound = found }
            tail = Array(bytes.suffix(64))
        }

        func channelInactive(context: ChannelHandlerContext) {
            board.state.withLock { $0.closed += 1 }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }

    /// A line to the benchmark, unbuffered.
    func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    public func run() async throws {
        let board = Board(count: count)
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        // Each subscriber's index must be known when its handler is made: one bootstrap each.
        var channels: [any Channel] = []
        var failed = 0
        try await withThrowingTaskGroup(of: (any Channel)?.self) { tasks in
            var next = 0
            func start() {
                let index = next
                next += 1
                tasks.addTask {
                    try? await ClientBootstrap(group: group)
                        .connectTimeout(.seconds(30))
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    Subscriber(index: index, board: board, request: request))
                            }
                        }
                        .connect(host: "127.0.0.1", port: port).get()
                }
            }
            for _ in 0..<min(200, count) { start() }
            while let channel = try await tasks.next() {
                if let channel { channels.append(channel) } else { failed += 1 }
                if next < count { start() }
            }
        }
        // Every connected subscriber has its first event, or a minute has passed.
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let done = board.state.withLock { $0.ready.filter { $0 }.count + $0.closed }
            if done >= channels.count { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let (ready, closed) = board.state.withLock { ($0.ready.filter { $0 }.count, $0.closed) }
        say("ready \(ready) \(closed + failed)")
        let commands = LineReader(FileHandle.standardInput)
        while let line = await commands.next(timeout: .seconds(3_600)) {
            let words = line.split(separator: " ", maxSplits: 2).map(String.init)
            switch words.first {
            case "expect" where words.count == 3:
                board.state.withLock { state in
                    state.round = Int(words[1]) ?? 0
                    state.marker = Array(words[2].utf8)
                    state.times = Array(repeating: 0, count: state.times.count)
                }
                say("armed")
            case "collect" where words.count == 2:
                let until = ContinuousClock.now + .milliseconds(Int(words[1]) ?? 5000)
                while ContinuousClock.now < until {
                    let all = board.state.withLock { state in
                        zip(state.ready, state.times).allSatisfy { !$0.0 || $0.1 > 0 }
                    }
                    if all { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let times = board.state.withLock { state in
                    zip(state.ready, state.times).filter(\.0).map { String($0.1) }.joined(separator: ",")
                }
                say("times \(times)")
            case "quit":
                for channel in channels { channel.close(promise: nil) }
                try? await group.shutdownGracefully()
                return
            default:
                say("unknown command: \(line)")
            }
        }
        try? await group.shutdownGracefully()
    }
}
