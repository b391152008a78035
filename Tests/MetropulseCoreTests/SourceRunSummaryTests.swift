import MetropulseCore
import Testing

@Suite("Source run summary")
struct SourceRunSummaryTests {
    func run(
        _ source: String, finished: Int64, _ status: TaskRunStatus, feed: Int64? = nil, error: FetchErrorKind? = nil
    ) -> TaskRun {
        TaskRun(
            id: "\(source)-\(finished)", jobID: "\(source)-\(finished)", taskID: nil, sourceID: source, attempt: 1,
            workerID: "w", status: status, startedAt: finished - 1, finishedAt: finished, feedTimestamp: feed,
            errorKind: error, errorMessage: error.map { _ in "boom at \(finished)" })
    }

    @Test("folds a batch as if the runs were applied one by one, per source")
    func fold() {
        let summaries = SourceRunSummary.fold([
            run("a", finished: 30, .succeeded, feed: 300),
            run("b", finished: 5, .failed, error: .timeout),
            run("a", finished: 10, .failed, error: .decode),  // finished earlier: not the last run
            run("a", finished: 20, .succeeded, feed: 200),
            run("a", finished: 40, .failed, error: .leaseLost),  // superseded: ignored
        ])
        #expect(summaries.map(\.sourceID) == ["a", "b"])
        let a = summaries[0]
        #expect(a.lastRunAt == 30)
        #expect(a.lastRunStatus == .succeeded)
        #expect(a.lastSuccessAt == 30)
        #expect(a.lastError == "decode: boom at 10")
        #expect(a.lastFeedTimestamp == 200)
        #expect(summaries[1].lastRunStatus == .failed)
        #expect(summaries[1].lastSuccessAt == nil)
    }
}
