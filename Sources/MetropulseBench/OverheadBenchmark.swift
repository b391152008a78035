import Foundation
import Logging
import Metrics
public import MetropulseCore
import Prometheus
import Synchronization

/// `metropulse bench overhead`: what metrics and the central log cost the pipeline. The queue
/// benchmark's drain (the production worker pool on a fresh SQLite file: claim, run a no-op,
/// commit the run record and the outcome) runs in alternating rounds with both off, and with
/// both on as `serve` has them: swift-metrics on a Prometheus registry, every pool log line also
/// copied into a bounded buffer that a `LogShipper` writes into the same store. A third mode
/// centralizes the debug level too, so every task logs a line to the central log (the worst case).
/// The report gives each mode's median tasks/s and its ratio to "off" in the same run.
public struct OverheadBenchmark: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case off
        /// Metrics on, central log at `info` (the defaults).
        case on
        /// Metrics on, central log at `debug`: a line per task.
        case everyLine = "on, a log line per task"
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var tasks: Int
        public var workers: Int
        public var rounds: Int
        /// Tasks/s of every round, per mode.
        public var rates: [Mode: [Double]]
        /// Lines the central log kept in the last `everyLine` round.
        public var linesShipped: Int

        public func median(_ mode: Mode) -> Double {
            let sorted = (rates[mode] ?? []).sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted.count % 2 == 1
                ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }

        /// Median tasks/s with metrics and the central log on, over the median with both off.
        public var ratio: Double { median(.on) / max(median(.off), 1e-9) }

        public var description: String {
            func f(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
            var lines = [
                "overhead benchmark: \(tasks) no-op tasks drained by \(workers) workers on SQLite, \(rounds) rounds per mode, alternating"
            ]
            for mode in Mode.allCases {
                let all = (rates[mode] ?? []).map { f($0) }.joined(separator: ", ")
                lines.append(
                    "  \(mode.rawValue): median \(f(median(mode))) tasks/s, ratio to off \(f(median(mode) / max(median(.off), 1e-9), 3))  [\(all)]"
                )
            }
            lines.append("  central log lines written in the last per-task round: \(linesShipped)")
            let verdict = ratio >= 0.95 ? "within" : "past"
            lines.append(
                "  metrics and central log on (defaults): ratio \(f(ratio, 3)), \(verdict) the 5% budget (>= 0.950)")
            return lines.joined(separator: "\n")
        }
    }

    public var tasks: Int
    public var workers: Int
    public var rounds: Int
    public var directory: String

    public init(tasks: Int, workers: Int, rounds: Int, directory: String) {
        self.tasks = tasks
        self.workers = workers
        self.rounds = rounds
        self.directory = directory
    }

    public func run() async throws -> Report {
        let metrics = SwitchableMetricsFactory(PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        MetricsSystem.bootstrap(metrics)
        var rates: [Mode: [Double]] = [:]
        var shipped = 0
        for round in 0..<rounds {
            // Alternate the order, so a machine that speeds up or slows down favours no mode.
            let order = round % 2 == 0 ? Mode.allCases : Mode.allCases.reversed()
            for mode in order {
                let (rate, lines) = try await drain(mode, metrics: metrics)
                rates[mode, default: []].append(rate)
                if mode == .everyLine { shipped = lines }
            }
        }
        return Report(tasks: tasks, workers: workers, rounds: rounds, rates: rates, linesShipped: shipped)
    }

    private func drain(_ mode: Mode, metrics: SwitchableMetricsFactory) async throws -> (Double, Int) {
        metrics.enabled.store(mode != .off, ordering: .relaxed)
        var benchmark = QueueBenchmark(
            tasks: tasks, workers: workers, steadyRate: 0, steadySeconds: 0, targets: [.sqlite(directory: directory)])
        var buffer: LogBuffer?
        if mode != .off {
            let central = LogBuffer(capacity: 10_000)
            let level: Logger.Level = mode == .everyLine ? .debug : .info
            central.configure(enabled: true, minimumLevel: level, capacity: 10_000, service: "bench")
            // The console side discards, in every mode: what is measured is the central copy.
            var logger = Logger(label: "metropulse") { label in
                MultiplexLogHandler([
                    SwiftLogNoOpLogHandler(), CentralLogHandler(label: label, buffer: central, level: level),
                ])
            }
            logger.logLevel = level
            benchmark.logger = logger
            buffer = central
        }
        benchmark.centralLog = buffer
        let report = try await benchmark.run()
        guard let result = report.results.first else { throw BenchmarkError("the drain measured nothing") }
        let written = (buffer.map { $0.dropped } ?? 0)
        return (result.tasksPerSecond, mode == .everyLine ? tasks - written : 0)
    }
}

/// A metrics backend that is the Prometheus one while `enabled`, and a no-op otherwise: the
/// process bootstraps swift-metrics once, and the benchmark turns it on and off between rounds.
/// Handlers are made per call by the pipeline, so each call sees the switch.
final class SwitchableMetricsFactory: MetricsFactory, Sendable {
    let enabled = Atomic<Bool>(false)
    private let on: PrometheusMetricsFactory

    init(_ on: PrometheusMetricsFactory) {
        self.on = on
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        enabled.load(ordering: .relaxed)
            ? on.makeCounter(label: label, dimensions: dimensions) : NOOPMetricsHandler.instance
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        enabled.load(ordering: .relaxed)
            ? on.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate) : NOOPMetricsHandler.instance
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        enabled.load(ordering: .relaxed)
            ? on.makeTimer(label: label, dimensions: dimensions) : NOOPMetricsHandler.instance
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
