public import Logging
public import ServiceLifecycle
import Synchronization

/// N concurrent workers: claim tasks in batches, fetch, normalize, commit results with the task's
/// outcome, heartbeat, obey control commands, and drain in-flight work on graceful shutdown.
public final class WorkerPool: Service {
    public struct Configuration: Sendable {
        public var workerID: String
        public var concurrency: Int
        public var leaseMillis: Int64
        public var heartbeatIntervalMillis: Int64
        /// Tasks claimed ahead of free slots (default: as many as the slots), so claims bring
        /// fuller batches and a slot that frees starts its next task without waiting on the queue.
        /// They hold their leases while they wait, as running tasks of this worker.
        public var prefetch: Int
        /// Longest wait for new work when the queue is empty.
        public var idlePollMillis: Int64
        public var retryPolicy: RetryPolicy

        public init(
            workerID: String = WorkerPool.defaultWorkerID(), concurrency: Int = 16, prefetch: Int? = nil,
            leaseMillis: Int64 = 60_000, heartbeatIntervalMillis: Int64 = 10_000, idlePollMillis: Int64 = 500,
            retryPolicy: RetryPolicy = .exponentialJitter()
        ) {
            self.workerID = workerID
            self.concurrency = max(1, concurrency)
            self.prefetch = max(0, prefetch ?? self.concurrency)
            self.leaseMillis = leaseMillis
            self.heartbeatIntervalMillis = heartbeatIntervalMillis
            self.idlePollMillis = idlePollMillis
            self.retryPolicy = retryPolicy
        }
    }

    private struct State {
        /// Tasks claimed and not committed yet (their leases are renewed).
        var inFlight: [Int64: ClaimedTask] = [:]
        /// Of those, the ones still fetching: what the slots count. A task whose result waits for
        /// its commit frees its slot, so commits batch up while the next fetches run.
        var fetching = 0
        /// Of those, the ones claimed ahead and waiting for a slot, in priority order.
        var prefetched: [ClaimedTask] = []
        /// Fetches that gave their slot back while waiting on a busy host and now want one again;
        /// a slot that frees goes to them first.
        var slotWaiters: [CheckedContinuation<Void, Never>] = []
        var processed = 0
        var failed = 0
        var paused = false
        var stopping = false
        /// Tasks fetched at once: the configured concurrency until a SCALE command changes it.
        var slots: Int
        /// Finish times and success flags of recent attempts, for the per-minute rates.
        var recent: [(at: Int64, failed: Bool)] = []
        /// Run records of attempts whose commit the store refused (a full disk, a lost
        /// connection), marked failed with the reason: written with the next commit that lands.
        var unrecorded: [RunResult] = []
    }

    /// At most this many refused attempts wait for their run record; older ones are dropped.
    static let unrecordedLimit = 256

    public let configuration: Configuration
    private let queue: any WorkQueue
    /// The same queue when it is partitioned (Kafka): partitions, stalls, consumer commands,
    /// redelivery of finished jobs.
    private let partitioned: (any PartitionedWorkQueue)?
    private let committer: any RunCommitter
    /// Run records (a redelivered job already done is skipped) and heartbeats.
    private let store: any RunLog & FleetStore & CommandLog
    private let catalog: SourceCatalog
    private let connectors: ConnectorRegistry
    private let bus: any ControlBus
    private let clock: WallClock
    private let logger: Logger
    private let state: Mutex<State>
    private let wake = AsyncSignal()
    private let startedAt: Int64

    public init(
        configuration: Configuration, queue: any WorkQueue, committer: any RunCommitter,
        store: any RunLog & FleetStore & CommandLog,
        catalog: SourceCatalog, connectors: ConnectorRegistry, bus: any ControlBus, clock: WallClock = .system,
        logger: Logger
    ) {
        self.configuration = configuration
        self.queue = queue
        self.partitioned = queue as? any PartitionedWorkQueue
        self.committer = committer
        self.store = store
        self.catalog = catalog
        self.connectors = connectors
        self.bus = bus
        self.clock = clock
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        self.logger = logger
        self.startedAt = clock.nowMillis
        self.state = Mutex(State(slots: configuration.concurrency))
    }

