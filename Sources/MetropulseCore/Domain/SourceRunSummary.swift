/// What a batch of run records changes in one source's bookkeeping (`source_state`), folded so a
/// backend writes one upsert per source however many runs a commit carries. Applying the summary
/// gives the same row as applying the runs one by one:
/// - the last run (time and status) is the one that finished latest;
/// - the last success time only moves forward;
/// - the last error is the newest failure's, kept through later successes;
/// - the feed timestamp is the newest success's that had one.
public struct SourceRunSummary: Sendable, Hashable {
    public var sourceID: String
    public var lastRunAt: Int64
    public var lastRunStatus: TaskRunStatus
    public var lastSuccessAt: Int64?
    public var lastError: String?
    public var lastFeedTimestamp: Int64?

    /// One summary per source, in order of first appearance. Superseded attempts say nothing about
    /// a source's health and are left out.
    public static func fold(_ runs: [TaskRun]) -> [SourceRunSummary] {
        var order: [String] = []
        var summaries: [String: SourceRunSummary] = [:]
        for run in runs where run.errorKind != .leaseLost {
            var summary =
                summaries[run.sourceID]
                ?? SourceRunSummary(
                    sourceID: run.sourceID, lastRunAt: run.finishedAt, lastRunStatus: run.status, lastSuccessAt: nil,
                    lastError: nil, lastFeedTimestamp: nil)
            if summaries[run.sourceID] == nil { order.append(run.sourceID) }
            if run.finishedAt >= summary.lastRunAt {
                summary.lastRunAt = run.finishedAt
                summary.lastRunStatus = run.status
            }
            switch run.status {
            case .succeeded, .unchanged:
                summary.lastSuccessAt = max(summary.lastSuccessAt ?? run.finishedAt, run.finishedAt)
                if let feed = run.feedTimestamp { summary.lastFeedTimestamp = feed }
            case .failed:
                summary.lastError =
                    run.errorKind.map { "\($0.rawValue): \(run.errorMessage ?? "")" } ?? run.errorMessage
            }
            summaries[run.sourceID] = summary
        }
        return order.compactMap { summaries[$0] }
    }
}
