#if Kafka
    import Foundation
    import MetropulseApp
    import MetropulseCore
    import Testing

    let testKafkaBrokers = ProcessInfo.processInfo.environment["METROPULSE_TEST_KAFKA_BROKERS"]

    /// The whole pipeline with the work queue and the bus on Kafka (store in SQLite).
    @Suite("End to end on Kafka", .enabled(if: testKafkaBrokers != nil))
    struct KafkaEndToEndTests {
        static func kafkaConfiguration(folder: String) -> MetropulseConfiguration {
            var config = configuration(database: folder + "/kafka.sqlite")
            config.kafka.brokers = testKafkaBrokers
            config.kafka.topicPrefix = "e\(UUID().uuidString.prefix(8).lowercased())-"
            config.kafka.properties = ["session.timeout.ms": "6000", "max.poll.interval.ms": "10000"]
            config.sources[0].intervalMillis = 2_000
            return config
        }

        @Test("serve the demo city through Kafka: stations, partitions per worker, lag per partition, commands")
        func demoCity() async throws {
            let folder = try temporaryFolder()
            let app = try await RunningApp.start(Self.kafkaConfiguration(folder: folder))
            try await eventually("demo stations through Kafka", timeout: .seconds(90)) {
                let (_, json) = try await getJSON("\(app.base)/api/stations?source=demo-bikes")
                return json["count"] as? Int == 300
            }
            try await eventually("the worker reports its partitions") {
                let (_, workers) = try await getJSON("\(app.base)/api/system/workers")
                let first = (workers["workers"] as? [[String: Any]])?.first
                return (first?["partitions"] as? [String])?.count == 9 && first?["health"] as? String == "healthy"
            }
            let (_, queue) = try await getJSON("\(app.base)/api/system/queue")
            let partitions = try #require(queue["partitions"] as? [[String: Any]])
            #expect(partitions.count == 12)
            #expect(partitions.contains { ($0["committed"] as? Int ?? 0) > 0 })

            // PAUSE_FETCH travels on the control topic back to this process's worker pool.
            let (status, _) = try await post(
                "\(app.base)/api/system/commands", body: #"{"kind":"PAUSE_FETCH"}"#,
                headers: ["Content-Type": "application/json", "X-API-Key": "secret"])
            #expect(status == 202)
            try await eventually("the worker says it is paused") {
                app.runtime.workerPool?.heartbeat().status == .paused
            }
            let runs = try await app.runtime.backend.store.taskRuns(TaskRunQuery(status: .succeeded, limit: 1_000))
            #expect(Set(runs.map(\.jobID)).count == runs.count, "a slot ran twice")
            try await app.stop()
        }
    }
#endif
