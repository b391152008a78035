#if Kafka
    package import CRdKafka
    import Foundation
    import Logging
    import Synchronization

    /// librdkafka's own log lines, through swift-log (label `metropulse.kafka`). The same line
    /// repeated (a partition of a topic the broker lost, every second) is written once per 30 s
    /// with the number of repeats.
    enum KafkaLog {
        static let logger = Logger(label: "metropulse.kafka")
        private static let recent = Mutex<[String: (at: ContinuousClock.Instant, repeats: Int)]>([:])

        package static func write(level: Int32, facility: String, message: String) {
            let swiftLevel: Logger.Level =
                switch level {
                case ...3: .error
                case 4: .warning
                case 5: .info
                default: .debug
                }
            // Lines that differ only by numbers (partitions, offsets, ids) count as the same.
            let shape = String(message.map { $0.isNumber ? "#" : $0 })
            let now = ContinuousClock.now
            let repeats: Int? = recent.withLock { recent in
                if recent.count > 1_000 { recent.removeAll() }
                if let seen = recent[shape], now - seen.at < .seconds(30) {
                    recent[shape]?.repeats += 1
                    return nil
                }
                let earlier = recent[shape]?.repeats ?? 0
                recent[shape] = (now, 0)
                return earlier
            }
            guard let repeats else { return }
            var metadata: Logger.Metadata = ["facility": "\(facility)"]
            if repeats > 0 { metadata["repeated"] = "\(repeats)" }
            logger.log(level: swiftLevel, "\(message)", metadata: metadata)
        }
    }

    /// Where the brokers are and what else to pass to librdkafka (SASL, TLS, timeouts...).
    public struct KafkaSettings: Sendable, Hashable {
        /// `host:port[,host:port...]`
        public var brokers: String
        /// librdkafka properties passed through unchanged (`security.protocol`, `sasl.mechanisms`,
        /// `sasl.username`, `ssl.ca.location`, `session.timeout.ms`...).
        public var properties: [String: String]

        public init(brokers: String, properties: [String: String] = [:]) {
            self.brokers = brokers
            self.properties = properties
        }
    }

    public struct KafkaError: Error, CustomStringConvertible, Sendable {
        public var description: String

        package init(_ description: String) {
            self.description = description
        }

        package init(_ what: String, _ code: rd_kafka_resp_err_t) {
            self.description = "\(what): \(String(cString: rd_kafka_err2str(code)))"
        }
    }

    /// A message read from a topic, copied out of librdkafka.
    package struct KafkaMessage: Sendable {
        package var topic: String
        package var partition: Int32
        package var offset: Int64
        package var key: [UInt8]
        package var value: [UInt8]
        /// Headers as `name 0 value 0 ...`, one allocation per message; read with `header(_:)`.
        package var headerBlock: [UInt8]
        /// Producer timestamp, epoch ms.
        package var timestamp: Int64

        /// The last header of that name, as text.
        package func header(_ wanted: String) -> String? {
            var found: String?
            var index = 0
            let name = Array(wanted.utf8)
            while index < headerBlock.count {
                guard let nameEnd = headerBlock[index...].firstIndex(of: 0) else { break }
                let valueStart = nameEnd + 1
                let valueEnd = headerBlock[valueStart...].firstIndex(of: 0) ?? headerBlock.count
                if headerBlock[index..<nameEnd].elementsEqual(name) {
                    found = String(decoding: headerBlock[valueStart..<valueEnd], as: UTF8.self)
                }
                index = valueEnd + 1
            }
            return found
        }
    }

    /// A group's committed offset on one partition, with the partition's watermarks.
    package struct GroupPosition: Sendable {
        package var partition: Int32
        /// Nil when the group committed nothing there.
        package var committed: Int64?
        package var low: Int64
        package var high: Int64

        /// The next offset the group reads: the committed one, or the oldest kept.
        package var next: Int64 { committed ?? low }
    }

    /// A message to produce.
    package struct KafkaOutgoing: Sendable {
        package var topic: String
        package var key: [UInt8]
        package var value: [UInt8]
        package var headers: [(String, String)]
        /// A partition, or nil to let the partitioner choose by key.
        package var partition: Int32?

        package init(
            topic: String, key: String, value: [UInt8], headers: [(String, String)] = [], partition: Int32? = nil
        ) {
            self.topic = topic
            self.key = Array(key.utf8)
            self.value = value
            self.headers = headers
            self.partition = partition
        }
    }

    /// A partition and an offset in it.
    package struct TopicPartitionOffset: Sendable, Hashable {
        package var topic: String
        package var partition: Int32
        package var offset: Int64
    }

    /// Callbacks a consumer handle makes from its poll thread.
    package final class ConsumerEvents: @unchecked Sendable {  // Set once before the consumer starts, then only read.
        /// Partitions just assigned to this member.
        package var onAssign: @Sendable ([TopicPartitionOffset]) -> Void = { _ in }
        /// Partitions about to be taken away; runs before the assignment is dropped, so done work can
        /// still be committed.
        package var onRevoke: @Sendable ([TopicPartitionOffset]) -> Void = { _ in }

        package init() {}
    }

    /// The one type that touches librdkafka: owns an `rd_kafka_t` (producer or consumer), runs its
    /// poll loop on a dedicated thread, and runs every blocking call off the cooperative thread pool.
    // @unchecked: librdkafka handles are thread-safe; `pollThread` and `consumerQueue` are set in init.
    package final class KafkaHandle: @unchecked Sendable {
        package enum Role {
            case producer
            /// A member of `group`; subscribe with `subscribe(_:)`, read with `poll`.
            case consumer(group: String, events: ConsumerEvents)
            /// A consumer that never joins the group: reads committed offsets, watermarks, and
            /// messages at offsets it assigns itself.
            case observer(group: String)
        }

        package let pointer: OpaquePointer
        private let isProducer: Bool
        private let running = Atomic<Bool>(true)
        private let blockingQueue: DispatchQueue
        private var pollThread: Thread?
        private let eventsBox: Unmanaged<ConsumerEvents>?
        /// The queue messages and rebalance events arrive on (consumers only).
        private var consumerQueue: OpaquePointer?

        package init(role: Role, settings: KafkaSettings, name: String) throws {
            guard let conf = rd_kafka_conf_new() else { throw KafkaError("rd_kafka_conf_new failed") }
            var properties: [(String, String)] = [("bootstrap.servers", settings.brokers), ("client.id", name)]
            var events: Unmanaged<ConsumerEvents>?
            switch role {
            case .producer:
                isProducer = true
                properties += [("linger.ms", "2"), ("message.timeout.ms", "30000")]
                rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                    guard let message, let opaque = message.pointee._private else { return }
                    let tracker = Unmanaged<DeliveryTracker>.fromOpaque(opaque).takeRetainedValue()
                    let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                    tracker.delivered(
                        message.pointee.err,
                        at: TopicPartitionOffset(
                            topic: topic, partition: message.pointee.partition, offset: message.pointee.offset))
                }
            case .consumer(let group, let consumerEvents):
                isProducer = false
                properties += Self.consumerProperties(group: group)
                let box = Unmanaged.passRetained(consumerEvents)
                events = box
                rd_kafka_conf_set_opaque(conf, box.toOpaque())
                rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                    guard let rk, let opaque else { return }
                    let events = Unmanaged<ConsumerEvents>.fromOpaque(opaque).takeUnretainedValue()
                    let list = partitions.map(KafkaHandle.offsets(in:)) ?? []
                    if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
                        rd_kafka_assign(rk, partitions)
                        events.onAssign(list)
                    } else {
                        events.onRevoke(list)
                        rd_kafka_assign(rk, nil)
                    }
                }
            case .observer(let group):
                isProducer = false
                properties += Self.consumerProperties(group: group)
            }
            rd_kafka_conf_set_log_cb(conf) { _, level, facility, message in
                KafkaLog.write(
                    level: level, facility: facility.map { String(cString: $0) } ?? "",
                    message: message.map { String(cString: $0) } ?? "")
            }
            // Settings given by the user win over the defaults above.
            for (key, value) in settings.properties { properties.append((key, value)) }
            var errorText = [CChar](repeating: 0, count: 512)
            for (key, value) in properties
            where rd_kafka_conf_set(conf, key, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                events?.release()
                throw KafkaError("Kafka setting \(key): \(cText(errorText))")
            }
            let type = isProducer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
            guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
                rd_kafka_conf_destroy(conf)
                events?.release()
                throw KafkaError("cannot create a Kafka client: \(cText(errorText))")
            }
            pointer = handle
            eventsBox = events
            blockingQueue = DispatchQueue(label: "metropulse.kafka.\(name)", attributes: .concurrent)
            if !isProducer {
                rd_kafka_poll_set_consumer(handle)
                consumerQueue = rd_kafka_queue_get_consumer(handle)
            }
            if isProducer {
                let thread = Thread { [self] in
                    while running.load(ordering: .relaxed) { rd_kafka_poll(pointer, 100) }
                }
                thread.name = "kafka-producer-poll"
                thread.start()
                pollThread = thread
            }
        }

        deinit {
            // Destroying may wait on the broker (a consumer that has not left its group yet): never on
            // the thread that dropped the last reference, which may be one of the cooperative pool's.
            let handles = UnsafeHandles(pointer: pointer, queue: consumerQueue, events: eventsBox)
            DispatchQueue.global().async {
                if let queue = handles.queue { rd_kafka_queue_destroy(queue) }
                rd_kafka_destroy(handles.pointer)
                handles.events?.release()
            }
        }

        /// Offsets are committed by Metropulse after the writes, never automatically; a group with
        /// nothing committed starts at the oldest message kept.
        package static func consumerProperties(group: String) -> [(String, String)] {
            [
                ("group.id", group), ("enable.auto.commit", "false"), ("auto.offset.reset", "earliest"),
                ("enable.partition.eof", "false"),
            ]
        }

        /// Runs a blocking librdkafka call on this handle's own threads.
        package func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
            try await withCheckedThrowingContinuation { continuation in
                blockingQueue.async { continuation.resume(with: Result { try body() }) }
            }
        }

        // MARK: Producing

        /// Produces the messages and returns once the broker acknowledged every one, with where each
        /// was written (in no particular order).
        @discardableResult
        package func produce(_ messages: [KafkaOutgoing]) async throws -> [TopicPartitionOffset] {
            if messages.isEmpty { return [] }
            let tracker = DeliveryTracker(count: messages.count)
            return try await withCheckedThrowingContinuation { (continuation: Delivery) in
                tracker.setContinuation(continuation)
                blockingQueue.async { [self] in
                    for message in messages { enqueue(message, tracker: tracker) }
                }
            }
        }

        private func enqueue(_ message: KafkaOutgoing, tracker: DeliveryTracker) {
            while true {
                var headers: OpaquePointer?
                if !message.headers.isEmpty {
                    headers = rd_kafka_headers_new(message.headers.count)
                    for (name, value) in message.headers {
                        _ = value.utf8CString.withUnsafeBufferPointer { buffer in
                            rd_kafka_header_add(headers, name, -1, buffer.baseAddress, buffer.count - 1)
                        }
                    }
                }
                let opaque = Unmanaged.passRetained(tracker).toOpaque()
                let err = message.key.withUnsafeBytes { key in
                    message.value.withUnsafeBytes { value in
                        mp_produce(
                            pointer, message.topic, message.partition ?? -1, key.baseAddress, key.count,
                            value.baseAddress, value.count, headers, opaque)
                    }
                }
                if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
                Unmanaged<DeliveryTracker>.fromOpaque(opaque).release()
                if err == RD_KAFKA_RESP_ERR__QUEUE_FULL && running.load(ordering: .relaxed) {
                    // The local queue is full: wait for deliveries to make room (this thread is ours).
                    rd_kafka_flush(pointer, 50)
                    continue
                }
                tracker.delivered(err, at: nil)
                return
            }
        }

        // MARK: Consuming

        package func subscribe(_ topics: [String]) throws {
            let list = Self.list(topics.map { TopicPartitionOffset(topic: $0, partition: -1, offset: -1001) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_subscribe(pointer, list)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("subscribe", err) }
        }

        package func unsubscribe() {
            _ = rd_kafka_unsubscribe(pointer)
        }

        /// Takes up to `limit` messages, waiting at most `timeoutMillis` for the first (with `fill`,
        /// for the batch to fill). Call from one
        /// thread at a time (the owner's poll loop); rebalance callbacks run inside.
        package func poll(limit: Int, timeoutMillis: Int32, fill: Bool = false) -> [KafkaMessage] {
            guard let queue = consumerQueue else { return [] }
            var messages: [KafkaMessage] = []
            var topicNames: [OpaquePointer: String] = [:]
            func take(_ raw: UnsafeMutablePointer<rd_kafka_message_t>) {
                defer { rd_kafka_message_destroy(raw) }
                guard raw.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR, let rkt = raw.pointee.rkt else { return }
                let topic: String
                if let known = topicNames[rkt] {
                    topic = known
                } else {
                    topic = String(cString: rd_kafka_topic_name(rkt))
                    topicNames[rkt] = topic
                }
                messages.append(Self.copy(raw, topic: topic))
            }
            // What is already there, in one batch (a batch call with a timeout would wait for a full
            // batch); if nothing, wait for the first message, then take what came with it.
            func drain(_ size: Int, wait: Int32 = 0) {
                guard size > 0 else { return }
                var batch = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: min(size, 10_000))
                let count = batch.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_consume_batch_queue(queue, wait, buffer.baseAddress, buffer.count)
                }
                for raw in batch.prefix(max(0, count)) { raw.map(take) }
            }
            if fill {
                // Throughput over latency: wait up to the timeout for a full batch.
                drain(limit, wait: timeoutMillis)
                return messages
            }
            drain(limit)
            if messages.isEmpty, let first = rd_kafka_consumer_poll(pointer, timeoutMillis) {
                take(first)
                drain(limit - 1)
            }
            return messages
        }

        /// Commits these next-offsets (the offset of the first message not yet done); with `wait`
        /// false the commit is sent and not waited for.
        package func commit(_ offsets: [TopicPartitionOffset], wait: Bool = true) throws {
            if offsets.isEmpty { return }
            let list = Self.list(offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_commit(pointer, list, wait ? 0 : 1)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
                throw KafkaError("commit", err)
            }
        }

        package func pause(_ partitions: [TopicPartitionOffset], resume: Bool) {
            if partitions.isEmpty { return }
            let list = Self.list(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            _ = resume ? rd_kafka_resume_partitions(pointer, list) : rd_kafka_pause_partitions(pointer, list)
        }

        /// Reads from exactly these partitions and offsets (no group membership).
        package func assign(_ partitions: [TopicPartitionOffset]) throws {
            let list = Self.list(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_assign(pointer, list)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("assign", err) }
        }

        package func closeConsumer() {
            running.store(false, ordering: .relaxed)
            _ = rd_kafka_consumer_close(pointer)
        }

        // MARK: Metadata and offsets

        /// Partition count per topic, for the topics that exist.
        package func partitionCounts(timeoutMillis: Int32 = 5000) throws -> [String: Int] {
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(pointer, 1, nil, &metadata, timeoutMillis)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError("metadata", err) }
            defer { rd_kafka_metadata_destroy(metadata) }
            var counts: [String: Int] = [:]
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                if topic.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    counts[String(cString: topic.topic)] = Int(topic.partition_cnt)
                }
            }
            return counts
        }

        /// The group's committed next-offset per partition (-1001 when it committed none).
        package func committed(_ partitions: [TopicPartitionOffset], timeoutMillis: Int32 = 5000) throws
            -> [TopicPartitionOffset]
        {
            if partitions.isEmpty { return [] }
            let list = Self.list(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_committed(pointer, list, timeoutMillis)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("committed offsets", err) }
            return Self.offsets(in: list)
        }

        /// Where this handle's group stands on every partition of `topic` (all of them when
        /// `partitionCount` is nil, from the cluster's metadata).
        package func groupPositions(topic: String, partitionCount: Int? = nil) throws -> [GroupPosition] {
            let count = try partitionCount ?? (partitionCounts()[topic] ?? 0)
            let partitions = (0..<Int32(count)).map { TopicPartitionOffset(topic: topic, partition: $0, offset: -1001) }
            return try committed(partitions).map { place in
                let marks = try watermarks(topic: topic, partition: place.partition)
                return GroupPosition(
                    partition: place.partition, committed: place.offset >= 0 ? place.offset : nil, low: marks.low,
                    high: marks.high)
            }
        }

        /// Low and high watermark (next offset to be written) of a partition.
        package func watermarks(topic: String, partition: Int32, timeoutMillis: Int32 = 5000) throws -> (
            low: Int64, high: Int64
        ) {
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(pointer, topic, partition, &low, &high, timeoutMillis)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("watermarks of \(topic)/\(partition)", err) }
            return (low, high)
        }

        /// Creates the topics that are missing, with topic settings (`retention.ms`...) for new ones.
        package func createTopics(
            _ names: [String], partitions: Int, replication: Int, configs: [(String, String)] = [],
            timeoutMillis: Int32 = 10_000
        ) throws {
            if names.isEmpty { return }
            let cNames = names.map { strdup($0) }
            let cConfigs = configs.flatMap { [strdup($0.0), strdup($0.1)] }
            defer { (cNames + cConfigs).forEach { free($0) } }
            var errorText = [CChar](repeating: 0, count: 512)
            let result = cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { namePointers in
                cConfigs.map { UnsafePointer($0) }.withUnsafeBufferPointer { configPointers in
                    mp_create_topics(
                        pointer, UnsafeMutablePointer(mutating: namePointers.baseAddress), names.count,
                        Int32(partitions), Int32(replication),
                        UnsafeMutablePointer(mutating: configPointers.baseAddress), configs.count, timeoutMillis,
                        &errorText, errorText.count)
                }
            }
            if result != 0 { throw KafkaError("creating topics: \(cText(errorText))") }
        }

        /// The first offset of each partition written at or after `timestamp` (epoch ms); the high
        /// watermark where nothing is that recent.
        package func offsets(
            forTimestamp timestamp: Int64, topic: String, partitions: [Int32], timeoutMillis: Int32 = 10_000
        )
            throws -> [TopicPartitionOffset]
        {
            if partitions.isEmpty { return [] }
            let list = Self.list(
                partitions.map { TopicPartitionOffset(topic: topic, partition: $0, offset: timestamp) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_offsets_for_times(pointer, list, timeoutMillis)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("offsets for a time in \(topic)", err) }
            for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError("offsets for a time in \(topic)", list.pointee.elems[index].err)
            }
            return Self.offsets(in: list)
        }

        package func assignment() -> [TopicPartitionOffset] {
            var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            guard rd_kafka_assignment(pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            return Self.offsets(in: list)
        }

        package func stop() {
            running.store(false, ordering: .relaxed)
            if isProducer { rd_kafka_flush(pointer, 5000) }
        }

        // MARK: Conversions

        package static func list(_ entries: [TopicPartitionOffset]) -> UnsafeMutablePointer<
            rd_kafka_topic_partition_list_t
        > {
            let list = rd_kafka_topic_partition_list_new(Int32(entries.count))!
            for entry in entries {
                let element = rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition)!
                element.pointee.offset = entry.offset
            }
            return list
        }

        package static func offsets(in list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>)
            -> [TopicPartitionOffset]
        {
            (0..<Int(list.pointee.cnt)).map { index in
                let element = list.pointee.elems[index]
                return TopicPartitionOffset(
                    topic: String(cString: element.topic), partition: element.partition, offset: element.offset)
            }
        }

        package static func copy(_ raw: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaMessage {
            let message = raw.pointee
            let value = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? []
            let key = message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) } ?? []
            var headerBlock: [UInt8] = []
            var list: OpaquePointer?
            if rd_kafka_message_headers(raw, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
                headerBlock.reserveCapacity(64)
                for index in 0..<rd_kafka_header_cnt(list) {
                    var name: UnsafePointer<CChar>?
                    var bytes: UnsafeRawPointer?
                    var size = 0
                    if rd_kafka_header_get_all(list, index, &name, &bytes, &size) == RD_KAFKA_RESP_ERR_NO_ERROR,
                        let name
                    {
                        headerBlock.append(contentsOf: UnsafeRawBufferPointer(start: name, count: strlen(name)))
                        headerBlock.append(0)
                        if let bytes {
                            headerBlock.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: size))
                        }
                        headerBlock.append(0)
                    }
                }
            }
            var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(raw, &type)
            return KafkaMessage(
                topic: topic, partition: message.partition,
                offset: message.offset, key: key, value: value, headerBlock: headerBlock, timestamp: timestamp)
        }
    }

    /// What a consumer handle reads, as an `AsyncSequence` of batches: each element is one poll's
    /// worth, taken on the handle's own threads (empty when the poll waited `timeoutMillis` for
    /// nothing, so a reader can act on quiet). It ends when `isDone` turns true (checked between
    /// polls) or the reading task is cancelled. One reader per handle.
    struct KafkaBatches: AsyncSequence, Sendable {
        typealias Element = [KafkaMessage]

        package let handle: KafkaHandle
        package let limit: Int
        package let timeoutMillis: Int32
        package let isDone: @Sendable () -> Bool

        struct AsyncIterator: AsyncIteratorProtocol {
            let batches: KafkaBatches

            mutating func next() async -> [KafkaMessage]? {
                guard !batches.isDone() && !Task.isCancelled else { return nil }
                let (handle, limit, timeout) = (batches.handle, batches.limit, batches.timeoutMillis)
                return try? await handle.blocking { handle.poll(limit: limit, timeoutMillis: timeout) }
            }
        }

        package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(batches: self) }
    }

    extension KafkaHandle {
        /// The messages of this consumer as batches of up to `limit`; see `KafkaBatches`.
        func batches(limit: Int, timeoutMillis: Int32 = 200, until isDone: @escaping @Sendable () -> Bool = { false })
            -> KafkaBatches
        {
            KafkaBatches(handle: self, limit: limit, timeoutMillis: timeoutMillis, isDone: isDone)
        }
    }

    /// The text librdkafka wrote into an error buffer.
    package func cText(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The raw pointers a handle's destruction needs, moved to another thread.
    package struct UnsafeHandles: @unchecked Sendable {  // Raw pointers handed to the one thread that destroys them.
        package let pointer: OpaquePointer
        package let queue: OpaquePointer?
        package let events: Unmanaged<ConsumerEvents>?
    }

    typealias Delivery = CheckedContinuation<[TopicPartitionOffset], any Error>

    /// Counts delivery reports of one `produce` call and resumes it when all arrived.
    final class DeliveryTracker: Sendable {
        private struct State {
            var remaining: Int
            var error: KafkaError?
            var written: [TopicPartitionOffset] = []
            var continuation: Delivery?
        }

        private let state: Mutex<State>

        package init(count: Int) {
            state = Mutex(State(remaining: count))
        }

        func setContinuation(_ continuation: Delivery) {
            state.withLock { $0.continuation = continuation }
        }

        func delivered(_ err: rd_kafka_resp_err_t, at place: TopicPartitionOffset?) {
            let finished: (Delivery, Result<[TopicPartitionOffset], KafkaError>)? = state.withLock { state in
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if state.error == nil { state.error = KafkaError("delivery", err) }
                } else if let place {
                    state.written.append(place)
                }
                state.remaining -= 1
                guard state.remaining == 0, let continuation = state.continuation else { return nil }
                state.continuation = nil
                return (continuation, state.error.map { .failure($0) } ?? .success(state.written))
            }
            guard let (continuation, result) = finished else { return }
            continuation.resume(with: result.mapError { $0 as any Error })
        }
    }
#endif
