import Metrics

/// The pipeline's own measurements, through swift-metrics with Prometheus names and base units.
/// The process chooses the backend (the `metropulse` binary: Prometheus, served at `/metrics`);
/// without one they cost a no-op call.
public enum PipelineMetrics {
    /// `metropulse_task_duration_seconds{source, outcome}`: a histogram of task runs, fetch to
    /// outcome, by source and outcome (`succeeded`, `unchanged`, `failed`).
    public static let taskDuration = "metropulse_task_duration_seconds"
    /// `metropulse_fetch_errors_total{source, kind}`: failed fetches by error kind.
    public static let fetchErrors = "metropulse_fetch_errors_total"
    /// `metropulse_store_commit_duration_seconds{outcome}`: a worker's commit of its results.
    public static let commitDuration = "metropulse_store_commit_duration_seconds"
    /// `metropulse_store_commit_failures_total`: commits that failed or missed their deadline.
    public static let commitFailures = "metropulse_store_commit_failures_total"

    static func taskFinished(source: String, outcome: TaskRunStatus, duration: Duration) {
        Timer(label: taskDuration, dimensions: [("source", source), ("outcome", outcome.rawValue)])
            .record(duration: duration)
    }

    static func fetchFailed(source: String, kind: FetchErrorKind) {
        Counter(label: fetchErrors, dimensions: [("source", source), ("kind", kind.rawValue)]).increment()
    }

    static func committed(duration: Duration, failed: Bool) {
        Timer(label: commitDuration, dimensions: [("outcome", failed ? "failed" : "ok")])
            .record(duration: duration)
        if failed { Counter(label: commitFailures).increment() }
    }
}
