import Foundation

#if Kafka
    import Logging
    import MetropulseCore
    import MetropulseKafka
    import Synchronization

    /// `metropulse bench kafka`: produce and consume task-sized messages through the broker with
    /// Metropulse's client, and the same with the Python `confluent-kafka` client in the same run
    /// (the baseline: the same C library underneath); then offer tasks at a steady rate through the
    /// Kafka work queue and measure enqueue→claim latency.
    public struct KafkaBenchmark: Sendable {
        public var brokers: String
        public var messages: Int
        /// A Python interpreter with `confluent-kafka`, for the baseline; nil skips it.
        public var python: String?
        public var steadyRate: Int
        public var steadySeconds: Int
        /// Produce-and-consume rounds per client, alternating; medians are reported.
        public var rounds: Int
        public var properties: [String: String]

        public init(
            brokers: String, messages: Int = 200_000, python: String?, steadyRate: Int = 1_000, steadySeconds: Int = 10,
            rounds: Int = 3, properties: [String: String] = [:]
        ) {
            self.brokers = brokers
            self.messages = messages
            self.python = python
            self.steadyRate = steadyRate
            self.steadySeconds = steadySeconds
            self.rounds = rounds
            self.properties = properties
        }

        public struct Throughput: Sendable {
            public var producePerSecond: Double
            public var consumePerSecond: Double
        }

        public struct Report: Sendable, CustomStringConvertible {
            public var messages: Int
            public var rounds: Int
            public var messageBytes: Int
            public var metropulse: Throughput
            public var python: Throughput?
            public var pythonError: String?
            public var steadyRate: Int
            public var steadyTasks: Int
            public var latencyP50: Double
            public var latencyP99: Double
            public var latencyMax: Double

            public var description: String {
                func f(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
                var lines = [
                    "bench kafka: \(messages) task messages of \(messageBytes) bytes (+ 3 headers), 3 partitions; median of \(rounds) alternating rounds",
                    "  metropulse  produce \(f(metropulse.producePerSecond)) msg/s   consume \(f(metropulse.consumePerSecond)) msg/s",
                ]
                if let python {
                    lines.append(
                        "  python      produce \(f(python.producePerSecond)) msg/s   consume \(f(python.consumePerSecond)) msg/s   (confluent-kafka, same run)"
                    )
                    lines.append(
                        "  ratio       produce \(f(metropulse.producePerSecond / python.producePerSecond, 2))x   consume \(f(metropulse.consumePerSecond / python.consumePerSecond, 2))x   (target >= 1.0x)"
                    )
                } else {
                    lines.append("  python baseline not run: \(pythonError ?? "no interpreter given")")
                }
                lines.append(
                    "  work queue at \(steadyRate) tasks/s: \(steadyTasks) tasks, enqueue->claim p50 \(f(latencyP50)) ms, p99 \(f(latencyP99)) ms, max \(f(latencyMax)) ms   (target p99 < 50 ms)"
                )
                return lines.joined(separator: "\n")
            }
        }

        public func run() async throws -> Report {
            let settings = KafkaSettings(brokers: brokers, properties: properties)
            let run = "bench-\(UUID().uuidString.prefix(8).lowercased())"
            let sample = TaskRecord(
                NewTask(jobID: "source-00@1764070800000", sourceID: "source-00", runAt: 1_764_070_800_000),
                enqueuedAt: 1_764_070_799_000)
            let value = sample.encoded()

            // Rounds alternate the two clients; the report gives each side's median.
            var ourRounds: [Throughput] = []
            var theirRounds: [Throughput] = []
            var pythonError: String?
            for round in 0..<max(1, rounds) {
                ourRounds.append(
                    try await measureOurs(
                        settings: settings, topic: "\(run)-swift-\(round)", value: value, headers: sample.headers))
                if let python, pythonError == nil {
                    do {
                        theirRounds.append(try measurePython(python, topic: "\(run)-python-\(round)", value: value))
                    } catch {
                        pythonError = "\(error)"
                    }
                }
            }
            func median(_ rounds: [Throughput]) -> Throughput? {
                guard !rounds.isEmpty else { return nil }
                let produce = rounds.map(\.producePerSecond).sorted()
                let consume = rounds.map(\.consumePerSecond).sorted()
                return Throughput(
                    producePerSecond: produce[produce.count / 2], consumePerSecond: consume[consume.count / 2])
            }
            let ours = median(ourRounds)!
            let theirs = pythonError == nil ? median(theirRounds) : nil
            let latencies = try await measureLatency(settings: settings, prefix: run + "-")
            let sorted = latencies.sorted()
            func at(_ q: Double) -> Double {
                sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))])
            }
            return Report(
                messages: messages, rounds: max(1, rounds), messageBytes: value.count, metropulse: ours, python: theirs,
                pythonError: pythonError,
                steadyRate: steadyRate, steadyTasks: latencies.count, latencyP50: at(0.5), latencyP99: at(0.99),
                latencyMax: Double(sorted.last ?? 0))
        }

        private func measureOurs(settings: KafkaSettings, topic: String, value: [UInt8], headers: [(String, String)])
            async throws -> Throughput
        {
            let producer = try KafkaHandle(role: .producer, settings: settings, name: "bench-producer")
            defer { producer.stop() }
            try await producer.blocking { try producer.createTopics([topic], partitions: 3, replication: 1) }
            let started = ContinuousClock.now
            // All at once, then wait for every delivery, as the baseline does (produce, then flush).
            try await producer.produce(
                (0..<messages).map { index in
                    KafkaOutgoing(topic: topic, key: "source-\(index % 50)", value: value, headers: headers)
                })
            let produceSeconds = (ContinuousClock.now - started).seconds

            let events = ConsumerEvents()
            let consumer = try KafkaHandle(
                role: .consumer(group: topic + "-group", events: events), settings: settings, name: "bench-consumer")
            try consumer.subscribe([topic])
            let count = messages
            let consumeSeconds = try await consumer.blocking {
                var received = 0
                var first: ContinuousClock.Instant?
                let deadline = ContinuousClock.now + .seconds(300)
                while received < count {
                    guard ContinuousClock.now < deadline else { throw KafkaError("consumed \(received) of \(count)") }
                    let batch = consumer.poll(limit: 10_000, timeoutMillis: 100, fill: true)
                    if !batch.isEmpty && first == nil { first = ContinuousClock.now }
                    received += batch.count
                }
                return (ContinuousClock.now - (first ?? ContinuousClock.now)).seconds
            }
            consumer.closeConsumer()
            return Throughput(
                producePerSecond: Double(messages) / produceSeconds, consumePerSecond: Double(messages) / consumeSeconds
            )
        }

        /// The same produce and consume with the Python client; timing starts at the first message
        /// consumed, as above (the group join is not measured on either side).
        private func measurePython(_ python: String, topic: String, value: [UInt8]) throws -> Throughput {
            let program = """
                import json, sys, time
                from confluent_kafka import Consumer, Producer
                from confluent_kafka.admin import AdminClient, NewTopic
                brokers, topic, count, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
                admin = AdminClient({"bootstrap.servers": brokers})
                admin.create_topics([NewTopic(topic, 3, 1)])[topic].result()
                producer = Producer({"bootstrap.servers": brokers, "linger.ms": 2})
                headers = [("job-id", b"source-00@1764070800000"), ("source-id", b"source-00"), ("not-before", b"1764070800000")]
                started = time.perf_counter()
                for index in range(count):
                    while True:
                        try:
                            producer.produce(topic, key="source-%d" % (index % 50), value=value, headers=headers)
                            break
                        except BufferError:
                            producer.poll(0.05)
                    producer.poll(0)
                producer.flush(60)
                produce = count / (time.perf_counter() - started)
                consumer = Consumer({"bootstrap.servers": brokers, "group.id": topic + "-group",
                                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
                consumer.subscribe([topic])
                received, first = 0, None
                while received < count:
                    batch = consumer.consume(10000, 0.1)
                    if batch and first is None:
                        first = time.perf_counter()
                    received += len(batch)
                consume = count / (time.perf_counter() - first)
                consumer.close()
                print(json.dumps({"produce": produce, "consume": consume}))
                """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [
                "-c", program, brokers, topic, String(messages), String(decoding: value, as: UTF8.self),
            ]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Double],
                let produce = object["produce"], let consume = object["consume"]
            else {
                throw KafkaError(
                    "the Python baseline failed (exit \(process.terminationStatus)); is confluent-kafka installed?")
            }
            return Throughput(producePerSecond: produce, consumePerSecond: consume)
        }

        /// Enqueue→claim latency of the Kafka work queue at a steady rate, tasks spread over 50
        /// sources (so over every partition), 16 claimers finishing each task at once.
        private func measureLatency(settings: KafkaSettings, prefix: String) async throws -> [Int64] {
            let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
            let worker = try KafkaWorkQueue(
                configuration: .init(
                    settings: settings, topics: KafkaTopics().prefixed(prefix), clientID: "bench-worker"),
                logger: logger)
            defer { worker.shutdown() }
            try await worker.createTopics()
            guard try await worker.waitUntilAssigned(timeoutMillis: 60_000) else {
                throw KafkaError("the benchmark consumer got no partitions within 60 s")
            }
            let scheduler = try KafkaWorkQueue(
                configuration: .init(
                    settings: settings, topics: KafkaTopics().prefixed(prefix), clientID: "bench-scheduler"),
                logger: logger)
            defer { scheduler.shutdown() }
            let perTick = max(1, steadyRate / 100)
            let total = perTick * steadySeconds * 100
            let clock = WallClock.system
            // Warm-up, not measured: connections and metadata in place on both sides, one task per source.
            try await scheduler.enqueue(
                (0..<50).map { NewTask(jobID: "warm-\($0)", sourceID: "source-\($0)", runAt: 0) }, now: clock.nowMillis)
            var warmed = 0
            let warmDeadline = ContinuousClock.now + .seconds(30)
            while warmed < 50 && ContinuousClock.now < warmDeadline {
                let claimed = try await worker.claim(
                    owner: "warm", limit: 50, leaseMillis: 60_000, now: clock.nowMillis)
                warmed += claimed.count
                try await worker.finish(claimed.map { TaskOutcome($0, disposition: .succeeded, finishedAt: 0) })
                if claimed.isEmpty { await worker.waitForWork(timeoutMillis: 20) }
            }
            return try await withThrowingTaskGroup(of: [Int64].self) { group in
                group.addTask {
                    let started = ContinuousClock.now
                    for tick in 0..<(steadySeconds * 100) {
                        try await Task.sleep(until: started + .milliseconds(10 * tick), clock: .continuous)
                        let now = clock.nowMillis
                        try await scheduler.enqueue(
                            (0..<perTick).map {
                                NewTask(
                                    jobID: "steady-\(tick)-\($0)", sourceID: "source-\(($0 + tick) % 50)", runAt: now)
                            }, now: now)
                    }
                    return []
                }
                let counter = Counter()
                for claimer in 0..<16 {
                    group.addTask {
                        var latencies: [Int64] = []
                        let deadline = ContinuousClock.now + .seconds(steadySeconds + 60)
                        while counter.value < total && ContinuousClock.now < deadline {
                            let now = clock.nowMillis
                            let claimed = try await worker.claim(
                                owner: "claimer-\(claimer)", limit: 16, leaseMillis: 60_000, now: now)
                            if claimed.isEmpty {
                                await worker.waitForWork(timeoutMillis: 5)
                                continue
                            }
                            latencies += claimed.map { now - $0.enqueuedAt }
                            counter.add(claimed.count)
                            try await worker.finish(
                                claimed.map { TaskOutcome($0, disposition: .succeeded, finishedAt: now) })
                        }
                        return latencies
                    }
                }
                var all: [Int64] = []
                for try await latencies in group { all += latencies }
                return all
            }
        }
    }

    /// Tasks claimed so far, across the claimers.
    private final class Counter: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func add(_ amount: Int) { count.withLock { $0 += amount } }
    }
#endif
