/// Everything one attempt writes: its run record, its observations, and how its task ends.
/// A backend that holds both the store and the queue commits all three in one transaction.
public struct RunResult: Sendable {
    public var run: TaskRun
    public var observations: ObservationBatch
    public var outcome: TaskOutcome?
    /// Whether `run` is written as a run record (and moves its source's state). False for
    /// observations that travel apart from their run (`observationsOnly`).
    public var recordsRun: Bool

    public init(run: TaskRun, observations: ObservationBatch = ObservationBatch(), outcome: TaskOutcome?) {
        self.run = run
        self.observations = observations
        self.outcome = outcome
        self.recordsRun = true
    }

    /// Observations of run `runID` fetched at `fetchedAt`, written without a run record: the
    /// record topics carry runs and observations apart, and a sink writes each as it arrives.
    public static func observationsOnly(
        runID: String, sourceID: String, fetchedAt: Int64, observations: ObservationBatch
    ) -> RunResult {
        var result = RunResult(
            run: TaskRun(
                id: runID, jobID: "", taskID: nil, sourceID: sourceID, attempt: 0, workerID: "", status: .succeeded,
                startedAt: fetchedAt, finishedAt: fetchedAt),
            observations: observations, outcome: nil)
        result.recordsRun = false
        return result
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

    /// The run record to write once the store takes writes again, after it refused this
    /// result's commit: the attempt marked failed (`storage`) with the store's reason, under a
    /// run id of its own, and nothing else. Its task runs again when its lease expires.
    public func refused(by error: any Error) -> RunResult {
        var run = run
        run.id += "/refused"
        run.status = .failed
        run.errorKind = .storage
        run.errorMessage = Redaction.text(
            "the store refused the commit (\(loggable(error))); the task runs again when its lease expires")
        return RunResult(run: run, observations: ObservationBatch(), outcome: nil)
    }

    /// The results to write once a backend has applied their outcomes: those whose outcome did not
    /// apply (`applied` lacks their attempt) become `superseded`.
    public static func settled(_ results: [RunResult], applied: Set<TaskOutcome.Attempt>) -> [RunResult] {
        results.map { result in
            guard let outcome = result.outcome, !applied.contains(outcome.attemptKey) else { return result }
            return result.superseded
        }
    }
}
