package import Hummingbird
package import MetropulseCore

/// Sends control commands to the worker fleet, recording each with who sent it and to which
/// workers, and lists them with the workers' acknowledgements. Scaling works out each running
/// pool's new slot count and sends it as one SCALE command.
package struct FleetControl: Sendable {
    package let store: any Store
    package let bus: any ControlBus
    package let board: OperationsBoard
    /// Set in the API process of `metropulse supervise`: scaling starts or stops worker processes.
    package let scaleProcesses: (@Sendable (Int?, Int?) async throws -> (before: Int, after: Int))?

    package init(_ environment: APIEnvironment) {
        self.store = environment.store
        self.bus = environment.bus
        self.board = OperationsBoard(environment)
        self.scaleProcesses = environment.scaleProcesses
    }

    package struct AckDTO: Codable, Sendable {
        package var workerId: String
        package var at: String
        package var ok: Bool
        /// What the worker did, or why it could not.
        package var result: String
    }

    package struct CommandDTO: ResponseCodable, Sendable {
        package var id: String
        package var kind: String
        /// The worker it was sent to; absent: every worker.
        package var target: String?
        package var issuedAt: String
        /// The name of the key (or console session) that sent it.
        package var issuedBy: String?
        /// The workers running when it was sent, each expected to acknowledge it.
        package var workers: [String]
        /// SCALE: each pool's new number of slots.
        package var slots: [String: Int]?
        package var acks: [AckDTO]
        /// Workers that have not answered yet.
        package var pending: [String]
        /// `done` (every worker answered ok), `failed` (one refused), `waiting` (answers missing)
        /// or `unaddressed` (no worker was running to receive it).
        package var state: String
    }

    package struct CommandList: ResponseCodable, Sendable {
        package var count: Int
        package var commands: [CommandDTO]
    }

    package struct PoolChangeDTO: Codable, Sendable {
        package var workerId: String
        package var slotsBefore: Int
        package var slots: Int
    }

    package struct ScaleDTO: ResponseCodable, Sendable {
        /// `slots` (the running pools' task slots changed by a SCALE command) or `processes`
        /// (worker processes started or stopped by `metropulse supervise`).
        package var unit: String
        /// Slots of the pools scaled, before and after (unit `slots`).
        package var slotsBefore: Int?
        package var slots: Int?
        /// Worker processes before and after (unit `processes`).
        package var processesBefore: Int?
        package var processes: Int?
        package var pools: [PoolChangeDTO]
        /// The SCALE command sent (unit `slots`).
        package var command: CommandDTO?
    }

    /// Records and sends a command to `target` (or every worker).
    package func send(_ kind: ControlCommand.Kind, target: String?, issuedBy: String?, now: Int64) async throws
        -> CommandDTO
    {
        let workers = try await running(now: now).map(\.workerID).filter { target == nil || $0 == target }
        let command = ControlCommand(
            id: Self.newID(now), kind: kind, target: target, issuedAt: now, issuedBy: issuedBy, workers: workers)
        try await store.recordCommand(command)
        try await bus.publish(command)
        return Self.dto(CommandRecord(command: command))
    }

    /// Publishes a demo incident to every process serving the demo city (those running a worker
    /// pool), each expected to answer.
    package func demoIncident(_ incident: DemoIncident, issuedBy: String?, now: Int64) async throws -> CommandDTO {
        let workers = try await running(now: now).map(\.workerID)
        let command = ControlCommand(
            id: Self.newID(now), kind: .demoIncident, target: nil, issuedAt: now, issuedBy: issuedBy,
            workers: workers, incident: incident)
        try await store.recordCommand(command)
        try await bus.publish(command)
        return Self.dto(CommandRecord(command: command))
    }

    /// Sets the running pools' slots to `count` in all, or changes them by `delta`, spread as
    /// evenly as the pools allow (each keeps at least one slot). Under `metropulse supervise`
    /// (and without a target), `count` and `delta` are worker processes instead.
    package func scale(count: Int?, delta: Int?, target: String?, issuedBy: String?, now: Int64) async throws
        -> ScaleDTO
    {
        if (count == nil) == (delta == nil) {
            throw HTTPError(.badRequest, message: "count or delta: give exactly one (e.g. {\"count\": 8})")
        }
        if target == nil, let scaleProcesses {
            let (before, after): (Int, Int)
            do {
                (before, after) = try await scaleProcesses(count, delta)
            } catch let error as SupervisorRefusal {
                throw HTTPError(.badRequest, message: error.message)
            }
            // Recorded like any command, answered by the supervisor that carried it out.
            let command = ControlCommand(
                id: Self.newID(now), kind: .scale, target: nil, issuedAt: now, issuedBy: issuedBy,
                workers: [Self.supervisor])
            let ack = CommandAck(
                commandID: command.id, workerID: Self.supervisor, at: now, ok: true,
                result: "worker processes \(before) → \(after)")
            try await store.recordCommand(command)
            try await store.acknowledge(ack)
            return ScaleDTO(
                unit: "processes", processesBefore: before, processes: after, pools: [],
                command: Self.dto(CommandRecord(command: command, acks: [ack])))
        }
        let pools = try await running(now: now).filter { target == nil || $0.workerID == target }
            .sorted { $0.workerID < $1.workerID }
        guard !pools.isEmpty else {
            throw HTTPError(
                .conflict,
                message: target.map { "target: no running worker pool is called \($0)" }
                    ?? "no worker pool is running: start one (metropulse worker) before scaling")
        }
        let before = pools.reduce(0) { $0 + $1.concurrency }
        let wanted = count ?? (before + (delta ?? 0))
        let range = pools.count...(pools.count * WorkerPool.maxSlots)
        guard range.contains(wanted) else {
            let field = count != nil ? "count" : "delta"
            throw HTTPError(
                .badRequest,
                message:
                    "\(field) must leave \(range.lowerBound) to \(range.upperBound) slots in all for the \(pools.count) running worker pools (each keeps 1 to \(WorkerPool.maxSlots)); it asks for \(wanted)"
            )
        }
        var slots: [String: Int] = [:]
        var changes: [PoolChangeDTO] = []
        for (index, pool) in pools.enumerated() {
            let share = wanted / pools.count + (index < wanted % pools.count ? 1 : 0)
            slots[pool.workerID] = share
            changes.append(PoolChangeDTO(workerId: pool.workerID, slotsBefore: pool.concurrency, slots: share))
        }
        let command = ControlCommand(
            id: Self.newID(now), kind: .scale, target: target, issuedAt: now, issuedBy: issuedBy,
            workers: pools.map(\.workerID), slots: slots)
        try await store.recordCommand(command)
        try await bus.publish(command)
        return ScaleDTO(
            unit: "slots", slotsBefore: before, slots: wanted, pools: changes,
            command: Self.dto(CommandRecord(command: command)))
    }

    package func commands(limit: Int) async throws -> CommandList {
        let commands = try await store.commands(limit: limit).map(Self.dto)
        return CommandList(count: commands.count, commands: commands)
    }

    /// Pools whose heartbeat says they are there to receive a command.
    private func running(now: Int64) async throws -> [WorkerHeartbeat] {
        try await store.heartbeats().filter { board.worker($0, now: now).health != "down" }
    }

    /// Who answers a scale of worker processes.
    static let supervisor = "supervisor"

    static func newID(_ now: Int64) -> String { "cmd-\(now)-\(UInt16.random(in: .min ... .max))" }

    static func dto(_ record: CommandRecord) -> CommandDTO {
        let c = record.command
        let pending = record.pending
        let state =
            (c.workers ?? []).isEmpty
            ? "unaddressed"
            : record.acks.contains { !$0.ok } ? "failed" : pending.isEmpty ? "done" : "waiting"
        return CommandDTO(
            id: c.id, kind: c.kind.rawValue, target: c.target, issuedAt: Timestamp.iso8601(c.issuedAt),
            issuedBy: c.issuedBy, workers: c.workers ?? [], slots: c.slots,
            acks: record.acks.map {
                AckDTO(workerId: $0.workerID, at: Timestamp.iso8601($0.at), ok: $0.ok, result: $0.result)
            }, pending: pending, state: state)
    }
}

/// The supervisor refused a scale (its message names the field); the API answers 400 with it.
public struct SupervisorRefusal: Error, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
}
