import MetropulseCore
import MetropulseKafka
import Testing

/// The record topics' message format: what a worker publishes is what the sink writes.
@Suite("Record messages")
struct RecordCodecTests {
    static func sample() -> RunResult {
        var run = TaskRun(
            id: "job-1#1@5", jobID: "job-1", taskID: 7, sourceID: "bikes", attempt: 1, workerID: "w",
            status: .succeeded,
            startedAt: 1, finishedAt: 5, entityCount: 3)
        run.contentHash = "abc"
        let stations = [
            StoreConformanceTests.station("1", bikes: 3, at: 4), StoreConformanceTests.station("2", bikes: 5, at: 4),
        ]
        let reading = CityMeasurement(
            sourceID: "bikes", zone: "centre", metric: "pm25", value: 12.5, unit: "µg/m³", observedAt: 4)
        let departure = Departure(
            sourceID: "bikes", stopID: "S1", stopSequence: 1, routeID: "R", tripID: "T", directionID: nil,
            vehicleID: nil, scheduledAt: 100, expectedAt: 160, delaySeconds: 60, relationship: "SCHEDULED",
            observedAt: 4)
        return RunResult(
            run: run,
            observations: ObservationBatch(
                stations: stations, departures: [departure], measurements: [reading], transitSnapshot: true,
                transitObservedAt: 4),
            outcome: nil)
    }

    @Test("a run becomes one message per reading, one for its transit state and its run record, and back")
    func roundTrip() throws {
        let result = Self.sample()
        let messages = try RecordCodec.messages(for: result)
        #expect(messages.map(\.kind) == [.stations, .stations, .measurements, .transit, .runs])
        #expect(messages.map(\.key) == ["bikes/1", "bikes/2", "bikes/centre/pm25", "bikes", "job-1"])
        #expect(messages[0].headers.map(\.0) == ["kind", "source-id", "run-id"])
        let decoded = try messages.map { try RecordCodec.result(kind: $0.kind, value: $0.value) }
        #expect(decoded.map(\.recordsRun) == [false, false, false, false, true])
        #expect(decoded[4].run == result.run)
        let merged = RecordCodec.merged(decoded)
        #expect(merged.count == 3)
        #expect(merged[0].run.id == "job-1#1@5")
        #expect(merged[0].run.finishedAt == 5)
        #expect(merged[0].observations.stations == result.observations.stations)
        #expect(merged[0].observations.measurements == result.observations.measurements)
        #expect(merged[1].observations.departures == result.observations.departures)
        #expect(merged[1].observations.transitSnapshot)
        #expect(merged[1].observations.transitObservedAt == 4)
    }

    @Test("a message that is not a record says what it should have been")
    func badMessage() {
        #expect(throws: RecordCodec.DecodeError.self) {
            try RecordCodec.result(kind: .stations, value: Array("{\"nope\":1}".utf8))
        }
    }

    @Test("topics are named with the prefix and found by full or bare name")
    func names() {
        let topics = RecordTopics(prefix: "x-")
        #expect(topics.name(.stations) == "x-records.stations")
        #expect(topics.kind(of: "x-records.transit") == .transit)
        #expect(topics.kind(of: "records.runs") == .runs)
        #expect(topics.kind(of: "measurements") == .measurements)
        #expect(topics.kind(of: "fetch.tasks") == nil)
        #expect(topics.sinkGroup == "x-metropulse-sink")
    }
}
