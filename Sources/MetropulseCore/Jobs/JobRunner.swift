public import Logging
public import ServiceLifecycle
import Synchronization

/// Runs the jobs, led by the scheduler's leader: one cycle every `intervalMillis` (aligned to
/// the clock) in dependency order, and any job an operator asked for (`JobStore.requestJobRun`,
/// from any process) within `pollMillis`.
///
/// In a cycle a paused job is skipped, and so is a job whose upstream did not succeed in the
/// cycle; each says why. A run is abandoned at its timeout (`withDeadline`: a statement in
/// progress is left to finish on its own) and counts as failed; a failed run is retried after
/// `retryDelayMillis`, doubling, until `maxAttempts`. A job's watermark moves only when a run
/// succeeded. A manual run runs that job alone, paused or not, whatever its upstream did.
public final class JobRunner: Service, Sendable {
    public struct Configuration: Sendable {
        public var intervalMillis: Int64
        /// How often pending requests (and leadership) are looked at.
        public var pollMillis: Int64
        /// Runs started earlier than this are pruned (once an hour).
        public var runRetentionMillis: Int64

        public init(
            intervalMillis: Int64 = 300_000, pollMillis: Int64 = 2_000, runRetentionMillis: Int64 = 7 * 86_400_000
        ) {
            self.intervalMillis = max(1_000, intervalMillis)
            self.pollMillis = max(50, pollMillis)
            self.runRetentionMillis = runRetentionMillis
        }
    }

    public let configuration: Configuration
    /// In dependency order.
    public let jobs: [any Job]
    private let store: any Store
    private let queue: any WorkQueue
    private let clock: WallClock
    private let isLeader: @Sendable () -> Bool
    private let logger: Logger
    private let lastPrune = Mutex<Int64>(0)

    public init(
        jobs: [any Job], store: any Store, queue: any WorkQueue, clock: WallClock,
        configuration: Configuration = Configuration(), isLeader: @escaping @Sendable () -> Bool = { true },
        logger: Logger
    ) throws {
        let order = try JobGraph.ordered(jobs.map(\.description)).map(\.id)
        let byID = Dictionary(jobs.map { ($0.description.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.jobs = order.compactMap { byID[$0] }
        self.store = store
        self.queue = queue
        self.clock = clock
        self.configuration = configuration
        self.isLeader = isLeader
        self.logger = logger
    }

    public func run() async throws {
        logger.info(
            "job runner started",
            metadata: [
                "jobs": "\(jobs.map(\.description.id).joined(separator: ","))",
                "interval_ms": "\(configuration.intervalMillis)",
            ])
        var nextCycle: Int64?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if isLeader() {
                do {
                    try await runRequested()
                    let now = clock.nowMillis
                    let cycle = now - now % configuration.intervalMillis
                    if nextCycle == nil, try await cycleRan(cycle) {
                        // A new leader whose predecessor ran this slot's cycle waits for the next.
                        nextCycle = cycle + configuration.intervalMillis
                    }
                    // Otherwise a new leader runs a cycle at once: the last one may have been missed.
                    if now >= nextCycle ?? now {
                        nextCycle = cycle + configuration.intervalMillis
                        _ = await runCycle(cycle)
                    }
                    try await pruneIfDue(now: clock.nowMillis)
                } catch {
                    logger.error("job runner: the store did not answer", metadata: ["error": "\(loggable(error))"])
                }
            } else {
                nextCycle = nil
            }
            let pause = configuration.pollMillis
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(pause)) }
        }
        logger.info("job runner stopped")
    }

    /// Whether a scheduled run of the cycle of slot `cycle` is on record (by this leader or the last).
    func cycleRan(_ cycle: Int64) async throws -> Bool {
        guard let first = jobs.first?.description.id else { return false }
        return try await store.jobRuns(JobRunQuery(jobID: first, since: cycle, limit: 20)).contains {
            $0.trigger == .schedule && $0.cycle == cycle
        }
    }

