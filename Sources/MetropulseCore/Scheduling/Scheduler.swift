public import Logging
public import ServiceLifecycle
import Synchronization

/// Enqueues one task per source per slot. Runs as one leader; `tick` is the whole decision and is
/// called directly by tests.
public final class Scheduler: Service {
    public struct Configuration: Sendable {
        /// Upper bound of the random delay added to a slot's run time, as a fraction of the interval.
        public var jitterFraction: Double
        /// Jitter never exceeds this many milliseconds.
        public var maxJitterMillis: Int64
        /// The longest the scheduler sleeps, so reloaded sources are seen promptly.
        public var maxSleepMillis: Int64
        /// The shortest time between two ticks: slots due meanwhile go in one batch (many
        /// sources cost a few writes a second, not one per slot).
        public var minTickMillis: Int64
        /// Succeeded tasks are deleted this long after they finished.
        public var taskRetentionMillis: Int64
        /// Run records are deleted this long after they finished.
        public var runRetentionMillis: Int64
        /// Heartbeats of workers not seen for this long are deleted.
        public var heartbeatRetentionMillis: Int64
        /// Central log lines are deleted this long after they were logged.
        public var logRetentionMillis: Int64
        /// How often the retention clean-up runs.
        public var maintenanceIntervalMillis: Int64
        /// Names this scheduler in the leadership record.
        public var schedulerID: String
        /// How often the leader renews its leadership record.
        public var leadershipRenewMillis: Int64

        public init(
            jitterFraction: Double = 0.05, maxJitterMillis: Int64 = 2_000, maxSleepMillis: Int64 = 1_000,
            minTickMillis: Int64 = 100,
            taskRetentionMillis: Int64 = 7 * 86_400_000, runRetentionMillis: Int64 = 30 * 86_400_000,
            heartbeatRetentionMillis: Int64 = 86_400_000, logRetentionMillis: Int64 = 7 * 86_400_000,
            maintenanceIntervalMillis: Int64 = 3_600_000,
            schedulerID: String = "\(ProcessStats.hostname)-\(ProcessStats.pid)", leadershipRenewMillis: Int64 = 5_000
        ) {
            self.schedulerID = schedulerID
            self.leadershipRenewMillis = leadershipRenewMillis
            self.jitterFraction = jitterFraction
            self.maxJitterMillis = maxJitterMillis
            self.maxSleepMillis = maxSleepMillis
            self.minTickMillis = minTickMillis
            self.taskRetentionMillis = taskRetentionMillis
            self.runRetentionMillis = runRetentionMillis
            self.heartbeatRetentionMillis = heartbeatRetentionMillis
            self.logRetentionMillis = logRetentionMillis
            self.maintenanceIntervalMillis = maintenanceIntervalMillis
        }
    }

    private let catalog: SourceCatalog
    private let queue: any WorkQueue
    /// Source states and scheduled slots, the leadership record, retention.
    private let store: any RunLog & LeadershipStore & RetentionStore & LogStore & CommandLog
    private let clock: WallClock
    private let configuration: Configuration
    private let leadership: (any LeaderElection)?
    private let logger: Logger
    /// Last slot enqueued per source; loaded from the store on first tick.
    private let lastSlots = Mutex<[String: Int64]?>(nil)
    /// Each source's next slot; planned again when the catalog or the leader changes.
    private let plan = Mutex<SchedulePlan?>(nil)
    private let lastMaintenance = Mutex<Int64>(0)
    /// When this scheduler last became the leader, and when it last renewed the record.
    private let leadingSince = Mutex<(since: Int64, renewed: Int64)?>(nil)

    public init(
        catalog: SourceCatalog, queue: any WorkQueue,
        store: any RunLog & LeadershipStore & RetentionStore & LogStore & CommandLog,
        clock: WallClock = .system,
        configuration: Configuration = Configuration(), leadership: (any LeaderElection)? = nil, logger: Logger
    ) {
        self.leadership = leadership
        self.catalog = catalog
        self.queue = queue
        self.store = store
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        logger.info("scheduler started", metadata: ["sources": "\(catalog.all.count)"])
        if let leadership {
            try await leadership.whileLeader {
                // Another leader may have scheduled meanwhile: reload what was enqueued.
                self.lastSlots.withLock { $0 = nil }
                self.plan.withLock { $0 = nil }
                self.leadingSince.withLock { $0 = nil }
                await self.scheduleLoop()
            }
        } else {
            await scheduleLoop()
        }
        logger.info("scheduler stopped")
    }

