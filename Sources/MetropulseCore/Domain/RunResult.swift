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
