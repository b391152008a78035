import Foundation
public import Logging
public import MetropulseCore
public import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// Listens on the `metropulse` channel on a dedicated connection and fans notifications out:
/// `work` wakes idle workers at once (instead of waiting for their poll), `command:<json>` delivers
/// control commands and `metrics:<json>` worker heartbeats to every subscriber in this process.
/// Reconnects after a lost connection.
public final class PostgresNotifier: Service, ControlBus {
    static let channel = "metropulse"

    private let backend: PostgresBackend
    private let logger: Logger
    private let commandSubscribers = Broadcast<ControlCommand>()
    private let metricSubscribers = Broadcast<WorkerHeartbeat>()
    private let listening = Atomic<Bool>(false)

    /// True while the listener holds its connection and receives notifications.
    public var isListening: Bool { listening.load(ordering: .relaxed) }

    public init(backend: PostgresBackend, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown {
                    try await self.backend.client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            self.listening.store(true, ordering: .relaxed)
                            defer { self.listening.store(false, ordering: .relaxed) }
                            // Anything enqueued while we were not listening is picked up now.
                            self.backend.workSignal.notify()
                            for try await notification in notifications { self.deliver(notification.payload) }
                        }
                    }
                }
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.warning(
                    "notification listener lost its connection; retrying", metadata: ["error": "\(loggable(error))"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            }
        }
        commandSubscribers.finishAll()
        metricSubscribers.finishAll()
    }

    private func deliver(_ payload: String) {
        if payload == "work" {
            backend.workSignal.notify()
            return
        }
        if payload.hasPrefix("metrics:") {
            if let beat = try? JSONDecoder().decode(WorkerHeartbeat.self, from: Data(payload.dropFirst(8).utf8)) {
                metricSubscribers.yield(beat)
            }
            return
        }
        if payload.hasPrefix("command-id:") {
            let id = String(payload.dropFirst(11))
            let (backend, subscribers, logger) = (self.backend, commandSubscribers, self.logger)
            Task {
                do {
                    if let command = try await backend.command(id: id) { subscribers.yield(command) }
                } catch {
                    logger.error(
                        "a control command could not be read", metadata: ["id": "\(id)", "error": "\(loggable(error))"])
                }
            }
            return
        }
        guard payload.hasPrefix("command:"),
            let command = try? JSONDecoder().decode(ControlCommand.self, from: Data(payload.dropFirst(8).utf8))
        else { return }
        commandSubscribers.yield(command)
    }

    /// Broadcasts a worker's heartbeat to every process listening on the database (the heartbeat
    /// table keeps the last one of each worker).
    public func publishMetrics(_ heartbeat: WorkerHeartbeat) async throws {
        let json = String(decoding: try JSONEncoder().encode(heartbeat), as: UTF8.self)
        try await backend.client.query("SELECT pg_notify(\(Self.channel), \("metrics:" + json))", logger: logger)
    }

    public func metrics() async throws -> AsyncStream<WorkerHeartbeat> {
        metricSubscribers.subscribe()
    }

    /// Records the command and broadcasts it to every process listening on the database. A
    /// command too long for a notification (8,000 bytes: a scale of hundreds of pools) travels as
    /// its id, and each listener reads it from `control_commands`.
    public func publish(_ command: ControlCommand) async throws {
        let json = String(decoding: try JSONEncoder().encode(command), as: UTF8.self)
        let payload = json.utf8.count <= Self.payloadLimit ? "command:" + json : "command-id:" + command.id
        try await backend.client.query(
            """
            WITH recorded AS (
                INSERT INTO control_commands (id, kind, target, issued_at, issued_by, workers, slots)
                VALUES (\(command.id), \(command.kind.rawValue), \(command.target), \(command.issuedAt),
                    \(command.issuedBy), \(command.workersColumn), \(command.slotsColumn))
                ON CONFLICT (id) DO NOTHING
            )
            SELECT pg_notify(\(Self.channel), \(payload))
            """, logger: logger)
    }

    /// The longest command sent whole in a notification (PostgreSQL's limit is 8,000 bytes).
    static let payloadLimit = 7_900

    public func commands() async throws -> AsyncStream<ControlCommand> {
        commandSubscribers.subscribe()
    }
}
