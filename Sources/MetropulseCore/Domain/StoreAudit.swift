/// What a store's own invariants look like at one moment: after a crash, a kill or a full disk,
/// every one of them must still hold. Read by `metropulse audit` and by the fault drills.
public struct StoreAudit: Sendable, Hashable, Codable {
    /// Tasks per state (`TaskState` raw values).
    public var tasks: [String: Int] = [:]
    /// Run records per status (`TaskRunStatus` raw values).
    public var runs: [String: Int] = [:]
    /// Raw station blocks and measurement rows kept.
    public var rawRows = 0
    /// Jobs (slots) with more than one run that did not fail: a slot fetched and written twice.
    public var slotsWrittenTwice: [String] = []
    /// Run ids of raw rows that no succeeded run record names: observations of an attempt whose
    /// commit did not apply (half-written). Only rows fetched since the oldest kept run count.
    public var orphanRawRuns: [String] = []
    /// Tasks that say succeeded without a run record that did not fail.
    public var succeededWithoutRun: [String] = []
    /// Tasks due (queued or retrying) or leased for longer than the grace period: work nobody
    /// takes up.
    public var stuckTasks: [String] = []
    /// The database's own consistency check (`ok`, or what it found); nil where the backend has
    /// none to run cheaply (PostgreSQL).
    public var integrity: String?

    public init() {}

    /// Every broken invariant, in words; empty when the store is sound.
    public var problems: [String] {
        var problems: [String] = []
        func list(_ items: [String]) -> String {
            items.prefix(5).joined(separator: ", ") + (items.count > 5 ? ", …" : "")
        }
        if let integrity, integrity != "ok" { problems.append("integrity check: \(integrity)") }
        if !slotsWrittenTwice.isEmpty {
            problems.append("\(slotsWrittenTwice.count) slot(s) written twice: \(list(slotsWrittenTwice))")
        }
        if !orphanRawRuns.isEmpty {
            problems.append(
                "raw observations of \(orphanRawRuns.count) run(s) with no succeeded run record: \(list(orphanRawRuns))"
            )
        }
        if !succeededWithoutRun.isEmpty {
            problems.append(
                "\(succeededWithoutRun.count) task(s) succeeded without a run record: \(list(succeededWithoutRun))")
        }
        if !stuckTasks.isEmpty { problems.append("\(stuckTasks.count) task(s) stuck: \(list(stuckTasks))") }
        return problems
    }

    /// A few lines for a terminal.
    public var summary: String {
        let taskLine = TaskState.allCases.map { "\($0.rawValue) \(tasks[$0.rawValue] ?? 0)" }.joined(separator: ", ")
        let runLine = TaskRunStatus.allCases.map { "\($0.rawValue) \(runs[$0.rawValue] ?? 0)" }.joined(separator: ", ")
        var lines = [
            "tasks: \(taskLine)", "runs: \(runLine)", "raw rows: \(rawRows)",
            "integrity: \(integrity ?? "not checked on this backend")",
        ]
        let problems = problems
        lines.append(problems.isEmpty ? "invariants: all hold" : "invariants broken:")
        lines += problems.map { "  - \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// A store that can check its own invariants.
public protocol StoreAuditing: Sendable {
    /// `graceMillis`: how long a task may stay due or leased before it counts as stuck.
    func audit(now: Int64, graceMillis: Int64) async throws -> StoreAudit
}
