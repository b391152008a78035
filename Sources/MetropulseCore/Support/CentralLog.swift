import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization

/// The lines a process logged and has not yet written to the central log: bounded, and never
/// blocks the caller. A line that finds it full is dropped and counted
/// (`metropulse_logs_dropped_total`), so a store that is down or slow costs log lines, never a
/// stalled worker.
public final class LogBuffer: Sendable {
    private struct State {
        var records: [LogRecord] = []
        var head = 0
        var capacity: Int
        var dropped = 0
        var enabled = false
        var minimumLevel = Logger.Level.info
        var service = "serve"
        var instance = "\(ProcessStats.hostname)-\(ProcessStats.pid)"
    }

    private let state: Mutex<State>
    /// Woken when a batch's worth of lines is waiting.
    let ready = AsyncSignal()
    /// Lines a shipper takes at once.
    public static let batchSize = 500
    /// Loggers whose lines stay out of the central log (the shipper's own, which would feed
    /// itself).
    static let excludedLabels: Set<String> = [LogShipper.label]
    public static let droppedMetric = "metropulse_logs_dropped_total"
    public static let writtenMetric = "metropulse_logs_written_total"

    /// The process's buffer, which the log handlers bootstrapped in `main` fill.
    public static let shared = LogBuffer()

    public init(capacity: Int = 10_000) {
        state = Mutex(State(capacity: max(1, capacity)))
    }

    /// Turns collection on for lines at `minimumLevel` and above, stamped with the process's
    /// role; off (the default) takes nothing.
    public func configure(
        enabled: Bool, minimumLevel: Logger.Level, capacity: Int, service: String, instance: String? = nil
    ) {
        state.withLock { state in
            state.enabled = enabled
            state.minimumLevel = minimumLevel
            state.capacity = max(1, capacity)
            state.service = service
            if let instance { state.instance = instance }
        }
    }

    public var isEnabled: Bool { state.withLock { $0.enabled } }
    /// Lines dropped because the buffer was full, since the process started.
    public var dropped: Int { state.withLock { $0.dropped } }
    /// Lines waiting to be written.
    public var count: Int { state.withLock { $0.records.count - $0.head } }

    /// Adds a line unless collection is off, the level is below the minimum, or the buffer is full.
    public func append(
        at: Int64, level: Logger.Level, logger: String, message: String, metadata: [String: String]
    ) {
        enum Outcome { case skipped, added, batchReady, dropped }
        let outcome = state.withLock { state -> Outcome in
            guard state.enabled, level >= state.minimumLevel, !Self.excludedLabels.contains(logger) else {
                return .skipped
            }
            guard state.records.count - state.head < state.capacity else {
                state.dropped += 1
                return .dropped
            }
            state.records.append(
                LogRecord(
                    at: at, service: state.service, instance: state.instance, level: level, logger: logger,
                    message: Self.clipped(message, Self.maxMessage),
                    metadata: metadata.count <= Self.maxValues
                        && metadata.values.allSatisfy({ $0.utf8.count <= Self.maxValue })
                        ? metadata : Self.clipped(metadata)))
            return state.records.count - state.head == Self.batchSize ? .batchReady : .added
        }
        switch outcome {
        case .dropped: Counter(label: Self.droppedMetric).increment()
        case .batchReady: ready.notify()
        case .skipped, .added: break
        }
    }

    /// A line's message and metadata are cut to these sizes (bytes, keys) in the central log.
    static let maxMessage = 16_384
    static let maxValue = 2_048
    static let maxValues = 32

    static func clipped(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var cut = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            bytes += UTF8.width(scalar)
            guard bytes <= limit - 3 else { break }
            cut.unicodeScalars.append(scalar)
        }
        return cut + "…"
    }

    static func clipped(_ metadata: [String: String]) -> [String: String] {
        var kept: [String: String] = [:]
        for key in metadata.keys.sorted().prefix(maxValues) {
            kept[clipped(key, 128)] = clipped(metadata[key] ?? "", maxValue)
        }
        return kept
    }

    /// Takes up to `max` of the oldest waiting lines.
    public func take(max: Int = LogBuffer.batchSize) -> [LogRecord] {
        state.withLock { state in
            let end = min(state.records.count, state.head + max)
            let taken = Array(state.records[state.head..<end])
            state.head = end
            if state.head == state.records.count {
                state.records.removeAll(keepingCapacity: true)
                state.head = 0
            } else if state.head > 4096 {
                state.records.removeFirst(state.head)
                state.head = 0
            }
            return taken
        }
    }

    /// Counts lines a shipper had to give up.
    func drop(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.dropped += count }
        Counter(label: Self.droppedMetric).increment(by: Int64(count))
    }

    /// The buffer's capacity.
    var capacity: Int { state.withLock { $0.capacity } }
}

