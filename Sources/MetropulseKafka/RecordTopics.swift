import Foundation
public import MetropulseCore

/// What flows on a record topic: the normalized data of the Kafka data path.
public enum RecordKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// One station reading per message, keyed `source/station`.
    case stations
    /// One city reading per message, keyed `source/zone/metric`.
    case measurements
    /// A transit feed's departures, vehicles and disruptions of one fetch, keyed by source: a
    /// GTFS-Realtime `FULL_DATASET` is one state, and split by entity it would lose what left it.
    case transit
    /// Run records (the fetch history), keyed by job id.
    case runs

    /// The record kind of an observation family: each family has its topic.
    public init(_ family: ObservationFamily) {
        switch family {
        case .stations: self = .stations
        case .measurements: self = .measurements
        case .transit: self = .transit
        }
    }
}

/// Names and settings of the record topics.
public struct RecordTopics: Sendable, Hashable {
    /// Topic name per kind (`records.stations`...), prefix included.
    public var names: [RecordKind: String]
    /// How long the broker keeps records: the window `replay` can reach.
    public var retentionMillis: Int64
    /// The consumer group of the sinks.
    public var sinkGroup: String

    public init(prefix: String = "", retentionMillis: Int64 = 86_400_000, sinkGroup: String = "metropulse-sink") {
        names = Dictionary(uniqueKeysWithValues: RecordKind.allCases.map { ($0, prefix + "records." + $0.rawValue) })
        self.retentionMillis = retentionMillis
        self.sinkGroup = prefix + sinkGroup
    }

    public func name(_ kind: RecordKind) -> String { names[kind]! }

    public var all: [String] { RecordKind.allCases.map(name) }

    /// The kind a topic carries: `records.stations`, or its bare kind `stations`, with or without
    /// the prefix.
    public func kind(of topic: String) -> RecordKind? {
        if let found = names.first(where: { $0.value == topic })?.key { return found }
        let bare = topic.hasPrefix("records.") ? String(topic.dropFirst("records.".count)) : topic
        return RecordKind(rawValue: bare)
    }

    /// Room for a large transit feed in one message, on the topics and in the producer.
    public static let maxMessageBytes = 64 << 20

    /// Settings of the topics Metropulse creates: retention, gzip as the stored format, and
    /// `maxMessageBytes`.
    public var topicSettings: [(String, String)] {
        [
            ("retention.ms", "\(retentionMillis)"), ("compression.type", "gzip"),
            ("max.message.bytes", "\(Self.maxMessageBytes)"),
        ]
    }
}

/// How far a replay got.
public struct ReplayProgress: Sendable, Hashable {
    /// Messages in the window.
    public var total: Int64
    /// Messages read so far.
    public var read: Int64
    /// Records written to the store.
    public var records: Int
    /// Messages that could not be read as records (reported and skipped).
    public var rejected: Int

    public init(total: Int64, read: Int64, records: Int, rejected: Int) {
        self.total = total
        self.read = read
        self.records = records
        self.rejected = rejected
    }
}

/// One message of a record topic: JSON, with headers naming what it carries.
public struct RecordMessage: Sendable {
    public var kind: RecordKind
    public var key: String
    public var value: [UInt8]
    public var headers: [(String, String)] {
        [("kind", kind.rawValue), ("source-id", sourceID), ("run-id", runID)]
    }
    public var sourceID: String
    public var runID: String
}

/// The envelope every record message carries: which run produced the items, when, and the items.
struct RecordEnvelope<Item: Codable>: Codable {
    var runID: String
    var sourceID: String
    /// When the run fetched the items (its finish time), epoch ms.
    var fetchedAt: Int64
    var items: [Item]
    /// Transit: the items are the source's whole current state.
    var snapshot: Bool?
    /// Transit: the feed's time for the items.
    var observedAt: Int64?
}

/// The transit part of a fetch, as one item.
struct TransitItem: Codable {
    var departures: [Departure] = []
    var vehicles: [VehiclePosition] = []
    var disruptions: [Disruption] = []

    /// The transit entities of `batch`: every kind of the family (a new one fails to compile here).
    init(_ batch: ObservationBatch) {
        for kind in ObservationFamily.transit.kinds {
            switch kind {
            case .departures: departures = batch.departures
            case .vehicles: vehicles = batch.vehicles
            case .disruptions: disruptions = batch.disruptions
            case .stations, .measurements: break
            }
        }
    }

    /// Adds them to `batch`.
    func add(to batch: inout ObservationBatch) {
        batch.departures += departures
        batch.vehicles += vehicles
        batch.disruptions += disruptions
    }
}

