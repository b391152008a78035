#if Kafka
    import Foundation
    import MetropulseApp
    import MetropulseCore
    import MetropulseKafka
    import Synchronization
    import Testing

    /// The Kafka data path: workers publish to the record topics, the sink loads the store.
    @Suite(
        "Records through Kafka", .enabled(if: testKafkaBrokers != nil && postgresBinaries != nil))
    struct KafkaRecordsTests {
        @Test(
            "the store stops, workers keep ingesting, the store returns: every record arrives once; replay rebuilds it")
        func storeOutage() async throws {
            let postgres = try ThrowawayPostgres(bin: try #require(postgresBinaries))
            defer { postgres.destroy() }
            let folder = try temporaryFolder()
            let startedAt = WallClock.system.nowMillis
            var config = KafkaEndToEndTests.kafkaConfiguration(folder: folder)
            config.database.url = postgres.url
            config.dataPath = .kafka
            // No scheduler: every task here is the test's, so the topics hold exactly their records.
            let app = try await RunningApp.start(config, roles: [.worker, .sink, .api])
            let (queue, store) = (app.runtime.backend.queue, app.runtime.backend.store)
            let sourceIDs = ["demo-bikes", "demo-metro-trips", "demo-metro-vehicles", "demo-air-centre"]
            func enqueue(_ round: String) async throws -> [String] {
                let now = WallClock.system.nowMillis
                let tasks = sourceIDs.map { NewTask(jobID: "\(round)-\($0)", sourceID: $0, runAt: now) }
                try await queue.enqueue(tasks, now: now)
                return tasks.map(\.jobID)
            }
            func loaded(_ jobs: [String]) async throws -> Bool {
                for job in jobs where try await store.taskRuns(TaskRunQuery(jobID: job, limit: 5)).isEmpty {
                    return false
                }
                return true
            }

            let before = try await enqueue("before")
            try await eventually("the sink loads the first runs", timeout: .seconds(90)) { try await loaded(before) }
            #expect(try await store.stations(StationQuery(sourceID: "demo-bikes")).count == 300)

            try postgres.stop()
            let during = try await enqueue("during")
            try await eventually("workers finish their tasks while the store is down", timeout: .seconds(90)) {
                let done = Set(try await queue.tasks(state: .succeeded, limit: 10_000).map(\.jobID))
                return during.allSatisfy(done.contains)
            }
            try postgres.start()
            try await eventually("what was fetched during the outage arrives", timeout: .seconds(90)) {
                try await loaded(during)
            }
            let runs = try await store.taskRuns(TaskRunQuery(limit: 10_000))
            #expect(runs.filter(\.status.isSuccess).count == before.count + during.count, "a run arrived twice")
            #expect(Set(runs.map(\.jobID)) == Set(before + during))

            // The sink's offsets on the record topics show in the queue report.
            let (_, report) = try await getJSON("\(app.base)/api/system/queue")
            let partitions = report["partitions"] as? [[String: Any]] ?? []
            #expect(
                partitions.contains {
                    $0["topic"] as? String == config.kafka.recordTopics.name(.runs)
                        && ($0["committed"] as? Int ?? 0) > 0
                })

            // A replay of the last hour into an empty store rebuilds the same history.
            let replayPath = folder + "/replayed.sqlite"
            var replayConfig = config
            replayConfig.database.url = nil
            replayConfig.database.path = replayPath
            let reports = Mutex<[ReplayProgress]>([])
            let done = try await StorageBackend.replayRecords(
                replayConfig, kinds: RecordKind.allCases, since: startedAt - 60_000, clientID: "replay-test",
                logger: quietLogger
            ) { progress in reports.withLock { $0.append(progress) } }
            #expect(done.read == done.total)
            #expect(done.rejected == 0)
            #expect(done.records >= 300 + before.count + during.count)
            #expect(reports.withLock { $0.count } >= 2)
            let replayed = try StorageBackend.make(replayConfig.database, logger: quietLogger)
            defer { try? replayed.close() }
            let replayedStations = try await replayed.store.rawStationObservationCount(sourceID: nil)
            try await eventually("the sink has loaded every station record") {
                try await store.rawStationObservationCount(sourceID: nil) == replayedStations
            }
            #expect(replayedStations >= 300)
            #expect(try await replayed.store.taskRuns(TaskRunQuery(limit: 10_000)).count == runs.count)
            #expect(!(try await replayed.store.departures(DepartureQuery())).isEmpty)
            #expect(!(try await replayed.store.vehicles(sourceIDs: nil, routeID: nil)).isEmpty)

            // Replayed again: nothing doubles.
            _ = try await StorageBackend.replayRecords(
                replayConfig, kinds: [.stations], since: startedAt - 60_000, clientID: "replay-test",
                logger: quietLogger
            ) { _ in }
            #expect(try await replayed.store.rawStationObservationCount(sourceID: nil) == replayedStations)
            try await app.stop()
        }
    }
#endif