    /// Runs every job once in dependency order, as the cycle of slot `cycle`; returns each
    /// job's last run.
    @discardableResult
    public func runCycle(_ cycle: Int64) async -> [String: JobRun] {
        var ended: [String: JobRun] = [:]
        let states = (try? await store.jobStates()) ?? []
        let paused = Set(states.filter(\.paused).map(\.jobID))
        for job in jobs {
            if Task.isCancelled || !isLeader() { break }
            let description = job.description
            var skipReason: String?
            if paused.contains(description.id) {
                skipReason = "paused by an operator"
            } else if let upstream = description.dependsOn.first(where: { ended[$0]?.status != .succeeded }) {
                let status = ended[upstream]?.status.rawValue ?? "not run"
                skipReason = "upstream \(upstream) \(status) in this cycle"
            }
            if let skipReason {
                let now = clock.nowMillis
                let run = JobRun(
                    jobID: description.id, cycle: cycle, trigger: .schedule, attempt: 1, status: .skipped,
                    startedAt: now, finishedAt: now, error: skipReason)
                await record(run)
                ended[description.id] = run
                continue
            }
            ended[description.id] = await execute(job, cycle: cycle, trigger: .schedule, requestedBy: nil)
        }
        return ended
    }

    /// Runs the jobs asked for by operators, oldest request first.
    public func runRequested() async throws {
        let requested = try await store.jobStates().filter { $0.requestedAt != nil }
            .sorted { ($0.requestedAt ?? 0, $0.jobID) < ($1.requestedAt ?? 0, $1.jobID) }
        for state in requested {
            guard let at = state.requestedAt else { continue }
            try await store.clearJobRequest(state.jobID, upTo: at)
            guard let job = jobs.first(where: { $0.description.id == state.jobID }) else {
                logger.warning("a run was asked for an unknown job", metadata: ["job": "\(state.jobID)"])
                continue
            }
            await execute(job, cycle: at, trigger: .manual, requestedBy: state.requestedBy)
        }
    }

    /// Runs one job until it succeeds or its attempts are spent; returns its last run.
    @discardableResult
    public func execute(_ job: any Job, cycle: Int64, trigger: JobTrigger, requestedBy: String?) async -> JobRun {
        let description = job.description
        // Read once: only a successful attempt moves it, and that ends the loop.
        let watermark = (try? await store.jobStates())?.first { $0.jobID == description.id }?.watermark
        var attempt = 1
        while true {
            let started = clock.nowMillis
            var run = JobRun(
                jobID: description.id, cycle: cycle, trigger: trigger, attempt: attempt, status: .running,
                startedAt: started, requestedBy: requestedBy)
            await record(run, final: false)
            let context = JobContext(
                jobID: description.id, cycle: cycle, now: started, watermark: watermark, store: store, queue: queue,
                logger: logger)
            do {
                let result = try await withDeadline(.milliseconds(description.timeoutMillis)) {
                    try await job.run(context)
                }
                if let mark = result.watermark { try await store.setJobWatermark(description.id, to: mark) }
                run.status = .succeeded
                run.rowsRead = result.rowsRead
                run.rowsWritten = result.rowsWritten
                run.detail = result.detail
            } catch is DeadlineExceeded {
                run.status = .failed
                let millis = description.timeoutMillis
                run.error = "timed out after " + (millis % 1000 == 0 ? "\(millis / 1000) s" : "\(millis) ms")
            } catch {
                run.status = .failed
                run.error = loggable(error)
            }
            run.finishedAt = clock.nowMillis
            await record(run)
            if run.status == .succeeded || attempt >= description.maxAttempts || Task.isCancelled {
                if run.status == .failed {
                    logger.error(
                        "job failed",
                        metadata: ["job": "\(description.id)", "attempts": "\(attempt)", "error": "\(run.error ?? "")"])
                }
                return run
            }
            let delay = description.retryDelayMillis << Int64(min(attempt - 1, 20))
            logger.warning(
                "job failed; retrying",
                metadata: [
                    "job": "\(description.id)", "attempt": "\(attempt)", "retry_in_ms": "\(delay)",
                    "error": "\(run.error ?? "")",
                ])
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(delay)) }
            if Task.isCancelled || Task.isShuttingDownGracefully { return run }
            attempt += 1
        }
    }

    private func record(_ run: JobRun, final: Bool = true) async {
        do {
            try await store.recordJobRun(run)
        } catch {
            logger.error(
                "a job run could not be recorded", metadata: ["job": "\(run.jobID)", "error": "\(loggable(error))"])
        }
        if final { PipelineMetrics.jobFinished(run) }
    }

    private func pruneIfDue(now: Int64) async throws {
        let due = lastPrune.withLock { last in
            guard now - last >= 3_600_000 else { return false }
            last = now
            return true
        }
        guard due else { return }
        try await store.pruneJobRuns(before: now - configuration.runRetentionMillis)
        try await store.pruneQualityResults(before: now - configuration.runRetentionMillis)
    }
}
