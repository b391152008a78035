/// Everything one attempt writes: its run record, its observations, and how its task ends.
/// A backend that holds both the store and the queue commits all three in one transaction.
public struct RunResult: Sendable {
    public var run: TaskRun
    public var observations: ObservationBatch
    public var outcome: TaskOutcome?

    public init(run: TaskRun, observations: ObservationBatch = ObservationBatch(), outcome: TaskOutcome?) {
        self.run = run
        self.observations = observations
        self.outcome = outcome
    }
}

extension RunResult {
    /// What a committer writes instead when the attempt's outcome no longer applies (a later
    /// attempt holds the task): the attempt's run record, marked failed, and nothing else.
    public var superseded: RunResult {
        var run = run
        run.status = .failed
        run.errorKind = .leaseLost
        run.errorMessage = "the lease expired before this attempt committed; attempt \(run.attempt) was dropped"
        return RunResult(run: run, observations: ObservationBatch(), outcome: nil)
    }

    /// True for the record of a superseded attempt, which says nothing about the source's health.
    public var isSuperseded: Bool { run.errorKind == .leaseLost }
}