    /// The most slots a SCALE command may give one pool.
    public static let maxSlots = 1_024

    /// Tasks this pool fetches at once now (`configuration.concurrency` until scaled).
    public var slots: Int { state.withLock { $0.slots } }

    /// Claimed tasks held ahead of free slots: the configured prefetch, scaled with the slots.
    private func prefetch(slots: Int) -> Int {
        configuration.prefetch * slots / configuration.concurrency
    }

    public static func defaultWorkerID() -> String {
        "\(ProcessStats.hostname)-\(ProcessStats.pid)-\(UInt16.random(in: .min ... .max))"
    }

    public func run() async throws {
        let commands = try await bus.commands()
        logger.info("worker pool started", metadata: ["concurrency": "\(configuration.concurrency)"])
        let acknowledgements = AsyncStream<CommandAck>.makeStream()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { background in
                background.addTask { await self.heartbeatLoop() }
                background.addTask {
                    for await command in commands where command.applies(to: self.configuration.workerID) {
                        if let ack = self.apply(command) { acknowledgements.continuation.yield(ack) }
                    }
                }
                // Answers are written apart from applying, so a slow store never delays a command.
                background.addTask {
                    for await ack in acknowledgements.stream { await self.record(ack) }
                }
                await withDiscardingTaskGroup { workers in
                    await self.dispatchLoop(workers: &workers)
                }
                background.cancelAll()
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.notify()
        }
        await recordRefusedCommits()
        await writeHeartbeat(status: .stopped)
        logger.info("worker pool stopped")
    }

