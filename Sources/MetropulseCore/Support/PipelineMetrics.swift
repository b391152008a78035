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

    /// `metropulse_job_runs_total{job, status}`: job runs by how they ended (`succeeded`,
    /// `failed`, `skipped`).
    public static let jobRuns = "metropulse_job_runs_total"
    /// `metropulse_job_duration_seconds{job, status}`: a histogram of job run durations.
    public static let jobDuration = "metropulse_job_duration_seconds"
    /// `metropulse_job_last_success_timestamp_seconds{job}`: when each job last succeeded.
    public static let jobLastSuccess = "metropulse_job_last_success_timestamp_seconds"

    static func jobFinished(_ run: JobRun) {
        Counter(label: jobRuns, dimensions: [("job", run.jobID), ("status", run.status.rawValue)]).increment()
        if let millis = run.durationMillis, run.status != .skipped {
            Timer(label: jobDuration, dimensions: [("job", run.jobID), ("status", run.status.rawValue)])
                .record(duration: .milliseconds(millis))
        }
        if run.status == .succeeded, let finished = run.finishedAt {
            Gauge(label: jobLastSuccess, dimensions: [("job", run.jobID)]).record(Double(finished) / 1000)
        }
    }

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
