#if Kafka
    import Foundation
    import Logging
    import MetropulseCore
    import MetropulseKafka
    import Synchronization
    import Testing

    #if canImport(Glibc)
        import Glibc
    #endif

    /// The Tansu binary `scripts/test` found, to run a broker of this test's own.
    let testTansu = ProcessInfo.processInfo.environment["METROPULSE_TEST_TANSU"]

    /// A Tansu broker on its own loopback port, stopped and started again on the same port.
    final class TestBroker: Sendable {
        let binary: String
        let port: Int
        private let process = Mutex<Process?>(nil)

        var address: String { "127.0.0.1:\(port)" }

        init(binary: String) throws {
            self.binary = binary
            port = freeLoopbackPort()
            try start()
        }

        /// Starts the broker and returns once it accepts clients. Right after a stop the port may
        /// still be held (connections in TIME_WAIT): the start is tried again for up to 90 s.
        func start() throws {
            let deadline = Date().addingTimeInterval(90)
            while Date() < deadline {
                let log = Pipe()
                let child = Process()
                child.executableURL = URL(fileURLWithPath: binary)
                child.arguments = [
                    "broker", "--listener-url", "tcp://\(address)", "--advertised-listener-url", "tcp://\(address)",
                ]
                child.standardOutput = log
                child.standardError = log
                try child.run()
                let output = Mutex("")
                log.fileHandleForReading.readabilityHandler = { handle in
                    let data = handle.availableData
                    output.withLock { $0 += String(decoding: data, as: UTF8.self) }
                }
                let waitUntil = Date().addingTimeInterval(10)
                while child.isRunning && Date() < waitUntil && !output.withLock({ $0.contains("ready") }) {
                    Thread.sleep(forTimeInterval: 0.05)
                }
                if child.isRunning && output.withLock({ $0.contains("ready") }) {
                    process.withLock { $0 = child }
                    return
                }
                if child.isRunning { child.terminate() }
                child.waitUntilExit()
                log.fileHandleForReading.readabilityHandler = nil
                Thread.sleep(forTimeInterval: 1)
            }
            throw KafkaTestError(message: "the test broker did not start on \(address) within 90 s")
        }

        /// Kills the broker (its memory storage goes with it).
        func stop() {
            guard let child = process.withLock({ $0.take() }) else { return }
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
    }

    /// A loopback port nothing listens on now.
    func freeLoopbackPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Suite("Kafka broker restart", .enabled(if: testKafkaBrokers != nil && testTansu != nil))
    struct KafkaBrokerRestartTests {
        @Test(
            "the broker restarts: the worker's consumer, the producer and the bus reconnect and carry on",
            .timeLimit(.minutes(5)))
        func brokerRestart() async throws {
            let broker = try TestBroker(binary: try #require(testTansu))
            defer { broker.stop() }
            let prefix = "k\(UUID().uuidString.prefix(8).lowercased())-"
            let topics = KafkaTopics().prefixed(prefix)
            let settings = KafkaSettings(
                brokers: broker.address, properties: ["session.timeout.ms": "6000", "max.poll.interval.ms": "10000"])
            let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            let worker = try await makeTestKafkaQueue(prefix: prefix, brokers: broker.address)
            defer { worker.shutdown() }
            let scheduler = try KafkaWorkQueue(
                configuration: .init(settings: settings, topics: topics, clientID: "scheduler-\(prefix)"),
                logger: logger)
            defer { scheduler.shutdown() }
            let bus = try KafkaControlBus(settings: settings, topics: topics, clientID: "bus", logger: logger)
            defer { bus.shutdown() }
            let commands = try await bus.commands()

            #expect(try await scheduler.enqueue([NewTask(jobID: "before", sourceID: "s", runAt: 0)], now: 0) == 1)
            let first = try #require(try await KafkaQueueTests.claimOne(worker, owner: "w"))
            #expect(first.jobID == "before")
            try await worker.finish([TaskOutcome(first, disposition: .succeeded, finishedAt: 1)])

            broker.stop()
            try broker.start()
            // The broker kept its log in memory: the topics are created again, as `metropulse
            // migrate` (or any process starting) would.
            try await scheduler.createTopics()

            // The same clients, without a restart of their own, carry on.
            #expect(try await scheduler.enqueue([NewTask(jobID: "after", sourceID: "s", runAt: 0)], now: 0) == 1)
            let second = try #require(try await KafkaQueueTests.claimOne(worker, owner: "w", seconds: 120))
            #expect(second.jobID == "after")
            try await worker.finish([TaskOutcome(second, disposition: .succeeded, finishedAt: 2)])
            let command = ControlCommand(id: "after-restart", kind: .resumeFetch, target: nil, issuedAt: 3)
            try await bus.publish(command)
            #expect(await KafkaQueueTests.first(of: commands) == command)

            // Leave the group while the broker is there, so no client outlives the test.
            bus.shutdown()
            await worker.close()
            await scheduler.close()
        }
    }
#endif