    /// Stops taking work; in-flight tasks finish. Used by graceful shutdown and tests.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.notify()
    }

    public var inFlightCount: Int { state.withLock { $0.inFlight.count } }

    /// Attempts run and committed by this pool since it started.
    public var processedCount: Int { state.withLock { $0.processed } }

    /// What the dispatcher does next, decided under the lock.
    private struct Step {
        /// Prefetched tasks to start now, one per free slot.
        var start: [ClaimedTask] = []
        /// How many tasks to claim: free slots plus room in the prefetch buffer.
        var claim = 0
        /// Prefetched tasks still waiting for a slot.
        var waiting = 0
        var stopping = false
        var paused = false
    }

    private func dispatchLoop(workers: inout DiscardingTaskGroup) async {
        while true {
            let step = state.withLock { state in
                var step = Step()
                step.stopping = state.stopping
                step.paused = state.paused
                // Claimed tasks wait while the pool is paused; otherwise they start as slots free,
                // also once the pool is stopping (they are in flight).
                let slots = state.slots
                let prefetch = self.prefetch(slots: slots)
                if !state.paused {
                    step.start = Array(state.prefetched.prefix(max(0, slots - state.fetching)))
                    state.prefetched.removeFirst(step.start.count)
                    state.fetching += step.start.count
                }
                step.waiting = state.prefetched.count
                // The buffer is refilled once it is half empty, so claims bring full batches.
                if !state.stopping, !state.paused, state.prefetched.count <= prefetch / 2 {
                    step.claim = min(
                        slots + prefetch - state.fetching - state.prefetched.count,
                        // At most three times the slots' worth of results waiting for their commit.
                        4 * slots + prefetch - state.inFlight.count)
                }
                return step
            }
            for task in step.start {
                workers.addTask {
                    await self.process(task)
                    self.state.withLock { _ = $0.inFlight.removeValue(forKey: task.id) }
                    self.wake.notify()
                }
            }
            // Stopping while paused leaves waiting tasks to their leases: they run elsewhere.
            if step.stopping, step.waiting == 0 || step.paused { return }
            if step.claim <= 0 {
                if step.start.isEmpty { await wake.wait(timeoutMillis: configuration.idlePollMillis) }
                continue
            }
            let claimed: [ClaimedTask]
            do {
                // A claim that hangs (a database connection lost mid-call) must not stop the pool.
                let (queue, owner, lease, now, limit) = (
                    self.queue, configuration.workerID, configuration.leaseMillis, clock.nowMillis, step.claim
                )
                claimed = try await withDeadline(.milliseconds(configuration.leaseMillis / 2)) {
                    try await queue.claim(owner: owner, limit: limit, leaseMillis: lease, now: now)
                }
            } catch {
                logger.error("claim failed", metadata: ["error": "\(loggable(error))"])
                await wake.wait(timeoutMillis: 1_000)
                continue
            }
            if claimed.isEmpty {
                // Nothing to claim: wait for new work, or for a slot if tasks are waiting for one.
                if step.waiting > 0 {
                    await wake.wait(timeoutMillis: configuration.idlePollMillis)
                } else if step.start.isEmpty {
                    await queue.waitForWork(timeoutMillis: configuration.idlePollMillis)
                }
                continue
            }
            state.withLock { state in
                for task in claimed { state.inFlight[task.id] = task }
                state.prefetched.append(contentsOf: claimed)
                if state.prefetched.count > claimed.count {
                    // Claims come back in priority order; keep it across claims.
                    state.prefetched.sort { $0.claimedBefore($1) }
                }
            }
        }
    }

    /// One fetch of `source` as a worker makes it, filling `run`'s fetch facts (URL, status, bytes,
    /// counts, rejections, hash, feed time): the connector, the zones of the source's city, and
    /// the store's limits. Also used by `metropulse backfill`.
    public static func fetch(
        _ source: SourceDefinition, connectors: ConnectorRegistry, catalog: SourceCatalog, context: FetchContext,
        into run: inout TaskRun
    ) async throws -> ObservationBatch {
        let city = source.tags["city"].flatMap(catalog.city(id:))
        var context = context
        context.city = city
        let result = try await connectors.fetch(source, context: context)
        var observations = result.observations
        if source.tags["zone"] == nil, let city {
            observations.attachZones(of: city)
        }
        observations.deriveAirQualityIndexes()
        // Whatever the format, nothing past the store's limits is written (ObservationBatch+Limits).
        let refused = observations.enforceLimits()
        if result.unchanged { run.status = .unchanged }
        run.url = Redaction.text(result.url)
        run.httpStatus = result.httpStatus
        run.bytes = result.bytes
        run.entityCount = observations.count
        let rejections = result.rejected + refused
        run.rejectedCount = rejections.count(where: \.isEntityRejected)
        run.rejections = Rejection.sample(rejections)
        if let first = refused.first {
            context.logger.notice(
                "entities past the store's limits rejected",
                metadata: [
                    "job_id": "\(run.jobID)", "count": "\(refused.count)", "first": "\(first.entity): \(first.reason)",
                ])
        }
        run.contentHash = result.contentHash
        run.feedTimestamp = result.feedTimestamp.flatMap { Timestamp.feedRange.contains($0) ? $0 : nil }
        return observations
    }

    /// Runs one attempt and commits its result; never throws. Its slot is free once the result is
    /// ready; the lease is held until the commit.
    func process(_ task: ClaimedTask) async {
        let slot = FetchSlot(giveBack: { [self] in giveSlotBack() }, take: { [self] in await takeSlot() })
        func freeSlot() { slot.release() }
        defer { freeSlot() }
        if partitioned?.mayRedeliverFinishedJobs == true, await alreadySucceeded(task) { return }
        let startedAt = clock.nowMillis
        // Unique per attempt, also across requeues (which restart the attempt count).
        let runID = "\(task.jobID)#\(task.attempt)@\(startedAt)"
        var run = TaskRun(
            id: runID, jobID: task.jobID, taskID: task.id, sourceID: task.sourceID, attempt: task.attempt,
            workerID: configuration.workerID, status: .succeeded, startedAt: startedAt, finishedAt: startedAt)
        var observations = ObservationBatch()
        var failure: FetchError?
        do {
            guard let source = catalog.source(id: task.sourceID) else {
                throw FetchError(.configuration, "source '\(task.sourceID)' is not in the catalogue")
            }
            let (connectors, context) = (self.connectors, FetchContext(now: startedAt, logger: logger))
            observations = try await FetchSlot.$current.withValue(slot) {
                try await Self.fetch(source, connectors: connectors, catalog: catalog, context: context, into: &run)
            }
        } catch let error as FetchError {
            failure = error
        } catch is CancellationError {
            logger.notice("task cancelled; its lease will expire", metadata: ["job_id": "\(task.jobID)"])
            return
        } catch {
            failure = FetchError(.decode, "\(error)")
        }
        let finishedAt = clock.nowMillis
        run.finishedAt = finishedAt
        let disposition: TaskOutcome.Disposition
        if let failure {
            run.status = .failed
            run.errorKind = failure.kind
            run.errorMessage = Redaction.text(failure.message)
            run.httpStatus = failure.httpStatus ?? run.httpStatus
            let retryable = failure.kind != .configuration
            disposition = configuration.retryPolicy.disposition(
                afterAttempt: task.attempt, maxAttempts: retryable ? task.maxAttempts : task.attempt,
                now: finishedAt, error: Redaction.text(failure.description), retryAfterMillis: failure.retryAfterMillis)
            logger.warning(
                "fetch failed",
                metadata: [
                    "job_id": "\(task.jobID)", "attempt": "\(task.attempt)", "error_kind": "\(failure.kind.rawValue)",
                    "error": "\(failure.message)",
                ])
        } else {
            disposition = .succeeded
            logger.debug(
                "fetch succeeded",
                metadata: ["job_id": "\(task.jobID)", "entities": "\(run.entityCount)", "ms": "\(run.durationMillis)"])
        }
        let outcome = TaskOutcome(task, disposition: disposition, finishedAt: run.finishedAt)
        PipelineMetrics.taskFinished(
            source: task.sourceID, outcome: run.status, duration: .milliseconds(max(0, run.durationMillis)))
        if let failure { PipelineMetrics.fetchFailed(source: task.sourceID, kind: failure.kind) }
        freeSlot()
        let result = RunResult(run: run, observations: observations, outcome: outcome)
        // Run records of earlier attempts the store refused travel with this commit.
        let refused = takeUnrecorded()
        let commitStart = ContinuousClock.now
        do {
            // Past the lease another attempt may own the task, so a commit still hanging then is
            // abandoned; if it lands later its outcome no longer applies.
            let committer = self.committer
            try await withDeadline(.milliseconds(configuration.leaseMillis)) {
                try await committer.commit(refused + [result])
            }
            PipelineMetrics.committed(duration: ContinuousClock.now - commitStart, failed: false)
            state.withLock { state in
                state.processed += 1
                if failure != nil { state.failed += 1 }
                state.recent.append((run.finishedAt, failure != nil))
            }
        } catch {
            PipelineMetrics.committed(duration: ContinuousClock.now - commitStart, failed: true)
            logger.error(
                "commit failed; the task will run again when its lease expires",
                metadata: ["job_id": "\(task.jobID)", "error": "\(loggable(error))"])
            state.withLock { state in
                state.unrecorded = refused + state.unrecorded
                // A commit abandoned at its deadline may still land: no second record for it.
                if !(error is DeadlineExceeded) { state.unrecorded.append(result.refused(by: error)) }
                state.unrecorded.removeFirst(max(0, state.unrecorded.count - Self.unrecordedLimit))
                state.processed += 1
                state.failed += 1
                state.recent.append((clock.nowMillis, true))
            }
        }
    }

    /// The run records of refused commits waiting to be written, taken out.
    private func takeUnrecorded() -> [RunResult] {
        state.withLock { state in
            defer { state.unrecorded.removeAll() }
            return state.unrecorded
        }
    }

    /// On the way out: one more try at the run records of refused commits.
    private func recordRefusedCommits() async {
        let refused = takeUnrecorded()
        guard !refused.isEmpty else { return }
        do {
            let committer = self.committer
            try await withDeadline(.milliseconds(configuration.leaseMillis)) { try await committer.commit(refused) }
        } catch {
            logger.error(
                "run records of refused commits not written",
                metadata: ["count": "\(refused.count)", "error": "\(loggable(error))"])
        }
    }

    /// A slot given back (a fetch done, or waiting on a busy host) goes to a fetch waiting to
    /// take one again, else back to the pool.
    private func giveSlotBack() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.slotWaiters.isEmpty { return state.slotWaiters.removeFirst() }
            state.fetching -= 1
            return nil
        }
        waiter?.resume()
        wake.notify()
    }

    /// Waits for a free slot and takes it (a fetch going on after waiting on a busy host).
    private func takeSlot() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { state -> Bool in
                if state.fetching < state.slots, state.slotWaiters.isEmpty {
                    state.fetching += 1
                    return true
                }
                state.slotWaiters.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    /// A job delivered again after it succeeded (a partitioned queue redelivers what was not
    /// committed): finished without fetching. A failed lookup runs the job (writes are idempotent).
    private func alreadySucceeded(_ task: ClaimedTask) async -> Bool {
        let (store, queue) = (self.store, self.queue)
        do {
            let done = try await withDeadline(bookkeepingDeadline) {
                try await store.taskRuns(TaskRunQuery(jobID: task.jobID, limit: 20)).contains { $0.status.isSuccess }
            }
            guard done else { return false }
            let now = clock.nowMillis
            try await withDeadline(bookkeepingDeadline) {
                try await queue.finish([TaskOutcome(task, disposition: .succeeded, finishedAt: now)])
            }
            logger.info("job already done, skipped", metadata: ["job_id": "\(task.jobID)"])
            return true
        } catch {
            logger.warning(
                "could not look the job up; running it",
                metadata: ["job_id": "\(task.jobID)", "error": "\(loggable(error))"])
            return false
        }
    }

    /// Obeys a command; returns this worker's answer (nil for RELOAD_CONFIG, which the process's
    /// `ConfigReloader` answers once the file is read).
    private func apply(_ command: ControlCommand) -> CommandAck? {
        logger.info(
            "control command",
            metadata: [
                "kind": "\(command.kind.rawValue)", "id": "\(command.id)", "issued_by": "\(command.issuedBy ?? "-")",
            ])
        partitioned?.control(command.kind)
        var ok = true
        let result: String
        switch command.kind {
        case .pauseFetch:
            state.withLock { $0.paused = true }
            result = "paused: in-flight tasks finish, no new ones start"
        case .drain:
            let waiting = state.withLock { state in
                state.paused = true
                return state.inFlight.count
            }
            result = "draining: \(waiting) tasks in flight finish, no new ones start"
        case .resumeFetch:
            state.withLock { $0.paused = false }
            wake.notify()
            result = "running"
        case .reloadConfig:
            wake.notify()
            return nil
        case .demoIncident:
            // Answered by the process's demo feed server (DemoIncidentListener).
            return nil
        case .rebalance:
            // A partitioned queue rejoins its group in `control`; the SQL queues have nothing to move.
            wake.notify()
            result = partitioned == nil ? "nothing to rebalance: the queue is not partitioned" : "rejoining the group"
        case .scale:
            let wanted = command.slots?[configuration.workerID] ?? 0
            if (1...Self.maxSlots).contains(wanted) {
                let before = state.withLock { state in
                    defer { state.slots = wanted }
                    return state.slots
                }
                wake.notify()
                result = "slots \(before) → \(wanted)"
                logger.notice("worker slots changed", metadata: ["from": "\(before)", "to": "\(wanted)"])
            } else {
                ok = false
                result = "refused: slots must be 1 to \(Self.maxSlots), not \(wanted)"
            }
        }
        return CommandAck(
            commandID: command.id, workerID: configuration.workerID, at: clock.nowMillis, ok: ok, result: result)
    }

    /// Writes an answer to a command (best effort: a lost answer shows the worker as not having
    /// answered).
    private func record(_ ack: CommandAck) async {
        let store = self.store
        do {
            try await withDeadline(bookkeepingDeadline) { try await store.acknowledge(ack) }
        } catch {
            logger.error(
                "command acknowledgement not written",
                metadata: ["id": "\(ack.commandID)", "error": "\(loggable(error))"])
        }
        // The fleet sees the new status or slot count at once, not at the next heartbeat.
        await writeHeartbeat(status: nil)
    }

    private func heartbeatLoop() async {
        while !Task.isCancelled {
            await writeHeartbeat(status: nil)
            let renewUntil = clock.nowMillis + configuration.leaseMillis
            let held = state.withLock { Array($0.inFlight.keys) }
            if !held.isEmpty {
                do {
                    let (queue, owner) = (self.queue, configuration.workerID)
                    try await withDeadline(bookkeepingDeadline) {
                        try await queue.renewLeases(owner: owner, taskIDs: held, until: renewUntil)
                    }
                } catch {
                    logger.error("lease renewal failed", metadata: ["error": "\(loggable(error))"])
                }
            }
            do {
                try await Task.sleep(for: .milliseconds(configuration.heartbeatIntervalMillis))
            } catch {
                return
            }
        }
    }

    public func heartbeat(status override: WorkerStatus? = nil) -> WorkerHeartbeat {
        let now = clock.nowMillis
        let partitions = partitioned?.assignedPartitions() ?? []
        let stalled = partitioned?.isStalled(now: now) ?? false
        return state.withLock { state in
            state.recent.removeAll { $0.at < now - 60_000 }
            let status: WorkerStatus =
                override
                ?? (state.stopping ? .draining : (state.paused ? .paused : (stalled ? .stalled : .running)))
            return WorkerHeartbeat(
                workerID: configuration.workerID, host: ProcessStats.hostname, pid: ProcessStats.pid, status: status,
                concurrency: state.slots, inFlight: state.inFlight.count, processed: state.processed,
                failed: state.failed, fetchRate: Double(state.recent.count) / 60,
                errorsLastMinute: state.recent.filter(\.failed).count, cpuSeconds: ProcessStats.cpuSeconds,
                memoryBytes: ProcessStats.residentBytes, startedAt: startedAt, lastSeenAt: now, partitions: partitions)
        }
    }

    /// How long a heartbeat write, metrics publish or lease renewal may take. A call stuck on a
    /// dead connection is abandoned so heartbeats go on and shutdown never waits on it.
    private var bookkeepingDeadline: Duration { .milliseconds(max(1_000, configuration.heartbeatIntervalMillis)) }

    /// Records the heartbeat (the last one per worker stays in the store) and publishes it on the
    /// bus as this worker's metrics.
    private func writeHeartbeat(status: WorkerStatus?) async {
        let (beat, store, bus) = (heartbeat(status: status), self.store, self.bus)
        do {
            try await withDeadline(bookkeepingDeadline) { try await store.upsertHeartbeat(beat) }
        } catch {
            logger.error("heartbeat failed", metadata: ["error": "\(loggable(error))"])
        }
        do {
            try await withDeadline(bookkeepingDeadline) { try await bus.publishMetrics(beat) }
        } catch {
            logger.debug("metrics publish failed", metadata: ["error": "\(loggable(error))"])
        }
    }
}
