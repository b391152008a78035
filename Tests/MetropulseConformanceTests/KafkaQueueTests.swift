#if Kafka
    import Foundation
    import Logging
    import MetropulseCore
    @testable import MetropulseKafka
    import Synchronization
    import Testing

    let testKafkaBrokers = ProcessInfo.processInfo.environment["METROPULSE_TEST_KAFKA_BROKERS"]

    /// What only the Kafka queue and bus do: group membership, partitions, stalls, the bus.
    /// Group joins take seconds on the test broker: tests wait for assignment, never sleep.
    @Suite("Kafka queue and bus", .enabled(if: testKafkaBrokers != nil))
    struct KafkaQueueTests {
        static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

        /// A queue on the same topics that only produces (it never joins the group).
        static func producer(prefix: String) throws -> KafkaWorkQueue {
            try KafkaWorkQueue(
                configuration: .init(
                    settings: KafkaSettings(brokers: testKafkaBrokers!), topics: KafkaTopics().prefixed(prefix),
                    clientID: "producer-\(prefix)"),
                logger: logger)
        }

        /// Claims until one task arrives, waiting for work in between, up to `seconds`.
        static func claimOne(_ queue: KafkaWorkQueue, owner: String, seconds: Int = 60) async throws -> ClaimedTask? {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while ContinuousClock.now < deadline {
                let now = WallClock.system.nowMillis
                if let task = try await queue.claim(owner: owner, limit: 1, leaseMillis: 60_000, now: now).first {
                    return task
                }
                await queue.waitForWork(timeoutMillis: 200)
            }
            return nil
        }

        /// The stream's first element, or nil after 30 s (the bus reader ends the stream then).
        static func first<T: Sendable>(of stream: AsyncStream<T>) async -> T? {
            await withTaskGroup(of: T?.self) { group in
                group.addTask {
                    for await element in stream { return element }
                    return nil
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(30))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }

        @Test("a task produced elsewhere is consumed right after assignment, and its offset committed")
        func consumesAfterAssignment() async throws {
            let prefix = "a\(UUID().uuidString.prefix(8).lowercased())-"
            let worker = try await makeTestKafkaQueue(prefix: prefix)
            defer { worker.shutdown() }
            let scheduler = try Self.producer(prefix: prefix)
            defer { scheduler.shutdown() }
            let writtenAt = WallClock.system.nowMillis
            #expect(try await scheduler.enqueue([NewTask(jobID: "j1", sourceID: "s1", runAt: 0)], now: 0) == 1)
            // Until a worker finishes it, the task is lag: in messages, and in time since it was written.
            let waiting = try await scheduler.partitionLags().filter { $0.lag > 0 }
            #expect(waiting.map(\.topic) == [prefix + "fetch.tasks"])
            let oldest = try #require(waiting.first?.oldestAt)
            #expect(oldest >= writtenAt - 1_000 && oldest <= WallClock.system.nowMillis)
            #expect(try await scheduler.stats(now: WallClock.system.nowMillis).oldestReadySince == oldest)

            let task = try #require(try await Self.claimOne(worker, owner: "w"))
            #expect(task.jobID == "j1")
            #expect(task.attempt == 1)
            #expect(worker.assignedPartitions().count == 9)
            try await worker.finish([TaskOutcome(task, disposition: .succeeded, finishedAt: 1)])
            // The poll thread commits within one poll.
            var lags = try await scheduler.partitionLags()
            let deadline = ContinuousClock.now + .seconds(10)
            while lags.reduce(0, { $0 + $1.lag }) > 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                lags = try await scheduler.partitionLags()
            }
            #expect(lags.reduce(0) { $0 + $1.lag } == 0)
            #expect(lags.contains { $0.topic == prefix + "fetch.tasks" && $0.committed == 1 })
        }

        @Test("a worker with tasks waiting and no progress reports itself stalled")
        func stalled() async throws {
            let queue = try await makeTestKafkaQueue()
            defer { queue.shutdown() }
            try await queue.enqueue([NewTask(jobID: "j", sourceID: "s", runAt: 0)], now: 0)
            #expect(try await queue.tasks(state: .queued, limit: 10).count == 1)
            let now = WallClock.system.nowMillis
            #expect(!queue.isStalled(now: now))
            #expect(queue.isStalled(now: now + 120_000))
            // Paused by the operator: waiting is expected, not a stall.
            queue.control(.pauseFetch)
            #expect(!queue.isStalled(now: now + 120_000))
            queue.control(.resumeFetch)
            let task = try #require(try await queue.claim(owner: "w", limit: 1, leaseMillis: 1_000, now: now).first)
            try await queue.finish([TaskOutcome(task, disposition: .succeeded, finishedAt: now)])
            // Nothing waits once the consumer's count of unread messages has caught up with the
            // read (it follows the consumer's position, asynchronously on a busy machine).
            let deadline = ContinuousClock.now + .seconds(20)
            while queue.isStalled(now: WallClock.system.nowMillis + 120_000) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(!queue.isStalled(now: WallClock.system.nowMillis + 120_000))
        }

        @Test("a task held by a worker that leaves the group is run by another")
        func workerLeaves() async throws {
            let prefix = "l\(UUID().uuidString.prefix(8).lowercased())-"
            let first = try await makeTestKafkaQueue(prefix: prefix)
            try await first.enqueue([NewTask(jobID: "held", sourceID: "s", runAt: 0)], now: 0)
            let held = try #require(try await Self.claimOne(first, owner: "first"))
            #expect(held.jobID == "held")
            // The first worker goes away without finishing; the second gets every partition.
            await first.close()
            let second = try await makeTestKafkaQueue(prefix: prefix)
            defer { second.shutdown() }
            let redone = try #require(try await Self.claimOne(second, owner: "second", seconds: 90))
            #expect(redone.jobID == "held")
            try await second.finish([TaskOutcome(redone, disposition: .succeeded, finishedAt: 1)])
            #expect(try await second.stats(now: 2).succeeded == 1)
        }

        @Test("a task whose workers are lost while running it is dead once its starts reach its attempts")
        func lostWorkers() async throws {
            let prefix = "p\(UUID().uuidString.prefix(8).lowercased())-"
            let first = try await makeTestKafkaQueue(prefix: prefix)
            // Same source, same partition: the innocent task waits behind the one that kills workers.
            try await first.enqueue(
                [
                    NewTask(jobID: "poison", sourceID: "s", runAt: 0, maxAttempts: 2),
                    NewTask(jobID: "innocent", sourceID: "s", runAt: 0, maxAttempts: 2),
                ], now: 0)
            let started = try #require(try await Self.claimOne(first, owner: "first"))
            #expect(started.jobID == "poison" && started.attempt == 1)
            // Lost while running it: the process goes away without an outcome.
            await first.close()

            let second = try await makeTestKafkaQueue(prefix: prefix)
            let again = try #require(try await Self.claimOne(second, owner: "second", seconds: 90))
            #expect(again.jobID == "poison")
            #expect(again.attempt == 2)
            // The partition's first task since the assignment runs alone: the next one, read and
            // waiting, is not handed out.
            let deadline = ContinuousClock.now + .seconds(30)
            while try await !second.tasks(state: .queued, limit: 10).contains(where: { $0.jobID == "innocent" }),
                ContinuousClock.now < deadline
            {
                await second.waitForWork(timeoutMillis: 200)
            }
            #expect(try await second.tasks(state: .queued, limit: 10).map(\.jobID) == ["innocent"])
            let now = WallClock.system.nowMillis
            #expect(try await second.claim(owner: "second", limit: 10, leaseMillis: 60_000, now: now).isEmpty)
            await second.close()

            // Its two attempts were started and lost: the third member sends it to the dead
            // letters and runs the task behind it.
            let third = try await makeTestKafkaQueue(prefix: prefix)
            defer { third.shutdown() }
            let next = try #require(try await Self.claimOne(third, owner: "third", seconds: 90))
            #expect(next.jobID == "innocent")
            #expect(next.attempt == 1)
            try await third.finish([TaskOutcome(next, disposition: .succeeded, finishedAt: 1)])
            let dead = try await third.tasks(state: .dead, limit: 10)
            #expect(dead.map(\.jobID) == ["poison"])
            #expect(dead.first?.lastError == spentLeaseError)
            #expect(dead.first?.attempts == 2)
        }

        /// Runs a Python program with the confluent-kafka client; returns what it printed.
        static func python(_ program: String, _ arguments: [String]) throws -> String {
            let interpreter = try #require(ProcessInfo.processInfo.environment["METROPULSE_TEST_KAFKA_PYTHON"])
            let process = Process()
            process.executableURL = URL(fileURLWithPath: interpreter)
            process.arguments = ["-c", program] + arguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            return String(decoding: data, as: UTF8.self)
        }

        static let pythonReadsOne = """
            import json, sys
            from confluent_kafka import Consumer
            consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2] + "python",
                                 "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
            consumer.subscribe([sys.argv[2] + "fetch.tasks"])
            for _ in range(600):
                message = consumer.poll(0.1)
                if message is not None and message.error() is None:
                    print(json.dumps({"key": message.key().decode(), "value": json.loads(message.value()),
                                      "headers": {k: v.decode() for k, v in message.headers() or []}}))
                    break
            consumer.close()
            """

        static let pythonWritesOne = """
            import json, sys
            from confluent_kafka import Producer
            producer = Producer({"bootstrap.servers": sys.argv[1]})
            task = {"job_id": "from-python", "source_id": "py-source", "run_at": 0, "max_attempts": 2}
            producer.produce(sys.argv[2] + "fetch.tasks", key="py-source", value=json.dumps(task))
            producer.flush(10)
            """

        @Test(
            "a Kafka tool reads the tasks Metropulse writes, and Metropulse runs the tasks it writes",
            .enabled(if: ProcessInfo.processInfo.environment["METROPULSE_TEST_KAFKA_PYTHON"] != nil))
        func crossClient() async throws {
            let prefix = "x\(UUID().uuidString.prefix(8).lowercased())-"
            let queue = try await makeTestKafkaQueue(prefix: prefix)
            defer { queue.shutdown() }
            try await queue.enqueue([NewTask(jobID: "from-swift", sourceID: "swift-source", runAt: 7)], now: 5)
            let line = try Self.python(Self.pythonReadsOne, [testKafkaBrokers!, prefix])
            let read = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "python printed: \(line)")
            #expect(read["key"] as? String == "swift-source")
            let value = try #require(read["value"] as? [String: Any])
            #expect(value["job_id"] as? String == "from-swift")
            #expect(value["run_at"] as? Int == 7)
            #expect(value["enqueued_at"] as? Int == 5)
            let headers = try #require(read["headers"] as? [String: String])
            #expect(headers["job-id"] == "from-swift")
            #expect(headers["not-before"] == "7")

            _ = try Self.python(Self.pythonWritesOne, [testKafkaBrokers!, prefix])
            var seen: [String] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while !seen.contains("from-python") && ContinuousClock.now < deadline {
                let claimed = try await queue.claim(owner: "w", limit: 10, leaseMillis: 10_000, now: 1_000)
                seen += claimed.map(\.jobID)
                if claimed.isEmpty { await queue.waitForWork(timeoutMillis: 200) }
                for task in claimed where task.jobID == "from-python" {
                    #expect(task.sourceID == "py-source")
                    #expect(task.maxAttempts == 2)
                    #expect(task.attempt == 1)
                }
            }
            #expect(seen.contains("from-python"))
        }

        /// Counts fetches; each succeeds with nothing to store.
        final class CountingConnector: Connector {
            let calls = Mutex<[String]>([])

            func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
                calls.withLock { $0.append(source.id) }
                return FetchResult(
                    observations: ObservationBatch(), url: "count:", httpStatus: 200, bytes: 0, contentHash: "0",
                    feedTimestamp: nil)
            }
        }

        @Test("a job delivered again after it succeeded is skipped by the worker, from the store's run records")
        func redeliveredJobSkipped() async throws {
            let prefix = "r\(UUID().uuidString.prefix(8).lowercased())-"
            let queue = try await makeTestKafkaQueue(prefix: prefix)
            defer { queue.shutdown() }
            let stored = try await BackendFactory.sqlite.make()
            defer { stored.cleanup() }
            // The run record of the job's earlier, successful delivery (another process ran it).
            try await stored.store.write([
                RunResult(
                    run: TaskRun(
                        id: "done#1", jobID: "done", taskID: nil, sourceID: "s", attempt: 1, workerID: "gone",
                        status: .succeeded, startedAt: 1, finishedAt: 2),
                    outcome: nil)
            ])
            let connector = CountingConnector()
            let pool = WorkerPool(
                configuration: .init(workerID: "w", concurrency: 2, idlePollMillis: 50), queue: queue,
                committer: SequentialRunCommitter(store: stored.store, queue: queue), store: stored.store,
                catalog: SourceCatalog([
                    SourceDefinition(id: "s", kind: .gbfs, urls: ["count:"], intervalMillis: 60_000)
                ]),
                connectors: ConnectorRegistry([.gbfs: connector]), bus: InProcessControlBus(), logger: Self.logger)
            let running = Task { try await pool.run() }
            defer { running.cancel() }
            let scheduler = try Self.producer(prefix: prefix)
            defer { scheduler.shutdown() }
            try await scheduler.enqueue(
                [NewTask(jobID: "done", sourceID: "s", runAt: 0), NewTask(jobID: "new", sourceID: "s", runAt: 0)],
                now: 0)
            // Same source, same partition, in order: once "new" ran, "done" was dealt with.
            let deadline = ContinuousClock.now + .seconds(60)
            while try await stored.store.taskRuns(TaskRunQuery(jobID: "new")).isEmpty && ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(50))
            }
            pool.stop()
            #expect(connector.calls.withLock { $0 } == ["s"])
            #expect(try await stored.store.taskRuns(TaskRunQuery(jobID: "done")).map(\.id) == ["done#1"])
        }

        @Test("commands and worker metrics reach every process")
        func bus() async throws {
            let prefix = "b\(UUID().uuidString.prefix(8).lowercased())-"
            let topics = KafkaTopics().prefixed(prefix)
            let settings = KafkaSettings(brokers: testKafkaBrokers!)
            let creator = try Self.producer(prefix: prefix)
            try await creator.createTopics()
            creator.shutdown()
            let one = try KafkaControlBus(settings: settings, topics: topics, clientID: "one", logger: Self.logger)
            let two = try KafkaControlBus(settings: settings, topics: topics, clientID: "two", logger: Self.logger)
            defer {
                one.shutdown()
                two.shutdown()
            }
            let commandsAtTwo = try await two.commands()
            let metricsAtOne = try await one.metrics()
            let command = ControlCommand(id: "c1", kind: .rebalance, target: nil, issuedAt: 5)
            try await one.publish(command)
            #expect(await Self.first(of: commandsAtTwo) == command)
            let beat = WorkerHeartbeat(
                workerID: "w2", host: "h", pid: 1, status: .running, concurrency: 4, inFlight: 1, processed: 2,
                failed: 0, fetchRate: 0.5, errorsLastMinute: 0, cpuSeconds: 1, memoryBytes: 2, startedAt: 3,
                lastSeenAt: 4, partitions: ["t/0"])
            try await two.publishMetrics(beat)
            #expect(await Self.first(of: metricsAtOne) == beat)
        }
    }
#endif
