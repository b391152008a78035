#if Kafka
    import Foundation
    public import Logging
    public import MetropulseCore
    public import ServiceLifecycle
    import Synchronization

    /// The control bus on Kafka: commands on `control.commands`, worker metrics on `worker.metrics`
    /// (JSON, keyed by worker id). Every process reads every partition of both topics from the end,
    /// outside any consumer group, so each command reaches every scheduler and worker pool.
    public final class KafkaControlBus: ControlBus, Service, Sendable {
        private let settings: KafkaSettings
        private let topics: KafkaTopics
        private let clientID: String
        private let logger: Logger
        private let producer: KafkaHandle
        private let commandSubscribers = Broadcast<ControlCommand>()
        private let metricSubscribers = Broadcast<WorkerHeartbeat>()
        private let reader = Mutex<KafkaHandle?>(nil)
        private let running = Atomic<Bool>(true)

        public init(settings: KafkaSettings, topics: KafkaTopics, clientID: String, logger: Logger) throws {
            self.settings = settings
            self.topics = topics
            self.clientID = clientID
            self.logger = logger
            self.producer = try KafkaHandle(role: .producer, settings: settings, name: clientID + "-bus")
        }

        public func run() async throws {
            try? await gracefulShutdown()
            shutdown()
        }

        /// Stops reading and flushes what is being published; subscribers' streams end.
        public func shutdown() {
            guard running.exchange(false, ordering: .relaxed) else { return }
            DispatchQueue.global().async { [producer] in producer.stop() }
            commandSubscribers.finishAll()
            metricSubscribers.finishAll()
        }

        public func publish(_ command: ControlCommand) async throws {
            try await producer.produce([
                KafkaOutgoing(topic: topics.control, key: command.target ?? "*", value: try Self.encode(command))
            ])
        }

        public func commands() async throws -> AsyncStream<ControlCommand> {
            let stream = commandSubscribers.subscribe()
            try await startReading()
            return stream
        }

        public func publishMetrics(_ heartbeat: WorkerHeartbeat) async throws {
            try await producer.produce([
                KafkaOutgoing(topic: topics.metrics, key: heartbeat.workerID, value: try Self.encode(heartbeat))
            ])
        }

        public func metrics() async throws -> AsyncStream<WorkerHeartbeat> {
            let stream = metricSubscribers.subscribe()
            try await startReading()
            return stream
        }

        /// JSON with the types' own (camelCase) keys, so every field reads back exactly.
        static func encode(_ value: some Encodable) throws -> [UInt8] {
            Array(try JSONEncoder().encode(value))
        }

        static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
            try JSONDecoder().decode(type, from: Data(bytes))
        }

        /// Starts reading both topics from their end, once; returns when reading has begun.
        private func startReading() async throws {
            if reader.withLock({ $0 != nil }) { return }
            let handle = try KafkaHandle(
                role: .observer(group: clientID + "-bus"), settings: settings, name: clientID + "-bus-reader")
            let topics = self.topics
            try await handle.blocking {
                let counts = try handle.partitionCounts()
                var places: [TopicPartitionOffset] = []
                for topic in [topics.control, topics.metrics] {
                    guard let count = counts[topic] else { throw KafkaError("topic \(topic) does not exist") }
                    // Start at the current end (an explicit offset, so nothing published after this
                    // call returns is missed).
                    for partition in 0..<Int32(count) {
                        let marks = try handle.watermarks(topic: topic, partition: partition)
                        places.append(TopicPartitionOffset(topic: topic, partition: partition, offset: marks.high))
                    }
                }
                try handle.assign(places)
            }
            let started = reader.withLock { reader -> Bool in
                if reader != nil { return false }
                reader = handle
                return true
            }
            guard started else { return }
            let thread = Thread { [self] in
                while running.load(ordering: .relaxed) {
                    for message in handle.poll(limit: 500, timeoutMillis: 100) { deliver(message) }
                }
            }
            thread.name = "kafka-bus-reader"
            thread.start()
        }

        private func deliver(_ message: KafkaMessage) {
            do {
                if message.topic == topics.control {
                    commandSubscribers.yield(try Self.decode(ControlCommand.self, message.value))
                } else if message.topic == topics.metrics {
                    metricSubscribers.yield(try Self.decode(WorkerHeartbeat.self, message.value))
                }
            } catch {
                logger.warning(
                    "unreadable bus message skipped",
                    metadata: ["topic": "\(message.topic)", "offset": "\(message.offset)", "error": "\(error)"])
            }
        }
    }
#endif
