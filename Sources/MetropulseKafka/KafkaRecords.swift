#if Kafka
    import Foundation
    public import Logging
    public import MetropulseCore
    public import ServiceLifecycle
    import Synchronization

    /// The workers' side of the Kafka data path: a run's observations and its run record go to the
    /// record topics, and only once the broker has them all is the task finished.
    public final class KafkaRecordCommitter: RunCommitter, Service {
        let producer: KafkaHandle
        let topics: RecordTopics
        let queue: any WorkQueue
        let replication: Int
        let partitions: Int

        public init(
            settings: KafkaSettings, topics: RecordTopics, partitions: Int, replication: Int, queue: any WorkQueue,
            clientID: String
        ) throws {
            var settings = settings
            // gzip on the wire and at rest; a large transit feed fits in one message (the settings
            // given win).
            settings.properties = ["compression.codec": "gzip", "message.max.bytes": "\(RecordTopics.maxMessageBytes)"]
                .merging(settings.properties) { _, given in given }
            producer = try KafkaHandle(role: .producer, settings: settings, name: clientID + "-records")
            self.topics = topics
            self.queue = queue
            self.partitions = partitions
            self.replication = replication
        }

        /// Creates the record topics that are missing, with their retention.
        public func createTopics() async throws {
            let (producer, topics, partitions, replication) = (producer, topics, partitions, replication)
            try await producer.blocking {
                try producer.createTopics(
                    topics.all, partitions: partitions, replication: replication, configs: topics.topicSettings)
            }
        }

        public func commit(_ results: [RunResult]) async throws {
            let messages = try results.flatMap(RecordCodec.messages(for:)).map { message in
                KafkaOutgoing(
                    topic: topics.name(message.kind), key: message.key, value: message.value, headers: message.headers)
            }
            try await producer.produce(messages)
            try await queue.finish(results.compactMap(\.outcome))
        }

        public func run() async throws {
            try? await gracefulShutdown()
            let producer = self.producer
            try await producer.blocking { producer.stop() }
        }
    }

    /// Writes decoded record messages into a store: bad messages are reported and skipped, a store
    /// that fails is retried until it takes the batch (or the caller stops).
    struct RecordLoader: Sendable {
        let topics: RecordTopics
        let store: any Store
        let logger: Logger

        /// What one batch became.
        struct Loaded {
            var records = 0
            var rejected = 0
        }

        /// Returns nil when `stopping` turned true before the store took the batch. A write that
        /// has not answered within a minute (a connection lost mid-transaction) is abandoned and
        /// tried again; a late landing is harmless, the writes are idempotent.
        func load(_ messages: [KafkaMessage], stopping: @Sendable () -> Bool) async -> Loaded? {
            var loaded = Loaded()
            var results: [RunResult] = []
            results.reserveCapacity(messages.count)
            for message in messages {
                do {
                    guard let kind = topics.kind(of: message.topic) else {
                        throw RecordCodec.DecodeError(description: "not a record topic")
                    }
                    results.append(try RecordCodec.result(kind: kind, value: message.value))
                    loaded.records += 1
                } catch {
                    loaded.rejected += 1
                    logger.error(
                        "record skipped: it cannot be read",
                        metadata: [
                            "topic": "\(message.topic)", "partition": "\(message.partition)",
                            "offset": "\(message.offset)", "error": "\(error)",
                        ])
                }
            }
            let batch = RecordCodec.merged(results)
            var failures = 0
            while true {
                do {
                    let store = self.store
                    try await withDeadline(.seconds(60)) { try await store.write(batch) }
                    if failures > 0 {
                        logger.notice("the store takes records again", metadata: ["retries": "\(failures)"])
                    }
                    return loaded
                } catch {
                    failures += 1
                    if failures == 1 || failures % 20 == 0 {
                        logger.warning(
                            "the store refused a batch of records; retrying (they stay in Kafka meanwhile)",
                            metadata: ["error": "\(loggable(error))", "retries": "\(failures)"])
                    }
                }
                let delay = min(5_000, 100 << min(failures, 6))
                let until = ContinuousClock.now + .milliseconds(delay)
                while ContinuousClock.now < until {
                    if stopping() { return nil }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// The `sink` role: a consumer group over the record topics that writes every record into the
    /// store and commits its offsets only after the store committed it. A store outage stops the
    /// sink, not the workers: records wait in Kafka and load when the store is back.
    public final class KafkaRecordSink: Service {
        let settings: KafkaSettings
        let topics: RecordTopics
        let loader: RecordLoader
        let clientID: String
        let logger: Logger
        private let stopping = Atomic<Bool>(false)
        /// Records written by this process, for the stop line.
        private let written = Atomic<Int>(0)

        public init(settings: KafkaSettings, topics: RecordTopics, store: any Store, clientID: String, logger: Logger) {
            self.settings = settings
            self.topics = topics
            self.loader = RecordLoader(topics: topics, store: store, logger: logger)
            self.clientID = clientID
            self.logger = logger
        }

        public func run() async throws {
            // Nothing to do on assignment or revocation: offsets are committed right after each
            // batch is written, so a revoked partition has nothing pending.
            let handle = try KafkaHandle(
                role: .consumer(group: topics.sinkGroup, events: ConsumerEvents()), settings: settings,
                name: clientID + "-sink")
            try handle.subscribe(topics.all)
            logger.info("sink reading", metadata: ["topics": "\(topics.all.joined(separator: ","))"])
            await withGracefulShutdownHandler {
                await loop(handle)
            } onGracefulShutdown: { [self] in
                stopping.store(true, ordering: .relaxed)
            }
            try? await handle.blocking { handle.closeConsumer() }
            logger.info("sink stopped", metadata: ["records": "\(written.load(ordering: .relaxed))"])
        }

        private func loop(_ handle: KafkaHandle) async {
            for await messages in handle.batches(limit: 5_000, until: { [self] in stopping.load(ordering: .relaxed) }) {
                if messages.isEmpty { continue }
                guard
                    let loaded = await loader.load(messages, stopping: { [self] in stopping.load(ordering: .relaxed) })
                else {
                    // Stopped while the store was away: nothing committed, the next sink reads them.
                    return
                }
                var next: [String: TopicPartitionOffset] = [:]
                for message in messages {
                    let key = "\(message.topic)/\(message.partition)"
                    if (next[key]?.offset ?? -1) <= message.offset {
                        next[key] = TopicPartitionOffset(
                            topic: message.topic, partition: message.partition, offset: message.offset + 1)
                    }
                }
                do {
                    let offsets = Array(next.values)
                    try await handle.blocking { try handle.commit(offsets) }
                } catch {
                    // The partitions moved to another sink, which reads them again: writes are idempotent.
                    logger.warning("record offsets not committed", metadata: ["error": "\(error)"])
                }
                written.add(loaded.records, ordering: .relaxed)
            }
        }
    }

    /// `metropulse replay`: reads a window of the record topics again into the store, outside any
    /// group (the sink's offsets stay where they are).
    public enum KafkaReplay {
        public struct ReplayError: Error, CustomStringConvertible {
            public var description: String
        }

        /// Replays the records of `kinds` written from `since` (epoch ms) up to what the topics held
        /// when it started.
        public static func run(
            settings: KafkaSettings, topics: RecordTopics, kinds: [RecordKind], since: Int64, store: any Store,
            clientID: String, logger: Logger, progress: @escaping @Sendable (ReplayProgress) -> Void
        ) async throws -> ReplayProgress {
            let handle = try KafkaHandle(
                role: .observer(group: topics.sinkGroup + ".replay"), settings: settings, name: clientID + "-replay")
            let names = kinds.map(topics.name)
            // Where the window starts and ends on every partition.
            let (starts, ends) = try await handle.blocking {
                () throws -> ([TopicPartitionOffset], [String: Int64]) in
                let counts = try handle.partitionCounts()
                var starts: [TopicPartitionOffset] = []
                var ends: [String: Int64] = [:]
                for name in names {
                    guard let count = counts[name] else {
                        throw ReplayError(description: "topic \(name) does not exist (is the data path on kafka?)")
                    }
                    let partitions = (0..<Int32(count)).map { $0 }
                    var firstAfter: [Int32: Int64] = [:]
                    do {
                        for place in try handle.offsets(forTimestamp: since, topic: name, partitions: partitions) {
                            firstAfter[place.partition] = place.offset
                        }
                    } catch {
                        // A broker that cannot look offsets up by time: read all that is kept (what
                        // is older is skipped below).
                        logger.notice(
                            "offsets by time unavailable; reading the whole topic",
                            metadata: ["topic": "\(name)", "error": "\(error)"])
                    }
                    for partition in partitions {
                        let marks = try handle.watermarks(topic: name, partition: partition)
                        // -1: nothing that recent.
                        var start = firstAfter[partition] ?? marks.low
                        if start < 0 { start = marks.high }
                        start = max(start, marks.low)
                        ends["\(name)/\(partition)"] = marks.high
                        starts.append(TopicPartitionOffset(topic: name, partition: partition, offset: start))
                    }
                }
                return (starts, ends)
            }
            var state = ReplayProgress(
                total: starts.reduce(0) { $0 + max(0, ends["\($1.topic)/\($1.partition)"]! - $1.offset) }, read: 0,
                records: 0,
                rejected: 0)
            progress(state)
            if starts.isEmpty { return state }
            try await handle.blocking { try handle.assign(starts) }
            defer { try? handle.assign([]) }
            // The window ends at this moment. A partition is done at its first newer record, or,
            // once nothing arrives for two seconds, where it reached the high watermark seen at the
            // start (some Kafka-compatible brokers report too low a watermark for compressed
            // batches, so the watermark alone does not end a partition).
            let until = WallClock.system.nowMillis
            var remaining = Set(starts.map { "\($0.topic)/\($0.partition)" })
            var next: [String: Int64] = Dictionary(
                uniqueKeysWithValues: starts.map { ("\($0.topic)/\($0.partition)", $0.offset) })
            let loader = RecordLoader(topics: topics, store: store, logger: logger)
            var quietSince = ContinuousClock.now
            for await messages in handle.batches(limit: 5_000) {
                if remaining.isEmpty { break }
                if messages.isEmpty {
                    let quiet = ContinuousClock.now - quietSince
                    if quiet > .seconds(2) {
                        remaining = remaining.filter { (next[$0] ?? 0) < (ends[$0] ?? 0) }
                    }
                    if !remaining.isEmpty && quiet > .seconds(30) {
                        throw ReplayError(
                            description: "the broker sent nothing for 30 s with \(remaining.count) partitions unread")
                    }
                    continue
                }
                quietSince = ContinuousClock.now
                var wanted: [KafkaMessage] = []
                for message in messages {
                    let key = "\(message.topic)/\(message.partition)"
                    guard remaining.contains(key) else { continue }
                    if message.timestamp > until {
                        remaining.remove(key)
                        continue
                    }
                    next[key] = message.offset + 1
                    state.read += 1
                    // Also where the broker's lookup by time started earlier than asked (some
                    // Kafka-compatible brokers answer with the oldest offset).
                    if message.timestamp < since { continue }
                    wanted.append(message)
                }
                guard let loaded = await loader.load(wanted, stopping: { Task.isCancelled }) else {
                    throw CancellationError()
                }
                state.records += loaded.records
                state.rejected += loaded.rejected
                state.total = max(state.total, state.read)
                progress(state)
            }
            try Task.checkCancellation()
            state.total = state.read
            progress(state)
            return state
        }
    }
#endif
