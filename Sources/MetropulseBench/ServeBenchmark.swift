import AsyncHTTPClient
public import Foundation
import GRDB
import Logging
import MetropulseAPI
import MetropulseCore
import MetropulseSQLite
import NIOCore
import NIOHTTP1

/// The answers a city app asks for thousands of times a second, loaded with `wrk` (Debian):
/// a source's stations (300 and 1,500, and 1,500 gzip-encoded), the board of a line and the
/// stations near a point, from Metropulse's API in this process, from FastAPI with uvicorn (two workers) reading the same rows from a plain SQLite
/// table (the seeds' stack), and from nginx serving Metropulse's answer bytes as static files (the
/// machine's limit), in one run. Each server is loaded at its maximum (`connections` at once), then
/// Metropulse again at about half its maximum rate (wrk's per-connection delay) for its p99.
public struct ServeBenchmark: Sendable {
    public var python: String
    public var nginx: String
    public var wrk: String
    public var seconds: Int
    public var connections: Int
    public var directory: String

    public init(python: String, nginx: String, wrk: String, seconds: Int, connections: Int, directory: String) {
        self.python = python
        self.nginx = nginx
        self.wrk = wrk
        self.seconds = max(2, seconds)
        self.connections = max(2, connections)
        self.directory = directory
    }

    /// What wrk measured.
    public struct Load: Sendable {
        public var rate: Double
        public var p50: Double
        public var p99: Double
    }

    public struct Case: Sendable {
        public var name: String
        public var bytes: Int
        public var metropulse: Load
        public var fastapi: Load?
        public var nginx: Load?
        public var halfRate: Load
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var cases: [Case]
        public var connections: Int
        public var seconds: Int

        public var description: String {
            var lines = [
                "serve: wrk -t2 -c\(connections) -d\(seconds)s on loopback; Metropulse's API in process (SQLite), FastAPI + uvicorn (2 workers, plain SQLite table), nginx (the same bytes, static)",
                "| case | bytes | Metropulse req/s | FastAPI req/s | × FastAPI (target ≥ 5) | nginx req/s | × nginx (target ≥ 0.5) | Metropulse p99 at ~half its max (target < 10 ms) |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for c in cases {
                let fast = c.fastapi.map { String(format: "%.0f", $0.rate) } ?? "—"
                func verdict(_ met: Bool) -> String { met ? "met" : "not met" }
                let fastRatio =
                    c.fastapi.map {
                        let ratio = c.metropulse.rate / max(1, $0.rate)
                        return String(format: "%.1f: ", ratio) + verdict(ratio >= 5)
                    } ?? "—"
                let nginx = c.nginx.map { String(format: "%.0f", $0.rate) } ?? "—"
                let nginxRatio =
                    c.nginx.map {
                        let ratio = c.metropulse.rate / max(1, $0.rate)
                        return String(format: "%.2f: ", ratio) + verdict(ratio >= 0.5)
                    } ?? "—"
                lines.append(
                    "| \(c.name) | \(c.bytes) | \(String(format: "%.0f", c.metropulse.rate)) | \(fast) | \(fastRatio) | \(nginx) | \(nginxRatio) | "
                        + String(format: "%.1f ms at %.0f req/s: ", c.halfRate.p99, c.halfRate.rate)
                        + verdict(c.halfRate.p99 < 10) + " |")
            }
            return lines.joined(separator: "\n")
        }
    }

    static let fastAPIApp = #"""
        import math, os, sqlite3, threading, time
        from datetime import datetime, timezone
        from fastapi import FastAPI, HTTPException
        from fastapi.middleware.gzip import GZipMiddleware
        from fastapi.responses import ORJSONResponse

        app = FastAPI(default_response_class=ORJSONResponse)
        app.add_middleware(GZipMiddleware, minimum_size=1024)
        local = threading.local()

        def db():
            if not hasattr(local, "con"):
                local.con = sqlite3.connect(os.environ["PLAIN_DB"], check_same_thread=False)
                local.con.row_factory = sqlite3.Row
            return local.con

