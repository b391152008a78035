import Foundation

/// A control command as recorded when it was sent, with the acknowledgements of the workers that
/// received it (`control_commands`, `command_acks`).
public struct CommandRecord: Sendable, Hashable {
    public var command: ControlCommand
    /// In the order they arrived.
    public var acks: [CommandAck]

    public init(command: ControlCommand, acks: [CommandAck] = []) {
        self.command = command
        self.acks = acks
    }

    /// Workers it was sent to that have not answered yet.
    public var pending: [String] {
        let answered = Set(acks.map(\.workerID))
        return (command.workers ?? []).filter { !answered.contains($0) }
    }
}

extension ControlCommand {
    /// `workers` as stored: a JSON array, or nil.
    public var workersColumn: String? { workers.map(Self.json) }
    /// `slots` as stored: a JSON object, or nil.
    public var slotsColumn: String? { slots.map(Self.json) }

    /// A command read back from its columns; a column that does not read is left out.
    public init(
        id: String, kind: String, target: String?, issuedAt: Int64, issuedBy: String?, workersColumn: String?,
        slotsColumn: String?
    ) {
        self.init(
            id: id, kind: Kind(rawValue: kind) ?? .rebalance, target: target, issuedAt: issuedAt, issuedBy: issuedBy,
            workers: workersColumn.flatMap { Self.decoded([String].self, $0) },
            slots: slotsColumn.flatMap { Self.decoded([String: Int].self, $0) })
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    private static func decoded<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