/// Encodes run results into record messages and decodes them back into results a store writes.
public enum RecordCodec {
    public struct DecodeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The messages of one run: one per station and per city reading, one for its transit part,
    /// and its run record last.
    public static func messages(for result: RunResult) throws -> [RecordMessage] {
        let encoder = JSONEncoder()
        let run = result.run
        let batch = result.observations
        func envelope<Item: Codable>(_ items: [Item], snapshot: Bool? = nil, observedAt: Int64? = nil) throws
            -> [UInt8]
        {
            Array(
                try encoder.encode(
                    RecordEnvelope(
                        runID: run.id, sourceID: run.sourceID, fetchedAt: run.finishedAt, items: items,
                        snapshot: snapshot, observedAt: observedAt)))
        }
        var messages: [RecordMessage] = []
        messages.reserveCapacity(batch.stations.count + batch.measurements.count + 2)
        // Every family has its messages here: a new one fails to compile until it has.
        for family in batch.families {
            switch family {
            case .stations:
                for station in batch.stations {
                    messages.append(
                        RecordMessage(
                            kind: RecordKind(family), key: "\(station.sourceID)/\(station.stationID)",
                            value: try envelope([station]), sourceID: run.sourceID, runID: run.id))
                }
            case .measurements:
                for reading in batch.measurements {
                    messages.append(
                        RecordMessage(
                            kind: RecordKind(family), key: "\(reading.sourceID)/\(reading.zone)/\(reading.metric)",
                            value: try envelope([reading]), sourceID: run.sourceID, runID: run.id))
                }
            case .transit:
                let item = TransitItem(batch)
                messages.append(
                    RecordMessage(
                        kind: RecordKind(family), key: run.sourceID,
                        value: try envelope(
                            [item], snapshot: batch.transitSnapshot, observedAt: batch.transitObservedAt),
                        sourceID: run.sourceID, runID: run.id))
            }
        }
        if result.recordsRun {
            messages.append(
                RecordMessage(
                    kind: .runs, key: run.jobID, value: try envelope([run]), sourceID: run.sourceID, runID: run.id))
        }
        return messages
    }

    /// The result a store writes for one message.
    public static func result(kind: RecordKind, value: [UInt8]) throws -> RunResult {
        let decoder = JSONDecoder()
        let data = Data(value)
        do {
            switch kind {
            case .runs:
                let envelope = try decoder.decode(RecordEnvelope<TaskRun>.self, from: data)
                guard envelope.items.count == 1 else { throw DecodeError(description: "a run message holds one run") }
                return RunResult(run: envelope.items[0], outcome: nil)
            case .stations:
                let envelope = try decoder.decode(RecordEnvelope<StationObservation>.self, from: data)
                return RunResult.observationsOnly(
                    runID: envelope.runID, sourceID: envelope.sourceID, fetchedAt: envelope.fetchedAt,
                    observations: ObservationBatch(stations: envelope.items))
            case .measurements:
                let envelope = try decoder.decode(RecordEnvelope<CityMeasurement>.self, from: data)
                return RunResult.observationsOnly(
                    runID: envelope.runID, sourceID: envelope.sourceID, fetchedAt: envelope.fetchedAt,
                    observations: ObservationBatch(measurements: envelope.items))
            case .transit:
                let envelope = try decoder.decode(RecordEnvelope<TransitItem>.self, from: data)
                var batch = ObservationBatch(
                    transitSnapshot: envelope.snapshot ?? false, transitObservedAt: envelope.observedAt)
                for item in envelope.items { item.add(to: &batch) }
                return RunResult.observationsOnly(
                    runID: envelope.runID, sourceID: envelope.sourceID, fetchedAt: envelope.fetchedAt,
                    observations: batch)
            }
        } catch let error as DecodingError {
            throw DecodeError(description: "not a \(kind.rawValue) record: \(error)")
        }
    }

    /// Results to write for a batch of decoded messages: the station and city readings of one run
    /// become one result (one write per run instead of per reading). Order does not matter to the
    /// store: raw rows are unique, latest values and transit snapshots only move forward.
    public static func merged(_ results: [RunResult]) -> [RunResult] {
        var merged: [RunResult] = []
        var readingsOf: [String: Int] = [:]
        for result in results {
            guard !result.recordsRun, !result.observations.hasTransit else {
                merged.append(result)
                continue
            }
            if let index = readingsOf[result.run.id] {
                for family in ObservationFamily.allCases where family != .transit {
                    merged[index].observations.append(result.observations, family: family)
                }
            } else {
                readingsOf[result.run.id] = merged.count
                merged.append(result)
            }
        }
        return merged
    }
}