        def station(row, distance=None):
            value = {"source": row["source"], "id": row["id"], "name": row["name"], "lat": row["lat"],
                     "lon": row["lon"], "capacity": row["capacity"], "bikes": row["bikes"],
                     "docks": row["docks"], "status": row["status"], "observed_at": row["observed_at"],
                     "run_id": row["run_id"]}
            if distance is not None:
                value["distance_m"] = round(distance, 1)
            return value

        def metres(lat1, lon1, lat2, lon2):
            p = math.pi / 180
            a = (math.sin((lat2 - lat1) * p / 2) ** 2
                 + math.cos(lat1 * p) * math.cos(lat2 * p) * math.sin((lon2 - lon1) * p / 2) ** 2)
            return 2 * 6371008.8 * math.asin(math.sqrt(a))

        @app.get("/api/stations")
        def stations(source: str | None = None, near: str | None = None, radius_m: float = 1000, limit: int = 5000):
            if near:
                lat, lon = (float(x) for x in near.split(","))
                dlat = radius_m / 111320
                dlon = radius_m / (111320 * max(0.01, math.cos(lat * math.pi / 180)))
                rows = db().execute(
                    "SELECT * FROM stations WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
                    (lat - dlat, lat + dlat, lon - dlon, lon + dlon)).fetchall()
                found = sorted(((metres(lat, lon, r["lat"], r["lon"]), r) for r in rows), key=lambda x: x[0])
                found = [station(r, d) for d, r in found if d <= radius_m][:limit]
                return {"count": len(found), "stations": found}
            rows = db().execute("SELECT * FROM stations WHERE source = ? ORDER BY id LIMIT ?", (source, limit)).fetchall()
            if not rows:
                raise HTTPException(404, "unknown source")
            return {"count": len(rows), "stations": [station(r) for r in rows]}

