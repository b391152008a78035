import Foundation
import MetropulseConnectors
public import MetropulseCore

/// Decode + normalize throughput on real captures, against CPython doing the same job on the same
/// file in the same run (`scripts/bench_parse.py`): the Vélib' GBFS station_status (JSON) and the
/// largest GTFS-Realtime capture (protobuf).
public struct ParseBenchmark: Sendable {
    public struct Case: Sendable {
        public var name: String
        public var kind: String
        public var path: String
        public var bytes: Int
        public var entities: Int
        /// Seconds per decode + normalize.
        public var seconds: Double
        /// CPython's seconds per iteration, or why there is none.
        public var python: Result<Double, PythonUnavailable>
        /// Another Swift path for the same job, measured in the same run: its name and seconds per file.
        public var alternative: (name: String, seconds: Double)?

        public var megabytesPerSecond: Double { Double(bytes) / seconds / 1_000_000 }
        public var entitiesPerSecond: Double { Double(entities) / seconds }
        public var ratio: Double? { (try? python.get()).map { $0 / seconds } }
    }

    public struct MissingCapture: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public struct PythonUnavailable: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var cases: [Case]

        public var description: String {
            var lines = ["decode + normalize, best of the run, against CPython on the same file:"]
            for c in cases {
                lines.append(
                    "  \(c.name) (\(c.bytes) bytes, \(c.entities) entities): "
                        + String(
                            format: "%.1f MB/s, %.0f entities/s, %.1f µs per file", c.megabytesPerSecond,
                            c.entitiesPerSecond, c.seconds * 1e6))
                switch c.python {
                case .success(let seconds):
                    lines.append(
                        String(
                            format: "    CPython: %.1f µs per file → ratio %.2f× (target ≥ 3)", seconds * 1e6,
                            c.ratio ?? 0))
                case .failure(let why):
                    lines.append("    CPython: not measured (\(why))")
                }
                if let (name, seconds) = c.alternative {
                    lines.append(
                        String(
                            format: "    %@: %.1f µs per file (%.1f× slower)", name, seconds * 1e6, seconds / c.seconds)
                    )
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    public var fixtures: String
    public var script: String
    public var python: String
    /// Minimum measuring time per case and side.
    public var seconds: Double
    /// Only these cases (`gbfs`, `gtfs-rt`); all when empty.
    public var only: Set<String>

    public init(
        fixtures: String, script: String, python: String = "python3", seconds: Double = 2, only: Set<String> = []
    ) {
        self.fixtures = fixtures
        self.script = script
        self.python = python
        self.seconds = seconds
        self.only = only
    }

    public func run() throws -> Report {
        let velib = fixtures + "/gbfs/velib-paris-2025-10"
        let information = try GBFSParser.stationInformation(Self.read(velib + "/station_information.json"))
        let gtfs = try largest(under: fixtures + "/gtfs-rt")
        var cases: [Case] = []
        if only.isEmpty || only.contains("gbfs") {
            cases.append(
                try measure(name: "Vélib' GBFS station_status", kind: "gbfs", path: velib + "/station_status.json") {
                    body in
                    try GBFSParser.stationStatus(body, sourceID: "velib", catalog: information, fetchedAt: 0).stations
                        .count
                })
        }
        if only.isEmpty || only.contains("gtfs-rt") {
            var direct = try measure(
                name: "GTFS-Realtime \((gtfs as NSString).lastPathComponent)", kind: "gtfs-rt", path: gtfs
            ) { body in
                try GTFSRealtimeParser.parse(body, sourceID: "bench", fetchedAt: 0, decoder: .direct).batch.count
            }
            direct.alternative = (
                "swift-protobuf messages, then normalized (the reference path)",
                try best(body: Self.read(gtfs)) { body in
                    try GTFSRealtimeParser.parse(body, sourceID: "bench", fetchedAt: 0, decoder: .swiftProtobuf).batch
                        .count
                }
            )
            cases.append(direct)
        }
        return Report(cases: cases)
    }

    private func measure(name: String, kind: String, path: String, _ work: ([UInt8]) throws -> Int) throws -> Case {
        let body = try Self.read(path)
        let entities = try work(body)
        return Case(
            name: name, kind: kind, path: path, bytes: body.count, entities: entities,
            seconds: try best(body: body, work),
            python: pythonSeconds(kind: kind, path: path))
    }

    /// Best seconds per call over rounds of 0.1 s, for `seconds`: the least disturbed by anything
    /// else on the machine.
    private func best(body: [UInt8], _ work: ([UInt8]) throws -> Int) throws -> Double {
        var best = Double.infinity
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            let start = DispatchTime.now().uptimeNanoseconds
            var iterations = 0
            repeat {
                _ = try work(body)
                iterations += 1
            } while Double(DispatchTime.now().uptimeNanoseconds - start) < 100_000_000
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(iterations))
        } while Date() < deadline
        return best
    }

    /// CPython's best seconds per iteration over the same number of rounds.
    private func pythonSeconds(kind: String, path: String) -> Result<Double, PythonUnavailable> {
        guard FileManager.default.fileExists(atPath: script) else {
            return .failure(PythonUnavailable(description: "\(script) not found"))
        }
        var best = Double.infinity
        let rounds = max(1, Int(seconds / 0.5))
        for _ in 0..<rounds {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, script, kind, path, "0.5"]
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            do {
                try process.run()
            } catch {
                return .failure(PythonUnavailable(description: "\(python) could not start: \(error)"))
            }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let iterations = json["iterations"] as? Int, let elapsed = json["seconds"] as? Double
            else {
                let hint = message.contains("google") ? " (pip install protobuf)" : ""
                let last = message.split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"
                return .failure(PythonUnavailable(description: last + hint))
            }
            best = min(best, elapsed / Double(iterations))
        }
        return .success(best)
    }

    private func largest(under folder: String) throws -> String {
        let files = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".pb") }.map { folder + "/" + $0 }
        let sized = files.compactMap { path -> (String, Int)? in
            (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int).map { (path, $0) }
        }
        guard let biggest = sized.max(by: { $0.1 < $1.1 }) else {
            throw MissingCapture(description: "no .pb capture under \(folder)")
        }
        return biggest.0
    }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