/// A log handler that copies every line at its level into a `LogBuffer`; the `LogShipper` writes
/// them to the store. Wrap it (with the console handler) in `RedactingLogHandler` so secrets never
/// reach the table.
public struct CentralLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let buffer: LogBuffer

    public init(label: String, buffer: LogBuffer = .shared, level: Logger.Level) {
        self.label = label
        self.buffer = buffer
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let values = event.flatMetadata(handler: metadata)
        buffer.append(
            at: WallClock.system.nowMillis, level: event.level, logger: label, message: event.message.description,
            metadata: values)
    }
}

extension LogEvent {
    /// The handler's metadata, then the line's own (which wins), and the error under `error`, as text.
    func flatMetadata(handler: Logger.Metadata) -> [String: String] {
        var values: [String: String] = [:]
        for (key, value) in handler { values[key] = "\(value)" }
        for (key, value) in metadata ?? [:] { values[key] = "\(value)" }
        if let error, values["error"] == nil { values["error"] = "\(error)" }
        return values
    }
}

/// Writes log lines to standard output as one JSON object a line (`logging.format: json`):
/// `time`, `level`, `service`, `logger`, `message` and the metadata's keys.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let service: String

    public init(label: String, service: String, level: Logger.Level) {
        self.label = label
        self.service = service
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = Self.line(
            at: WallClock.system.nowMillis, level: event.level, service: service, logger: label,
            message: event.message.description, metadata: event.flatMetadata(handler: metadata))
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    /// One line of output: a JSON object and a newline; a metadata key that would shadow a field
    /// is left out.
    static func line(
        at: Int64, level: Logger.Level, service: String, logger: String, message: String, metadata: [String: String]
    ) -> String {
        var object = metadata
        object.merge([
            "time": Timestamp.iso8601(at), "level": level.rawValue, "service": service, "logger": logger,
            "message": message,
        ]) { _, field in field }
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return (data.map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }
}

/// Moves the buffered log lines into the store's central log, a batch at a time: at least twice
/// a second, sooner when a batch is waiting, and once more when the process stops. When the store
/// cannot take them it keeps one batch and retries with backoff; what the buffer cannot hold
/// meanwhile is dropped and counted.
public struct LogShipper: Service {
    static let label = "metropulse.logs"
    static let attemptsPerBatch = 8
    let buffer: LogBuffer
    let store: any LogStore
    let intervalMillis: Int64
    /// The shipper's own messages (a failing store) go only to the console.
    let logger: Logger

    public init(buffer: LogBuffer = .shared, store: any LogStore, intervalMillis: Int64 = 500) {
        self.buffer = buffer
        self.store = store
        self.intervalMillis = intervalMillis
        self.logger = Logger(label: Self.label)
    }

    public func run() async throws {
        var pending: [LogRecord] = []
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let pause = failures == 0 ? intervalMillis : min(10_000, intervalMillis << min(failures, 5))
            let buffer = self.buffer
            try? await cancelWhenGracefulShutdown { await buffer.ready.wait(timeoutMillis: pause) }
            if Task.isCancelled { break }
            failures = await ship(&pending, failures: failures)
        }
        // Last lines (the shutdown's own among them): a few tries, then give up and count them.
        for _ in 0..<3 {
            failures = await ship(&pending, failures: 0)
            if failures == 0 && buffer.count == 0 { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
        buffer.drop(pending.count)
    }

    /// Writes what is pending and waiting; returns the failure streak (0 after a success).
    func ship(_ pending: inout [LogRecord], failures: Int) async -> Int {
        while true {
            if pending.isEmpty { pending = buffer.take() }
            guard !pending.isEmpty else { return 0 }
            do {
                try await store.appendLogs(pending)
                Counter(label: LogBuffer.writtenMetric).increment(by: Int64(pending.count))
                pending = []
            } catch {
                // A batch the store keeps refusing for about a minute is given up, so one bad
                // batch cannot hold back the lines behind it.
                if failures + 1 >= Self.attemptsPerBatch {
                    logger.error(
                        "log lines dropped: the central log refused them",
                        metadata: ["error": "\(error)", "lines": "\(pending.count)"])
                    buffer.drop(pending.count)
                    pending = []
                    return 0
                }
                if failures == 0 {
                    logger.warning(
                        "cannot write log lines to the central log; keeping one batch and retrying",
                        metadata: ["error": "\(error)", "lines": "\(pending.count)"])
                }
                return failures + 1
            }
        }
    }
}