        def iso(ms):
            return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        @app.get("/api/snapshots/{network}/{line}")
        def line_board(network: str, line: str, per_stop: int = 3):
            now = int(time.time() * 1000)
            rows = db().execute(
                "SELECT * FROM departures WHERE network = ? AND route_id = ? AND expected_at >= ? "
                "ORDER BY stop_sequence, stop_id, expected_at", (network, line, now - 60000)).fetchall()
            if not rows:
                raise HTTPException(404, "unknown line")
            stops, order = {}, []
            for r in rows:
                if r["stop_id"] not in stops:
                    stops[r["stop_id"]] = (r["stop_name"], [])
                    order.append(r["stop_id"])
                if len(stops[r["stop_id"]][1]) < per_stop:
                    stops[r["stop_id"]][1].append({
                        "source": r["source"], "stop_id": r["stop_id"], "stop_name": r["stop_name"],
                        "stop_sequence": r["stop_sequence"], "line": r["route_id"], "trip_id": r["trip_id"],
                        "direction_id": 0, "scheduled_at": iso(r["scheduled_at"]), "expected_at": iso(r["expected_at"]),
                        "delay_seconds": r["delay_seconds"], "relationship": "scheduled",
                        "in_minutes": round((r["expected_at"] - now) / 60000, 1), "observed_at": iso(r["observed_at"]),
                        "data_age_seconds": (now - r["observed_at"]) / 1000})
            newest = max(r["observed_at"] for r in rows)
            return {"network": network, "line": line, "status": "normal",
                    "stops": [{"stop_id": s, "stop_name": stops[s][0], "departures": stops[s][1]} for s in order],
                    "data_age_seconds": (now - newest) / 1000, "generated_at": iso(now)}
        """#

    func observations(source: String, count: Int, now: Int64) -> [StationObservation] {
        (0..<count).map { i in
            // Spread over Paris: about 10 km across.
            let lat = 48.815 + Double(i % 40) * 0.0021 + Double(i / 40 % 7) * 0.0003
            let lon = 2.25 + Double(i / 40) * 0.0041 + Double(i % 7) * 0.0002
            return StationObservation(
                sourceID: source, stationID: String(10_000 + i), name: "Station \(i) — Rue \(i % 97)", latitude: lat,
                longitude: lon, capacity: 30, bikesAvailable: i % 31, docksAvailable: 30 - i % 31, isInstalled: true,
                isRenting: true, isReturning: true, observedAt: now - Int64(i % 60) * 1000)
        }
    }

    /// The board's network: 12 lines of 25 stops, 8 trips each from 10 minutes on.
    func departures(now: Int64) -> [Departure] {
        var all: [Departure] = []
        for line in 1...12 {
            for trip in 0..<8 {
                for stop in 0..<25 {
                    let at = now + 600_000 + Int64(trip) * 360_000 + Int64(stop) * 90_000
                    let delay = (trip * 7 + stop) % 5 * 30
                    all.append(
                        Departure(
                            sourceID: "bench-transit", stopID: "L\(line)-S\(stop)", stopSequence: stop + 1,
                            routeID: "L\(line)", tripID: "L\(line)-T\(trip)", directionID: 0,
                            scheduledAt: at, expectedAt: at + Int64(delay) * 1000, delaySeconds: delay,
                            observedAt: now - 5_000))
                }
            }
        }
        return all
    }

    public func run() async throws -> Report {
        for (tool, path) in [("python with fastapi and uvicorn", python), ("nginx", nginx), ("wrk", wrk)]
        where !FileManager.default.isExecutableFile(atPath: path) {
            throw DashboardBenchmark.BenchError(description: "needs \(tool): \(path) not found")
        }
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let folder = directory + "/bench-serve-\(getpid())"
        let now = WallClock.system.nowMillis
        let sizes = [300, 1_500]
        let sources =
            sizes.map {
                SourceDefinition(id: "bench-\($0)", kind: .gbfs, urls: ["http://127.0.0.1:9/gbfs.json"], enabled: false)
            } + [
                SourceDefinition(
                    id: "bench-transit", kind: .gtfsRT, urls: ["http://127.0.0.1:9/trip-updates.pb"],
                    tags: ["network": "bench"], enabled: false)
            ]
        let departures = departures(now: now)
        let server = try await DashboardBenchmark.Server(folder: folder, sources: sources, logger: logger) { store in
            for size in sizes {
                let source = "bench-\(size)"
                try await store.write([
                    RunResult(
                        run: TaskRun(
                            id: "\(source)-run", jobID: "\(source)-run", taskID: nil, sourceID: source, attempt: 1,
                            workerID: "bench", status: .succeeded, startedAt: now - 10, finishedAt: now,
                            entityCount: size),
                        observations: ObservationBatch(stations: observations(source: source, count: size, now: now)),
                        outcome: nil)
                ])
            }
            try await store.write([
                RunResult(
                    run: TaskRun(
                        id: "bench-transit-run", jobID: "bench-transit-run", taskID: nil, sourceID: "bench-transit",
                        attempt: 1, workerID: "bench", status: .succeeded, startedAt: now - 10, finishedAt: now,
                        entityCount: departures.count),
                    observations: ObservationBatch(departures: departures, transitSnapshot: true), outcome: nil)
            ])
        }
        defer { Task { await server.stop() } }
        // The plain table FastAPI reads: the same rows.
        let plain = try DatabaseQueue(path: folder + "/plain.sqlite")
        try await plain.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE stations (source TEXT, id TEXT, name TEXT, lat REAL, lon REAL, capacity INTEGER,
                        bikes INTEGER, docks INTEGER, status TEXT, observed_at INTEGER, run_id TEXT);
                    CREATE INDEX stations_source ON stations (source, id);
                    CREATE INDEX stations_position ON stations (lat, lon);
                    CREATE TABLE departures (source TEXT, network TEXT, stop_id TEXT, stop_name TEXT,
                        stop_sequence INTEGER, route_id TEXT, trip_id TEXT, scheduled_at INTEGER, expected_at INTEGER,
                        delay_seconds INTEGER, observed_at INTEGER);
                    CREATE INDEX departures_line ON departures (network, route_id, expected_at);
                    """)
            for d in departures {
                try db.execute(
                    sql: "INSERT INTO departures VALUES (?, 'bench', ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [
                        d.sourceID, d.stopID, d.stopSequence, d.routeID, d.tripID, d.scheduledAt, d.expectedAt,
                        d.delaySeconds, d.observedAt,
                    ])
            }
            for size in sizes {
                for o in observations(source: "bench-\(size)", count: size, now: now) {
                    try db.execute(
                        sql: "INSERT INTO stations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        arguments: [
                            o.sourceID, o.stationID, o.name, o.latitude, o.longitude, o.capacity, o.bikesAvailable,
                            o.docksAvailable, o.status.rawValue, o.observedAt, "\(o.sourceID)-run",
                        ])
                }
            }
        }
        try Self.fastAPIApp.write(toFile: folder + "/app.py", atomically: true, encoding: .utf8)
        let fastPort = try WebDriver.freeLoopbackPort()
        let uvicorn = try Self.uvicorn(
            python: python, folder: folder, port: fastPort, options: ["--workers", "2"],
            environment: ["PLAIN_DB": folder + "/plain.sqlite"])
        defer { if uvicorn.isRunning { uvicorn.terminate() } }

        // nginx serves Metropulse's own answers as files.
        // A client that accepts gzip gets it from each server (FastAPI's GZipMiddleware, nginx's
        // gzip_static of the same compressed bytes).
        let cases: [(name: String, path: String, gzip: Bool)] = [
            ("stations, 300", "/api/stations?source=bench-300", false),
            ("stations, 1,500", "/api/stations?source=bench-1500", false),
            ("stations, 1,500, gzip", "/api/stations?source=bench-1500", true),
            ("line board (25 stops × 3)", "/api/snapshots/bench/L7", false),
            ("near a point (800 m)", "/api/stations?near=48.8566,2.3522&radius_m=800", false),
        ]
        try FileManager.default.createDirectory(atPath: folder + "/static", withIntermediateDirectories: true)
        var sizesInBytes: [Int] = []
        for (index, c) in cases.enumerated() {
            var body = try await get("http://127.0.0.1:\(server.port)\(c.path)", gzip: c.gzip)
            if c.gzip {
                // The gzip encoding is made after the first client asks for it.
                var plain = Gzip.decompress(Array(body))
                for _ in 0..<100 where plain == nil {
                    try await Task.sleep(for: .milliseconds(20))
                    body = try await get("http://127.0.0.1:\(server.port)\(c.path)", gzip: true)
                    plain = Gzip.decompress(Array(body))
                }
                guard let plain else {
                    throw DashboardBenchmark.BenchError(description: "\(c.path): not a gzip answer")
                }
                try body.write(to: URL(fileURLWithPath: folder + "/static/case-\(index).json.gz"))
                try Data(plain).write(to: URL(fileURLWithPath: folder + "/static/case-\(index).json"))
            } else {
                try body.write(to: URL(fileURLWithPath: folder + "/static/case-\(index).json"))
            }
            sizesInBytes.append(body.count)
        }
        let nginxPort = try WebDriver.freeLoopbackPort()
        try """
        worker_processes 2;
        daemon off;
        pid \(folder)/nginx.pid;
        error_log \(folder)/nginx-error.log;
        events { worker_connections 4096; }
        http {
            access_log off;
            default_type application/json;
            gzip_static on;
            server { listen 127.0.0.1:\(nginxPort); root \(folder)/static; }
        }
        """.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
        let web = Process()
        web.executableURL = URL(fileURLWithPath: nginx)
        web.arguments = ["-c", folder + "/nginx.conf", "-p", folder]
        web.standardOutput = FileHandle.nullDevice
        web.standardError = FileHandle.nullDevice
        try web.run()
        defer { if web.isRunning { web.terminate() } }
        // Both answer before the load starts.
        for url in ["http://127.0.0.1:\(fastPort)\(cases[0].path)", "http://127.0.0.1:\(nginxPort)/case-0.json"] {
            let deadline = Date().addingTimeInterval(30)
            while (try? await get(url)) == nil {
                guard Date() < deadline else {
                    throw DashboardBenchmark.BenchError(description: "\(url) does not answer")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }

        var results: [Case] = []
        for (index, c) in cases.enumerated() {
            FileHandle.standardError.write(Data("  \(c.name)\n".utf8))
            let ours = try await load("http://127.0.0.1:\(server.port)\(c.path)", gzip: c.gzip)
            let theirs = try? await load("http://127.0.0.1:\(fastPort)\(c.path)", gzip: c.gzip)
            let limit = try? await load("http://127.0.0.1:\(nginxPort)/case-\(index).json", gzip: c.gzip)
            // At most half of our maximum: 8 connections, each waiting between requests so that
            // together they ask at about half the rate (less by the time each answer takes).
            let delay = max(1, Int((8 * 1000 / max(1, ours.rate / 2)).rounded()))
            let half = try await load(
                "http://127.0.0.1:\(server.port)\(c.path)", gzip: c.gzip, connections: 8, delayMillis: delay)
            results.append(
                Case(
                    name: c.name, bytes: sizesInBytes[index], metropulse: ours, fastapi: theirs, nginx: limit,
                    halfRate: half))
        }
        return Report(cases: results, connections: connections, seconds: seconds)
    }

    /// `app:app` of `folder` under uvicorn on a loopback port, started (not yet answering).
    static func uvicorn(
        python: String, folder: String, port: Int, options: [String], environment: [String: String]
    ) throws -> Process {
        let uvicorn = Process()
        uvicorn.executableURL = URL(fileURLWithPath: python)
        uvicorn.arguments =
            [
                "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", String(port), "--log-level", "warning",
                "--no-access-log",
            ] + options
        uvicorn.currentDirectoryURL = URL(fileURLWithPath: folder)
        uvicorn.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        uvicorn.standardOutput = FileHandle.nullDevice
        uvicorn.standardError = FileHandle.nullDevice
        try uvicorn.run()
        return uvicorn
    }

    /// The answer's bytes as sent (gzip-encoded when asked for: that client does not decode them).
    func get(_ url: String, gzip: Bool = false) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        guard gzip else { return try await body(of: HTTPClient.shared.execute(request, timeout: .seconds(10)), url) }
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(decompression: .disabled))
        do {
            let bytes = try await body(of: client.execute(request, timeout: .seconds(10)), url)
            try await client.shutdown()
            return bytes
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func body(of response: HTTPClientResponse, _ url: String) async throws -> Data {
        guard response.status.code == 200 else {
            throw DashboardBenchmark.BenchError(description: "\(url): HTTP \(response.status.code)")
        }
        return Data((try await response.body.collect(upTo: 64 << 20)).readableBytesView)
    }

    /// wrk's requests per second and latency percentiles (ms).
    func load(_ url: String, gzip: Bool = false, connections: Int? = nil, delayMillis: Int? = nil) async throws
        -> Load
    {
        var arguments = ["-t2", "-c\(connections ?? self.connections)", "-d\(seconds)s", "--latency"]
        if gzip { arguments += ["-H", "Accept-Encoding: gzip"] }
        if let delayMillis {
            let script = directory + "/bench-serve-delay-\(getpid()).lua"
            try "function delay() return \(delayMillis) end\n".write(toFile: script, atomically: true, encoding: .utf8)
            arguments += ["-s", script]
        }
        let (wrk, command) = (self.wrk, arguments + [url])
        // Waited for on a thread of its own: blocking one of the concurrency pool's threads (two
        // here) would leave the server in this process one thread to answer on.
        let output = try await Self.onOwnThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: wrk)
            process.arguments = command
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return output
        }
        func latency(_ label: String) -> Double {
            guard
                let line = output.split(separator: "\n").first(where: {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix(label)
                }),
                let text = line.split(separator: " ", omittingEmptySubsequences: true).last
            else { return .nan }
            let units: [(String, Double)] = [("us", 0.001), ("ms", 1), ("s", 1000)]
            for (unit, factor) in units where text.hasSuffix(unit) {
                return (Double(text.dropLast(unit.count)) ?? .nan) * factor
            }
            return .nan
        }
        let rate =
            output.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.split(separator: " ", omittingEmptySubsequences: true).last ?? "") } ?? 0
        if output.contains("Non-2xx") {
            throw DashboardBenchmark.BenchError(description: "\(url) answered errors under load:\n\(output)")
        }
        return Load(rate: rate, p50: latency("50%"), p99: latency("99%"))
    }

    /// `body` run on a thread of its own (a blocking wait), its result awaited.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
