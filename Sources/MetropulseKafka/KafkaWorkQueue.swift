#if Kafka
    import Foundation
    public import Logging
    public import MetropulseCore
    public import ServiceLifecycle
    import Synchronization

    /// The work queue on Kafka. The scheduler produces tasks to `fetch.tasks` (or `fetch.tasks.high`
    /// for a priority above 0), keyed by source id; the worker pools of every process form one
    /// consumer group on the task topics.
    ///
    /// What Kafka gives and what this type adds:
    /// - a partition is leased to one member of the group at a time; a member that dies loses its
    ///   partitions after the session timeout, and their uncommitted tasks are read again by others;
    /// - within a process, each task read is leased to one claimer, with an expiry, renewals and the
    ///   attempt number as the token, exactly as on the SQL queues;
    /// - a partition's offset is committed only up to the first task not finished yet, and only after
    ///   the task's writes (at-least-once; a redelivered task repeats idempotent writes);
    /// - a failed attempt is produced to `fetch.tasks.retry` with a `not-before` header and a task out
    ///   of attempts to `fetch.tasks.dlq`; `requeueDead` moves dead letters back to the task topics;
    /// - a job id is accepted once per scheduler process (the scheduler never enqueues a slot twice),
    ///   and a job a worker already finished in this process is skipped if it is delivered again;
    /// - the first task of a partition after an assignment runs alone and its start is counted in
    ///   the broker (`HeadRecovery`): a task that brings down every worker running it is dead once
    ///   its starts reach its attempts, instead of going round the fleet.
    public final class KafkaWorkQueue: PartitionedWorkQueue, Service, Sendable {
        public struct Configuration: Sendable {
            public var settings: KafkaSettings
            public var topics: KafkaTopics
            /// Names this process's clients (`client.id`).
            public var clientID: String
            /// Tasks read and not finished, per process, above which reading pauses.
            public var inboxLimit: Int
            /// How long `claim` waits for tasks this process just produced to be read back.
            public var catchUpMillis: Int64
            /// With partitions assigned and tasks waiting, how long without reading or finishing one
            /// before the worker reports itself stalled (behind).
            public var stallAfterMillis: Int64
            /// The record topics, when the data path is Kafka: the lag report adds the sink group's.
            public var recordTopics: RecordTopics?

            public init(
                settings: KafkaSettings, topics: KafkaTopics = KafkaTopics(), clientID: String = "metropulse",
                inboxLimit: Int = 5_000, catchUpMillis: Int64 = 2_000, stallAfterMillis: Int64 = 60_000,
                recordTopics: RecordTopics? = nil
            ) {
                self.recordTopics = recordTopics
                self.settings = settings
                self.topics = topics
                self.clientID = clientID
                self.inboxLimit = inboxLimit
                self.catchUpMillis = catchUpMillis
                self.stallAfterMillis = stallAfterMillis
            }
        }

        struct PartitionKey: Hashable, Sendable, Comparable {
            var topic: String
            var partition: Int32

            static func < (lhs: PartitionKey, rhs: PartitionKey) -> Bool {
                (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
            }
        }

        typealias Entry = LeaseBook<PartitionKey>.Entry

        struct State {
            /// The tasks read and not finished, and their leases.
            var book = LeaseBook<PartitionKey>()
            /// What was read and not finished per partition: how far offsets may be committed.
            var points = CommitPoints<PartitionKey>()
            var assigned: Set<PartitionKey> = []
            var assignedOnce = false
            var paused = false
            /// The highest offset this process wrote per task partition.
            var produced: [PartitionKey: Int64] = [:]
            var enqueuedJobs = RecentSet()
            var finishedJobs = RecentSet()
            var succeeded: [QueuedTask] = []
            var finishedAt: [Int64] = []
            /// When a task was last read or finished, or partitions last assigned (wall clock).
            var lastProgressAt: Int64 = 0
            /// Messages in this process's partitions not read yet (refreshed every few seconds).
            var unread: Int64 = 0
            var operatorPaused = false
            var rebalanceRequested = false
            /// Next offsets to commit, per partition, once the tasks before them were written.
            var toCommit: [PartitionKey: Int64] = [:]
        }

        let configuration: Configuration
        let logger: Logger
        let producer: KafkaHandle
        private let state = Mutex(State())
        private let consumerBox = Mutex<KafkaHandle?>(nil)
        private let observers = Mutex<[String: KafkaHandle]>([:])
        private let peekLock = Mutex(())
        private let committedUpTo = Mutex<[PartitionKey: Int64]>([:])
        private let signal = AsyncSignal()
        private let consumerClosed = DispatchSemaphore(value: 0)
        /// Signalled once shutdown finished (and again by every waiter, for the next one).
        private let closed = DispatchSemaphore(value: 0)
        private let running = Atomic<Bool>(true)
        private let lagCheckRunning = Atomic<Bool>(false)

        public init(configuration: Configuration, logger: Logger) throws {
            self.configuration = configuration
            self.logger = logger
            self.producer = try KafkaHandle(
                role: .producer, settings: configuration.settings, name: configuration.clientID)
        }

        /// Creates the topics that are missing.
        public func createTopics() async throws {
            let topics = configuration.topics
            try await producer.blocking { [producer] in
                try producer.createTopics(topics.all, partitions: topics.partitions, replication: topics.replication)
            }
        }

        public func run() async throws {
            try? await gracefulShutdown()
            await close()
        }

        /// Stops reading and producing: the consumer leaves its group and what is being produced
        /// is flushed, on librdkafka's side; returns at once.
        public func shutdown() {
            guard running.exchange(false, ordering: .relaxed) else { return }
            signal.notify()
            let hasConsumer = consumerBox.withLock { $0 != nil }
            DispatchQueue.global().async { [self] in
                producer.stop()
                if hasConsumer { _ = consumerClosed.wait(timeout: .now() + 10) }
                closed.signal()
            }
        }

        /// Shuts down and returns once the consumer has left its group (at most 10 s), so a
        /// process that starts right after finds the group without it.
        public func close() async {
            shutdown()
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async { [closed] in
                    closed.wait()
                    closed.signal()
                    continuation.resume()
                }
            }
        }

        // MARK: Producing

        @discardableResult
        public func enqueue(_ tasks: [NewTask], now: Int64) async throws -> Int {
            let fresh = state.withLock { state in tasks.filter { state.enqueuedJobs.insert($0.jobID) } }
            if fresh.isEmpty { return 0 }
            let messages = fresh.map { task in
                let record = TaskRecord(task, enqueuedAt: now)
                return KafkaOutgoing(
                    topic: task.priority > 0 ? configuration.topics.tasksHigh : configuration.topics.tasks,
                    key: task.sourceID, value: record.encoded(), headers: record.headers)
            }
            do {
                noteProduced(try await producer.produce(messages))
            } catch {
                state.withLock { state in fresh.forEach { state.enqueuedJobs.remove($0.jobID) } }
                throw error
            }
            return fresh.count
        }

        private func noteProduced(_ written: [TopicPartitionOffset]) {
            state.withLock { state in
                for place in written {
                    let key = PartitionKey(topic: place.topic, partition: place.partition)
                    state.produced[key] = max(state.produced[key] ?? -1, place.offset)
                }
            }
        }

        // MARK: Consuming

        /// The consumer joins the group on first use: a process that only schedules never joins.
        private func consumer() throws -> KafkaHandle {
            try consumerBox.withLock { box in
                if let box { return box }
                let events = ConsumerEvents()
                // A task should start within milliseconds of being written, also on brokers that hold an
                // empty fetch for its whole wait (the settings given win).
                var settings = configuration.settings
                settings.properties = ["fetch.wait.max.ms": "10"].merging(settings.properties) { _, given in given }
                let handle = try KafkaHandle(
                    role: .consumer(group: configuration.topics.group, events: events), settings: settings,
                    name: configuration.clientID)
                events.onAssign = { [weak self] list in self?.assigned(list) }
                events.onRevoke = { [weak self, weak handle] list in
                    guard let self, let handle else { return }
                    self.revoked(list, handle: handle)
                }
                let topics = configuration.topics
                try handle.subscribe([topics.tasksHigh, topics.tasks, topics.retry])
                let thread = Thread { [self] in pollLoop(handle) }
                thread.name = "kafka-task-consumer"
                thread.start()
                box = handle
                return handle
            }
        }

        private func pollLoop(_ handle: KafkaHandle) {
            var lagCheckedAt = ContinuousClock.now
            while running.load(ordering: .relaxed) {
                let (hold, wasPaused, rebalance) = state.withLock { state in
                    defer { state.rebalanceRequested = false }
                    return (
                        state.book.count >= configuration.inboxLimit || state.operatorPaused, state.paused,
                        state.rebalanceRequested
                    )
                }
                if rebalance {
                    // Leave the group and join again: the group redistributes the partitions.
                    logger.notice("rejoining the consumer group on request")
                    handle.unsubscribe()
                    let topics = configuration.topics
                    do {
                        try handle.subscribe([topics.tasksHigh, topics.tasks, topics.retry])
                    } catch {
                        logger.error("subscribe failed", metadata: ["error": "\(error)"])
                    }
                }
                if hold || wasPaused != hold {
                    handle.pause(handle.assignment(), resume: !hold)
                    state.withLock { $0.paused = hold }
                }
                let due = state.withLock { state in
                    defer { state.toCommit.removeAll() }
                    return state.toCommit.map {
                        TopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value)
                    }
                }
                do {
                    try commitForward(due, handle: handle, wait: false)
                } catch {
                    logger.warning("offset commit failed", metadata: ["error": "\(error)"])
                }
                let messages = handle.poll(limit: 500, timeoutMillis: 100)
                if !messages.isEmpty {
                    accept(messages)
                    signal.notify()
                }
                if ContinuousClock.now - lagCheckedAt > .seconds(2) {
                    lagCheckedAt = ContinuousClock.now
                    // Broker round trips: off this thread, so reading never waits on them.
                    if !lagCheckRunning.exchange(true, ordering: .relaxed) {
                        DispatchQueue.global().async { [self] in
                            refreshUnread(handle)
                            lagCheckRunning.store(false, ordering: .relaxed)
                        }
                    }
                }
            }
            handle.closeConsumer()
            consumerClosed.signal()
        }

        /// Counts the messages of this process's partitions it has not read yet.
        private func refreshUnread(_ handle: KafkaHandle) {
            let positions = state.withLock { state in
                state.assigned.map { key in
                    TopicPartitionOffset(
                        topic: key.topic, partition: key.partition,
                        offset: state.points.lastReadOffset(key).map { $0 + 1 } ?? -1001)
                }
            }
            do {
                let unknown = positions.filter { $0.offset < 0 }
                let committed = Dictionary(
                    try handle.committed(unknown).map {
                        (PartitionKey(topic: $0.topic, partition: $0.partition), $0.offset)
                    },
                    uniquingKeysWith: { first, _ in first })
                var unread: Int64 = 0
                for position in positions {
                    let marks = try handle.watermarks(topic: position.topic, partition: position.partition)
                    var next = position.offset
                    if next < 0 {
                        next = committed[PartitionKey(topic: position.topic, partition: position.partition)] ?? -1
                    }
                    if next < 0 { next = marks.low }
                    unread += max(0, marks.high - next)
                }
                state.withLock { $0.unread = unread }
            } catch {
                logger.debug("lag check failed", metadata: ["error": "\(error)"])
            }
        }

        public func isStalled(now: Int64) -> Bool {
            state.withLock { state in
                guard !state.assigned.isEmpty, !state.operatorPaused,
                    now - state.lastProgressAt > configuration.stallAfterMillis
                else { return false }
                return state.book.hasWaiting(now: now) || state.unread > 0
            }
        }

        public func control(_ command: ControlCommand.Kind) {
            state.withLock { state in
                switch command {
                case .pauseFetch, .drain: state.operatorPaused = true
                case .resumeFetch: state.operatorPaused = false
                case .rebalance: state.rebalanceRequested = true
                case .reloadConfig, .scale, .demoIncident: break
                }
            }
        }

        private func accept(_ messages: [KafkaMessage]) {
            let topics = configuration.topics.taskTopics
            state.withLock { state in
                for message in messages {
                    let key = PartitionKey(topic: message.topic, partition: message.partition)
                    guard state.assigned.contains(key), let index = topics.firstIndex(of: message.topic) else {
                        continue
                    }
                    let record: TaskRecord
                    do {
                        record = try TaskRecord.decode(message)
                    } catch {
                        // Not a task: nothing can run it. It is logged and passed over (committed).
                        logger.error(
                            "unreadable task message, skipped",
                            metadata: [
                                "topic": "\(message.topic)", "partition": "\(message.partition)",
                                "offset": "\(message.offset)", "error": "\(error)",
                            ])
                        state.points.read(key, offset: message.offset, pending: false)
                        continue
                    }
                    if index != 2 && state.finishedJobs.contains(record.jobID) {
                        state.points.read(key, offset: message.offset, pending: false)
                        continue
                    }
                    let id = Self.taskID(topicIndex: index, partition: message.partition, offset: message.offset)
                    let lost = state.book.read(
                        id: id, record: record, topicIndex: index, key: key, offset: message.offset)
                    if lost > 0 {
                        logger.warning(
                            "task redelivered after its worker was lost",
                            metadata: [
                                "job_id": "\(record.jobID)", "lost_starts": "\(lost)",
                                "attempts": "\(record.attempts + lost)/\(record.maxAttempts)",
                            ])
                    }
                    state.points.read(key, offset: message.offset, pending: true)
                }
                state.lastProgressAt = WallClock.system.nowMillis
            }
        }

        private func assigned(_ list: [TopicPartitionOffset]) {
            let marks = startMarks(list)
            state.withLock { state in
                state.assignedOnce = true
                state.lastProgressAt = WallClock.system.nowMillis
                for place in list {
                    let key = PartitionKey(topic: place.topic, partition: place.partition)
                    state.assigned.insert(key)
                    state.points.reset(key)
                    state.book.assigned(key, mark: marks[key])
                }
            }
            logger.info(
                "partitions assigned", metadata: ["partitions": "\(list.map { "\($0.topic)/\($0.partition)" })"])
            signal.notify()
        }

        /// Commits what is done on the partitions going away, then forgets their tasks: an outcome
        /// for one of them comes too late (its lease is lost) and the next owner runs it again.
        private func revoked(_ list: [TopicPartitionOffset], handle: KafkaHandle) {
            let points = state.withLock { state -> [TopicPartitionOffset] in
                let keys = Set(list.map { PartitionKey(topic: $0.topic, partition: $0.partition) })
                let points = keys.compactMap { Self.commitPoint($0, in: state) }
                state.book.revoked(keys)
                for key in keys {
                    state.toCommit[key] = nil
                    state.assigned.remove(key)
                    state.points.reset(key)
                }
                return points
            }
            do {
                try commitForward(points, handle: handle)
            } catch {
                logger.warning("commit on revoke failed", metadata: ["error": "\(error)"])
            }
            committedUpTo.withLock { committed in
                list.forEach { committed[PartitionKey(topic: $0.topic, partition: $0.partition)] = nil }
            }
        }

        /// The next offset to commit (`CommitPoints`).
        private static func commitPoint(_ key: PartitionKey, in state: State) -> TopicPartitionOffset? {
            state.points.point(key).map { TopicPartitionOffset(topic: key.topic, partition: key.partition, offset: $0) }
        }

        /// Commits offsets that move forward only (two finishes may race to commit).
        private func commitForward(_ points: [TopicPartitionOffset], handle: KafkaHandle, wait: Bool = true) throws {
            try committedUpTo.withLock { committed in
                let forward = points.filter { point in
                    let key = PartitionKey(topic: point.topic, partition: point.partition)
                    return point.offset > (committed[key] ?? -1)
                }
                try handle.commit(forward, wait: wait)
                for point in forward {
                    committed[PartitionKey(topic: point.topic, partition: point.partition)] = point.offset
                }
            }
        }

        /// Waits (bounded) until the tasks this process produced to partitions it reads have been read.
        private func catchUp() async {
            let deadline = ContinuousClock.now + .milliseconds(configuration.catchUpMillis)
            while ContinuousClock.now < deadline && running.load(ordering: .relaxed) {
                let behind = state.withLock { state in
                    state.assignedOnce
                        && state.produced.contains { key, offset in
                            state.assigned.contains(key) && (state.points.lastReadOffset(key) ?? -1) < offset
                        }
                }
                if !behind { return }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }

        /// Waits until this process's consumer has partitions (a group join takes seconds).
        public func waitUntilAssigned(timeoutMillis: Int64) async throws -> Bool {
            _ = try consumer()
            let deadline = ContinuousClock.now + .milliseconds(timeoutMillis)
            while ContinuousClock.now < deadline {
                if state.withLock({ !$0.assigned.isEmpty }) { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }

        public func claim(owner: String, limit: Int, leaseMillis: Int64, now: Int64) async throws -> [ClaimedTask] {
            _ = try consumer()
            await catchUp()
            // A task whose lease expired on its last attempt goes to the dead letters, not round again.
            let spent = state.withLock { $0.book.spent(now: now) }
            if !spent.isEmpty {
                try await finish(
                    spent.map {
                        TaskOutcome(
                            taskID: $0.id, leaseOwner: $0.leaseOwner ?? "", attempt: $0.attempt,
                            disposition: .dead(error: spentLeaseError), finishedAt: now)
                    })
            }
            let leased = state.withLock { state in
                state.book.claim(owner: owner, limit: limit, leaseMillis: leaseMillis, now: now)
            }
            var claimed = leased.tasks
            let marks = leased.marks
            if !marks.isEmpty {
                // The start of a partition's first task is on record before it runs.
                do {
                    let handle = try observer(group: startsGroup)
                    let positions = marks.map {
                        TopicPartitionOffset(
                            topic: $0.key.topic, partition: $0.key.partition, offset: $0.value.position)
                    }
                    try await handle.blocking { try handle.commit(positions) }
                } catch {
                    // Nothing of those partitions starts: they are claimable again next time.
                    logger.warning("recording a task start failed; it waits", metadata: ["error": "\(error)"])
                    let undone = state.withLock { [claimed] state in
                        state.book.startsNotRecorded(Set(marks.keys), claimed: claimed, owner: owner)
                    }
                    claimed.removeAll { undone.contains($0.id) }
                }
            }
            return claimed
        }

        /// The group whose committed positions are the start marks (`StartMark`).
        private var startsGroup: String { configuration.topics.group + ".starts" }

        /// The start marks of these partitions; none when they cannot be read (logged).
        private func startMarks(_ list: [TopicPartitionOffset]) -> [PartitionKey: StartMark] {
            do {
                let asked = list.map { TopicPartitionOffset(topic: $0.topic, partition: $0.partition, offset: -1001) }
                let positions = try observer(group: startsGroup).committed(asked)
                return Dictionary(
                    positions.compactMap { place in
                        StartMark(position: place.offset).map {
                            (PartitionKey(topic: place.topic, partition: place.partition), $0)
                        }
                    },
                    uniquingKeysWith: { first, _ in first })
            } catch {
                logger.warning("reading the task start marks failed", metadata: ["error": "\(error)"])
                return [:]
            }
        }

        public func renewLeases(owner: String, taskIDs: [Int64], until: Int64) async throws {
            state.withLock { $0.book.renew(owner: owner, taskIDs: taskIDs, until: until) }
        }

        public func finish(_ outcomes: [TaskOutcome]) async throws {
            // Hold the tasks whose lease is still the caller's, so nobody claims them meanwhile.
            let accepted = state.withLock { $0.book.hold(outcomes) }
            if accepted.isEmpty { return }
            let topics = configuration.topics
            let forward = accepted.compactMap { entry, outcome -> KafkaOutgoing? in
                var record = entry.record
                record.attempts = outcome.attempt
                switch outcome.disposition {
                case .succeeded:
                    return nil
                case .retry(let at, let error):
                    record.runAt = at
                    record.lastError = error
                    return KafkaOutgoing(
                        topic: topics.retry, key: record.sourceID, value: record.encoded(), headers: record.headers)
                case .dead(let error):
                    record.lastError = error
                    return KafkaOutgoing(
                        topic: topics.deadLetter, key: record.sourceID, value: record.encoded(),
                        headers: record.headers + [("failed-at", String(outcome.finishedAt))])
                }
            }
            do {
                noteProduced(try await producer.produce(forward))
            } catch {
                // Not moved on: the tasks are claimable again once this lease would have expired.
                state.withLock { $0.book.release(accepted.map(\.0.id)) }
                throw error
            }
            let (points, heads) = state.withLock { state -> ([TopicPartitionOffset], [PartitionKey: Int64]) in
                var touched: Set<PartitionKey> = []
                var heads: [PartitionKey: Int64] = [:]
                state.lastProgressAt = WallClock.system.nowMillis
                for (entry, outcome) in accepted {
                    guard let (_, wasHead) = state.book.finished(entry.id) else { continue }
                    state.points.finished(entry.key, offset: entry.offset)
                    touched.insert(entry.key)
                    if wasHead { heads[entry.key] = entry.offset }
                    switch outcome.disposition {
                    case .succeeded:
                        state.finishedJobs.insert(entry.record.jobID)
                        state.finishedAt.append(outcome.finishedAt)
                        state.succeeded.append(Self.listed(entry, state: .succeeded, finishedAt: outcome.finishedAt))
                        if state.succeeded.count > 10_000 {
                            state.succeeded.removeFirst(state.succeeded.count - 10_000)
                        }
                    case .dead:
                        state.finishedAt.append(outcome.finishedAt)
                    case .retry:
                        break
                    }
                }
                if state.finishedAt.count > 100_000 { state.finishedAt.removeFirst(state.finishedAt.count - 100_000) }
                return (touched.compactMap { Self.commitPoint($0, in: state) }, heads)
            }
            var later = points
            if !heads.isEmpty {
                // A partition's first task finished: the offset past it is committed before the
                // partition's other tasks may run (HeadRecovery).
                let past = points.filter { heads[PartitionKey(topic: $0.topic, partition: $0.partition)] != nil }
                do {
                    if let handle = consumerBox.withLock({ $0 }) {
                        try await handle.blocking { [self] in try commitForward(past, handle: handle) }
                        later.removeAll { heads[PartitionKey(topic: $0.topic, partition: $0.partition)] != nil }
                    }
                } catch {
                    logger.warning("commit after a partition's first task failed", metadata: ["error": "\(error)"])
                }
                state.withLock { state in
                    for (key, offset) in heads { state.book.headCommitted(key, offset: offset) }
                }
                signal.notify()
            }
            // The poll thread commits them within one poll (at most 100 ms), coalesced.
            state.withLock { state in
                for point in later {
                    let key = PartitionKey(topic: point.topic, partition: point.partition)
                    state.toCommit[key] = max(state.toCommit[key] ?? -1, point.offset)
                }
            }
        }

        public func waitForWork(timeoutMillis: Int64) async {
            _ = try? consumer()
            await signal.wait(timeoutMillis: timeoutMillis)
        }

        /// The partitions this process reads (`topic/partition`), for the worker's heartbeat.
        /// Kafka redelivers what was not committed; the worker checks the store's run records.
        public var mayRedeliverFinishedJobs: Bool { true }

        public func assignedPartitions() -> [String] {
            state.withLock { $0.assigned.sorted().map { "\($0.topic)/\($0.partition)" } }
        }

        // MARK: Dead letters

        /// A consumer that never joins a group, one per group whose offsets it reads or commits.
        private func observer(group: String) throws -> KafkaHandle {
            try observers.withLock { observers in
                if let handle = observers[group] { return handle }
                let handle = try KafkaHandle(
                    role: .observer(group: group), settings: configuration.settings,
                    name: configuration.clientID + "-observer")
                observers[group] = handle
                return handle
            }
        }

        private var deadLetterGroup: String { configuration.topics.group + ".dlq" }

        /// Reads the dead letters not yet requeued: from the requeue group's committed offsets to the
        /// end of each partition.
        private func readDeadLetters() async throws -> (
            letters: [(id: Int64, record: TaskRecord)], ends: [TopicPartitionOffset]
        ) {
            let handle = try observer(group: deadLetterGroup)
            let topic = configuration.topics.deadLetter
            return try await handle.blocking {
                var starts: [TopicPartitionOffset] = []
                var ends: [Int32: Int64] = [:]
                for position in try handle.groupPositions(topic: topic) where position.next < position.high {
                    starts.append(
                        TopicPartitionOffset(topic: topic, partition: position.partition, offset: position.next))
                    ends[position.partition] = position.high
                }
                if starts.isEmpty { return ([], []) }
                try handle.assign(starts)
                defer { try? handle.assign([]) }
                var letters: [(Int64, TaskRecord)] = []
                var next = Dictionary(uniqueKeysWithValues: starts.map { ($0.partition, $0.offset) })
                let deadline = ContinuousClock.now + .seconds(10)
                while next.contains(where: { $0.value < ends[$0.key]! }) && ContinuousClock.now < deadline {
                    for message in handle.poll(limit: 1000, timeoutMillis: 100) where message.topic == topic {
                        next[message.partition] = message.offset + 1
                        if let record = try? TaskRecord.decode(message) {
                            letters.append(
                                (
                                    Self.taskID(topicIndex: 3, partition: message.partition, offset: message.offset),
                                    record
                                ))
                        }
                    }
                }
                if next.contains(where: { $0.value < ends[$0.key]! }) {
                    throw KafkaError("reading \(topic) timed out")
                }
                return (letters, next.map { TopicPartitionOffset(topic: topic, partition: $0.key, offset: $0.value) })
            }
        }

        @discardableResult
        public func requeueDead(taskIDs: [Int64]?, now: Int64) async throws -> Int {
            let (letters, ends) = try await readDeadLetters()
            let wanted = taskIDs.map(Set.init)
            let selected = letters.filter { wanted?.contains($0.id) ?? true }
            if selected.isEmpty { return 0 }
            let topics = configuration.topics
            // The letters not asked for go back to the end of the dead-letter topic (new ids).
            var messages = letters.filter { !(wanted?.contains($0.id) ?? true) }.map { letter in
                KafkaOutgoing(
                    topic: topics.deadLetter, key: letter.record.sourceID, value: letter.record.encoded(),
                    headers: letter.record.headers)
            }
            for (_, dead) in selected {
                var record = dead
                record.attempts = 0
                record.lastError = nil
                record.runAt = now
                messages.append(
                    KafkaOutgoing(
                        topic: record.priority > 0 ? topics.tasksHigh : topics.tasks, key: record.sourceID,
                        value: record.encoded(), headers: record.headers))
            }
            noteProduced(try await producer.produce(messages))
            let handle = try observer(group: deadLetterGroup)
            try await handle.blocking { try handle.commit(ends) }
            return selected.count
        }

        // MARK: Listing and stats

        static func listed(_ entry: Entry, state: TaskState, finishedAt: Int64? = nil) -> QueuedTask {
            QueuedTask(
                id: entry.id, jobID: entry.record.jobID, sourceID: entry.record.sourceID, state: state,
                priority: entry.record.priority,
                attempts: entry.leaseOwner == nil ? entry.record.attempts : entry.attempt,
                maxAttempts: entry.record.maxAttempts, runAt: entry.record.runAt, enqueuedAt: entry.record.enqueuedAt,
                leaseOwner: entry.leaseOwner, leaseExpiresAt: entry.leaseExpiresAt, lastError: entry.record.lastError,
                finishedAt: finishedAt)
        }

        private static func localState(_ entry: Entry, now: Int64) -> TaskState {
            if entry.leaseOwner != nil && (entry.leaseExpiresAt ?? 0) > now { return .running }
            return entry.topicIndex == 2 ? .retrying : .queued
        }

        public func tasks(state wanted: TaskState?, limit: Int) async throws -> [QueuedTask] {
            await catchUp()
            // Without a clock here, a leased task counts as running until it is taken again.
            let now = Int64.min
            var listed = state.withLock { state -> [QueuedTask] in
                var tasks = state.book.entries.values.compactMap { entry -> QueuedTask? in
                    let taskState = Self.localState(entry, now: now)
                    return wanted == nil || wanted == taskState ? Self.listed(entry, state: taskState) : nil
                }
                if wanted == nil || wanted == .succeeded { tasks += state.succeeded }
                return tasks
            }
            if wanted == nil || wanted == .dead {
                for (id, record) in try await readDeadLetters().letters {
                    listed.append(
                        QueuedTask(
                            id: id, jobID: record.jobID, sourceID: record.sourceID, state: .dead,
                            priority: record.priority,
                            attempts: record.attempts, maxAttempts: record.maxAttempts, runAt: record.runAt,
                            enqueuedAt: record.enqueuedAt, leaseOwner: nil, leaseExpiresAt: nil,
                            lastError: record.lastError, finishedAt: nil))
                }
            }
            return Array(listed.sorted { ($0.runAt, $0.id) < ($1.runAt, $1.id) }.prefix(limit))
        }

        @discardableResult
        public func pruneSucceeded(finishedBefore before: Int64) async throws -> Int {
            state.withLock { state in
                let count = state.succeeded.count
                state.succeeded.removeAll { ($0.finishedAt ?? 0) < before }
                return count - state.succeeded.count
            }
        }

        public func stats(now: Int64) async throws -> QueueStats {
            await catchUp()
            let lags = try await partitionLags()
            var stats = state.withLock { state in
                var stats = QueueStats()
                for entry in state.book.entries.values {
                    switch Self.localState(entry, now: now) {
                    case .running: stats.running += 1
                    case .retrying: stats.retrying += 1
                    default: stats.queued += 1
                    }
                    if entry.leaseOwner == nil && entry.record.runAt <= now {
                        stats.oldestReadySince = min(stats.oldestReadySince ?? .max, entry.record.runAt)
                    }
                }
                // What this process has not read: the rest of its partitions, and the others'.
                let taskTopics = [
                    configuration.topics.tasksHigh, configuration.topics.tasks, configuration.topics.retry,
                ]
                for lag in lags where taskTopics.contains(lag.topic) {
                    let key = PartitionKey(topic: lag.topic, partition: Int32(lag.partition))
                    let unread: Int64
                    if state.assigned.contains(key) {
                        unread =
                            lag.highWatermark - ((state.points.lastReadOffset(key) ?? (lag.committed ?? 0) - 1) + 1)
                    } else {
                        unread = lag.lag
                    }
                    if lag.topic == configuration.topics.retry {
                        stats.retrying += Int(max(0, unread))
                    } else {
                        stats.queued += Int(max(0, unread))
                    }
                }
                stats.succeeded = state.succeeded.count
                stats.finishedLastMinute = state.finishedAt.filter { $0 > now - 60_000 && $0 <= now }.count
                return stats
            }
            // Tasks waiting in partitions this process does not read: since they were written.
            for lag in lags
            where lag.readBy == nil && [configuration.topics.tasks, configuration.topics.tasksHigh].contains(lag.topic)
            {
                if let oldest = lag.oldestAt { stats.oldestReadySince = min(stats.oldestReadySince ?? .max, oldest) }
            }
            stats.dead = Int(lags.filter { $0.topic == configuration.topics.deadLetter }.reduce(0) { $0 + $1.lag })
            stats.partitions = lags
            return stats
        }

        /// Committed offset, high watermark and lag of every task partition (the dead letters
        /// against the requeue group).
        public func partitionLags() async throws -> [PartitionLag] {
            let topics = configuration.topics
            let members = try observer(group: topics.group)
            let requeue = try observer(group: deadLetterGroup)
            let owned = state.withLock { $0.assigned }
            return try await members.blocking { [self, clientID = configuration.clientID] in
                let counts = try members.partitionCounts()
                var lags: [PartitionLag] = []
                func add(_ topic: String, positionsOf handle: KafkaHandle) throws {
                    for position in try handle.groupPositions(topic: topic, partitionCount: counts[topic] ?? 0) {
                        let key = PartitionKey(topic: topic, partition: position.partition)
                        lags.append(
                            PartitionLag(
                                topic: topic, partition: Int(position.partition), committed: position.committed,
                                highWatermark: position.high, lag: max(0, position.high - position.next),
                                readBy: owned.contains(key) ? clientID : nil))
                    }
                }
                for topic in [topics.tasksHigh, topics.tasks, topics.retry] { try add(topic, positionsOf: members) }
                try add(topics.deadLetter, positionsOf: requeue)
                // The sinks' progress on the record topics (data path on Kafka).
                if let records = configuration.recordTopics {
                    let sinks = try observer(group: records.sinkGroup)
                    for topic in records.all where counts[topic] != nil { try add(topic, positionsOf: sinks) }
                }
                // Lag in time: when the first message not consumed was written.
                let lagging = lags.indices.filter { lags[$0].lag > 0 }
                let firsts = try peekTimestamps(
                    lagging.map {
                        TopicPartitionOffset(
                            topic: lags[$0].topic, partition: Int32(lags[$0].partition),
                            offset: lags[$0].highWatermark - lags[$0].lag)
                    })
                for index in lagging {
                    lags[index].oldestAt =
                        firsts[PartitionKey(topic: lags[index].topic, partition: Int32(lags[index].partition))]
                }
                return lags
            }
        }

        /// The producer time of the message at each of these places (at most 2 s of reading);
        /// one read at a time.
        private func peekTimestamps(_ places: [TopicPartitionOffset]) throws -> [PartitionKey: Int64] {
            if places.isEmpty { return [:] }
            let handle = try observer(group: configuration.topics.group + ".peek")
            return try peekLock.withLock { _ in
                try handle.assign(places)
                defer { try? handle.assign([]) }
                let wanted = Dictionary(
                    uniqueKeysWithValues: places.map {
                        (PartitionKey(topic: $0.topic, partition: $0.partition), $0.offset)
                    })
                var found: [PartitionKey: Int64] = [:]
                let deadline = ContinuousClock.now + .seconds(2)
                while found.count < wanted.count && ContinuousClock.now < deadline {
                    for message in handle.poll(limit: 100, timeoutMillis: 100) {
                        let key = PartitionKey(topic: message.topic, partition: message.partition)
                        if found[key] == nil, let offset = wanted[key], message.offset >= offset {
                            found[key] = message.timestamp
                        }
                    }
                }
                return found
            }
        }

        static func taskID(topicIndex: Int, partition: Int32, offset: Int64) -> Int64 {
            Int64(topicIndex) << 56 | Int64(partition) << 40 | offset
        }
    }

    /// A bounded set of recent strings: the oldest are forgotten first.
    struct RecentSet {
        private var members: Set<String> = []
        private var order: [String] = []
        private var start = 0
        let capacity: Int

        init(capacity: Int = 200_000) {
            self.capacity = capacity
        }

        func contains(_ value: String) -> Bool { members.contains(value) }

        /// Returns false when already present.
        @discardableResult
        mutating func insert(_ value: String) -> Bool {
            guard members.insert(value).inserted else { return false }
            order.append(value)
            if order.count - start > capacity {
                members.remove(order[start])
                start += 1
                if start > capacity {
                    order.removeFirst(start)
                    start = 0
                }
            }
            return true
        }

        mutating func remove(_ value: String) {
            members.remove(value)
        }
    }
#endif
