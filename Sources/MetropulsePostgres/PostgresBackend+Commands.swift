public import MetropulseCore
import PostgresNIO

extension PostgresBackend: CommandLog {
    public func recordCommand(_ command: ControlCommand) async throws {
        try await client.query(
            """
            INSERT INTO control_commands (id, kind, target, issued_at, issued_by, workers, slots)
            VALUES (\(command.id), \(command.kind.rawValue), \(command.target), \(command.issuedAt),
                \(command.issuedBy), \(command.workersColumn), \(command.slotsColumn))
            ON CONFLICT (id) DO NOTHING
            """, logger: logger)
    }

    public func acknowledge(_ ack: CommandAck) async throws {
        try await client.query(
            """
            INSERT INTO command_acks (command_id, worker_id, at, ok, result)
            VALUES (\(ack.commandID), \(ack.workerID), \(ack.at), \(ack.ok), \(ack.result))
            ON CONFLICT (command_id, worker_id) DO UPDATE SET at = EXCLUDED.at, ok = EXCLUDED.ok,
                result = EXCLUDED.result
            """, logger: logger)
    }

    /// One recorded command (a notification too long to carry it names it by id).
    func command(id: String) async throws -> ControlCommand? {
        for try await row in try await client.query(
            "SELECT id, kind, target, issued_at, issued_by, workers, slots FROM control_commands WHERE id = \(id)",
            logger: logger)
        {
            let (id, kind, target, issuedAt, issuedBy, workers, slots) = try row.decode(
                (String, String, String?, Int64, String?, String?, String?).self)
            return ControlCommand(
                id: id, kind: kind, target: target, issuedAt: issuedAt, issuedBy: issuedBy, workersColumn: workers,
                slotsColumn: slots)
        }
        return nil
    }

    public func commands(limit: Int) async throws -> [CommandRecord] {
        var commands: [ControlCommand] = []
        for try await row in try await client.query(
            """
            SELECT id, kind, target, issued_at, issued_by, workers, slots FROM control_commands
            ORDER BY issued_at DESC, id DESC LIMIT \(limit)
            """, logger: logger)
        {
            let (id, kind, target, issuedAt, issuedBy, workers, slots) = try row.decode(
                (String, String, String?, Int64, String?, String?, String?).self)
            commands.append(
                ControlCommand(
                    id: id, kind: kind, target: target, issuedAt: issuedAt, issuedBy: issuedBy, workersColumn: workers,
                    slotsColumn: slots))
        }
        guard let oldest = commands.last?.issuedAt else { return [] }
        var acks: [String: [CommandAck]] = [:]
        for try await row in try await client.query(
            """
            SELECT a.command_id, a.worker_id, a.at, a.ok, a.result FROM command_acks a
            JOIN control_commands c ON c.id = a.command_id WHERE c.issued_at >= \(oldest)
            ORDER BY a.at, a.worker_id
            """, logger: logger)
        {
            let (commandID, workerID, at, ok, result) = try row.decode((String, String, Int64, Bool, String).self)
            acks[commandID, default: []].append(
                CommandAck(commandID: commandID, workerID: workerID, at: at, ok: ok, result: result))
        }
        return commands.map { CommandRecord(command: $0, acks: acks[$0.id] ?? []) }
    }

    @discardableResult
    public func pruneCommands(before: Int64) async throws -> Int {
        try await client.query(
            """
            DELETE FROM command_acks WHERE command_id IN (SELECT id FROM control_commands WHERE issued_at < \(before))
            """, logger: logger)
        var count = 0
        for try await _ in try await client.query(
            "DELETE FROM control_commands WHERE issued_at < \(before) RETURNING 1", logger: logger)
        {
            count += 1
        }
        return count
    }
}
