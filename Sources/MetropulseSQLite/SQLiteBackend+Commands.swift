import GRDB
public import MetropulseCore

extension SQLiteBackend: CommandLog {
    public func recordCommand(_ command: ControlCommand) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO control_commands (id, kind, target, issued_at, issued_by, workers, slots)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    command.id, command.kind.rawValue, command.target, command.issuedAt, command.issuedBy,
                    command.workersColumn, command.slotsColumn,
                ])
        }
    }

    public func acknowledge(_ ack: CommandAck) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO command_acks (command_id, worker_id, at, ok, result)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [ack.commandID, ack.workerID, ack.at, ack.ok, ack.result])
        }
    }

    public func commands(limit: Int) async throws -> [CommandRecord] {
        try await pool.read { db in
            let commands = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, kind, target, issued_at, issued_by, workers, slots FROM control_commands
                    ORDER BY issued_at DESC, id DESC LIMIT ?
                    """, arguments: [limit]
            ).map { row in
                ControlCommand(
                    id: row[0], kind: row[1], target: row[2], issuedAt: row[3], issuedBy: row[4],
                    workersColumn: row[5], slotsColumn: row[6])
            }
            guard let oldest = commands.last?.issuedAt else { return [] }
            var acks: [String: [CommandAck]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT a.command_id, a.worker_id, a.at, a.ok, a.result FROM command_acks a
                    JOIN control_commands c ON c.id = a.command_id WHERE c.issued_at >= ?
                    ORDER BY a.at, a.worker_id
                    """, arguments: [oldest])
            {
                let ack = CommandAck(commandID: row[0], workerID: row[1], at: row[2], ok: row[3], result: row[4])
                acks[ack.commandID, default: []].append(ack)
            }
            return commands.map { CommandRecord(command: $0, acks: acks[$0.id] ?? []) }
        }
    }

    @discardableResult
    public func pruneCommands(before: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM command_acks WHERE command_id IN (SELECT id FROM control_commands WHERE issued_at < ?)
                    """, arguments: [before])
            try db.execute(sql: "DELETE FROM control_commands WHERE issued_at < ?", arguments: [before])
            return db.changesCount
        }
    }
}
