import MetropulseCore
import Testing

/// Control commands and their acknowledgements (`CommandLog`) on every store backend: a command is
/// kept as sent (who, to which workers, a scale's slots), answers are attached per worker (a second
/// answer replaces the first), the newest come first, and retention deletes old ones with their
/// answers.
@Suite("Control commands")
struct CommandLogConformanceTests {
    static func command(_ id: String, _ kind: ControlCommand.Kind, at: Int64, workers: [String]? = ["w-1", "w-2"])
        -> ControlCommand
    {
        ControlCommand(
            id: id, kind: kind, target: nil, issuedAt: at, issuedBy: "ops", workers: workers,
            slots: kind == .scale ? ["w-1": 3, "w-2": 2] : nil)
    }

    @Test("commands as sent, newest first, with their answers", arguments: BackendFactory.all)
    func roundTrip(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        #expect(try await store.commands(limit: 10).isEmpty)
        let pause = Self.command("c-1", .pauseFetch, at: 1_000)
        let scale = Self.command("c-2", .scale, at: 2_000)
        var targeted = Self.command("c-3", .resumeFetch, at: 3_000, workers: nil)
        targeted.target = "w-9"
        targeted.issuedBy = nil
        for command in [pause, scale, targeted] { try await store.recordCommand(command) }
        try await store.recordCommand(pause)  // again: nothing changes
        try await store.acknowledge(
            CommandAck(commandID: "c-1", workerID: "w-2", at: 1_100, ok: true, result: "paused"))
        try await store.acknowledge(
            CommandAck(commandID: "c-2", workerID: "w-1", at: 2_100, ok: false, result: "refused: busy"))
        try await store.acknowledge(
            CommandAck(commandID: "c-2", workerID: "w-1", at: 2_200, ok: true, result: "slots 4 → 3"))
        let records = try await store.commands(limit: 10)
        #expect(records.map(\.command.id) == ["c-3", "c-2", "c-1"])
        #expect(records.map(\.command) == [targeted, scale, pause])
        #expect(
            records[1].acks == [
                CommandAck(commandID: "c-2", workerID: "w-1", at: 2_200, ok: true, result: "slots 4 → 3")
            ])
        #expect(records[1].pending == ["w-2"])
        #expect(records[2].acks.map(\.workerID) == ["w-2"] && records[2].pending == ["w-1"])
        #expect(records[0].acks.isEmpty && records[0].pending.isEmpty)
        #expect(try await store.commands(limit: 1).map(\.command.id) == ["c-3"])
    }

    @Test("retention deletes commands sent before a time, with their answers", arguments: BackendFactory.all)
    func prune(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        for (id, at) in [("old", Int64(1_000)), ("new", 5_000)] {
            try await store.recordCommand(Self.command(id, .drain, at: at))
            try await store.acknowledge(CommandAck(commandID: id, workerID: "w-1", at: at + 1, ok: true, result: "x"))
        }
        #expect(try await store.pruneCommands(before: 2_000) == 1)
        let left = try await store.commands(limit: 10)
        #expect(left.map(\.command.id) == ["new"] && left[0].acks.count == 1)
        #expect(try await store.pruneCommands(before: 2_000) == 0)
        // An answer to a command no longer kept is stored but shows nowhere.
        try await store.acknowledge(CommandAck(commandID: "old", workerID: "w-1", at: 9, ok: true, result: "late"))
        #expect(try await store.commands(limit: 10).flatMap(\.acks).map(\.result) == ["x"])
    }
}