    /// True when this scheduler schedules (always, without leader election).
    public var isLeader: Bool { leadership?.isLeader ?? true }

    private func scheduleLoop() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var sleepMillis = configuration.maxSleepMillis
            do {
                let next = try await tick(now: clock.nowMillis)
                sleepMillis = min(sleepMillis, max(configuration.minTickMillis, next - clock.nowMillis))
            } catch {
                logger.error("scheduler tick failed", metadata: ["error": "\(loggable(error))"])
            }
            do {
                try await renewLeadershipIfDue(now: clock.nowMillis)
            } catch {
                logger.error("leadership record failed", metadata: ["error": "\(loggable(error))"])
            }
            do {
                try await maintainIfDue(now: clock.nowMillis)
            } catch {
                logger.error("retention clean-up failed", metadata: ["error": "\(loggable(error))"])
            }
            let pause = sleepMillis
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(pause)) }
        }
    }

    /// Enqueues every due slot; returns when the next slot starts (epoch ms). The due slots of a
    /// tick go in batches of `enqueueBatch`: one enqueue and one source-state write each.
    @discardableResult
    public func tick(now: Int64) async throws -> Int64 {
        let (sources, version) = catalog.versioned
        // Taken out while the tick runs (ticks do not overlap: one loop, or a test).
        var plan = self.plan.withLock { plan in
            defer { plan = nil }
            return plan
        }
        if plan?.version != version {
            plan = SchedulePlan(sources: sources, version: version, lastSlots: try await loadedSlots(), now: now)
        }
        var current = plan!
        defer { self.plan.withLock { $0 = current } }
        let due = current.popDue(now: now)
        guard !due.isEmpty else { return min(now + configuration.maxSleepMillis, current.nextWake ?? .max) }
        // Only the due sources' last slots are read (the table itself is written below).
        let known = try await loadedSlots { slots in
            Dictionary(due.compactMap { entry in slots[entry.source.id].map { (entry.source.id, $0) } }) { a, _ in a }
        }
        var tasks: [NewTask] = []
        var slots: [ScheduledSlot] = []
        var next: [(String, Int64)] = []
        var generator = SystemRandomNumberGenerator()
        for (source, _) in due {
            let jitterCap = min(
                configuration.maxJitterMillis, Int64(Double(source.intervalMillis) * configuration.jitterFraction))
            let jitter = jitterCap > 0 ? Int64.random(in: 0...jitterCap, using: &generator) : 0
            if let slot = SchedulePlanner.due(source, lastSlotAt: known[source.id], now: now, jitterMillis: jitter) {
                tasks.append(slot.task)
                slots.append(ScheduledSlot(sourceID: source.id, slotAt: slot.slotStart, nextRunAt: slot.nextSlotStart))
                next.append((source.id, slot.nextSlotStart))
            } else {
                let phase = SchedulePlanner.phase(sourceID: source.id, intervalMillis: source.intervalMillis)
                let slot = SchedulePlanner.slotStart(
                    containing: now, intervalMillis: source.intervalMillis, phase: phase)
                next.append((source.id, slot + source.intervalMillis))
            }
        }
        var written = 0
        do {
            while written < tasks.count {
                let end = min(tasks.count, written + Self.enqueueBatch)
                let inserted = try await queue.enqueue(Array(tasks[written..<end]), now: now)
                try await store.recordScheduled(Array(slots[written..<end]))
                lastSlots.withLock { known in
                    for slot in slots[written..<end] { known?[slot.sourceID] = slot.slotAt }
                }
                logger.debug("slots enqueued", metadata: ["due": "\(end - written)", "new": "\(inserted)"])
                written = end
            }
        } catch {
            // The slots not written stay due: the next tick tries them again.
            let failed = Set(slots[written...].map(\.sourceID))
            for (source, slot) in due where failed.contains(source.id) { current.push(source.id, nextSlot: slot) }
            for (sourceID, slot) in next where !failed.contains(sourceID) { current.push(sourceID, nextSlot: slot) }
            throw error
        }
        for (sourceID, slot) in next { current.push(sourceID, nextSlot: slot) }
        return min(now + configuration.maxSleepMillis, current.nextWake ?? .max)
    }

    /// Slots enqueued in one batch.
    static let enqueueBatch = 1_000

    /// Writes the leadership record when this scheduler starts leading and every
    /// `leadershipRenewMillis` after.
    func renewLeadershipIfDue(now: Int64) async throws {
        let since = leadingSince.withLock { state -> Int64? in
            if let current = state, now - current.renewed < configuration.leadershipRenewMillis { return nil }
            let since = state?.since ?? now
            state = (since, now)
            return since
        }
        guard let since else { return }
        try await store.recordLeadership(
            SchedulerLeadership(
                schedulerID: configuration.schedulerID, host: ProcessStats.hostname, pid: ProcessStats.pid,
                since: since, renewedAt: now))
    }

    /// Deletes old succeeded tasks, run records and heartbeats once per maintenance interval.
    /// Returns how many rows were deleted (0 when not due).
    @discardableResult
    public func maintainIfDue(now: Int64) async throws -> Int {
        let due = lastMaintenance.withLock { last in
            guard now - last >= configuration.maintenanceIntervalMillis else { return false }
            last = now
            return true
        }
        guard due else { return 0 }
        let tasks = try await queue.pruneSucceeded(finishedBefore: now - configuration.taskRetentionMillis)
        let records = try await store.prune(
            runsBefore: now - configuration.runRetentionMillis,
            heartbeatsBefore: now - configuration.heartbeatRetentionMillis)
        let logs = try await store.pruneLogs(before: now - configuration.logRetentionMillis)
        // Commands are kept as long as the runs they may explain.
        let commands = try await store.pruneCommands(before: now - configuration.runRetentionMillis)
        if tasks + records + logs + commands > 0 {
            logger.info(
                "retention clean-up",
                metadata: [
                    "tasks": "\(tasks)", "rows": "\(records)", "log_lines": "\(logs)", "commands": "\(commands)",
                ])
        }
        return tasks + records + logs + commands
    }

    /// Enqueues an extra run of a source now, ahead of scheduled work. Returns its job id.
    public func runNow(sourceID: String) async throws -> String? {
        try await Self.runNow(sourceID: sourceID, catalog: catalog, queue: queue, now: clock.nowMillis)
    }

    /// "Run now" without a scheduler in the process (an `api` process): the same task, put straight
    /// on the shared queue, ahead of scheduled work. nil for an unknown source.
    public static func runNow(sourceID: String, catalog: SourceCatalog, queue: any WorkQueue, now: Int64) async throws
        -> String?
    {
        guard let source = catalog.source(id: sourceID) else { return nil }
        let task = NewTask(
            jobID: "\(source.id)@manual-\(now)", sourceID: source.id, priority: source.priority + 100, runAt: now,
            maxAttempts: source.maxAttempts)
        try await queue.enqueue([task], now: now)
        return task.jobID
    }

    private func loadedSlots() async throws -> [String: Int64] {
        try await loadedSlots { $0 }
    }

    /// `read` of the last slot per source, loaded from the store the first time; `read` runs
    /// under the lock, so it can pick a few entries without copying the whole table.
    private func loadedSlots<T: Sendable>(_ read: ([String: Int64]) -> T) async throws -> T {
        if let value = lastSlots.withLock({ slots in slots.map(read) }) { return value }
        var slots: [String: Int64] = [:]
        for state in try await store.sourceStates() {
            if let slot = state.lastSlotAt { slots[state.sourceID] = slot }
        }
        return lastSlots.withLock { cached in
            if cached == nil { cached = slots }
            return read(cached!)
        }
    }
}
