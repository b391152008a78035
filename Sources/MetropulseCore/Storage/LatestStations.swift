/// The latest observation of every station of one source, as the latest tier keeps it, in two
/// blocks: the state (availability and the run of each station), rewritten by each run that brings
/// something new, and the details (code, name, place), rewritten only when one of them changes.
/// Stations keep their first-seen order in both.
///
/// Merging decides both tiers: an observation newer than the station's latest replaces it and is
/// new raw history; an older one is dropped from both, so raw history stays unique on (source,
/// station, observed_at) and only moves forward.
public struct LatestStations: Sendable {
    public private(set) var stations: [StoredStation] = []
    private var positions: [String: Int] = [:]

    /// What a merge changed.
    public struct Merge: Sendable {
        /// The observations that are new raw history, in order.
        public var fresh: [StationObservation] = []
        /// The state block must be written again.
        public var changed = false
        /// The details block must be written again too.
        public var detailsChanged = false
    }

    public init() {}

    public init(_ stations: [StoredStation]) {
        for station in stations { put(station) }
    }

    public var isEmpty: Bool { stations.isEmpty }

    /// The station with this id, else the one with this code.
    public func station(_ idOrCode: String) -> StoredStation? {
        if let position = positions[idOrCode] { return stations[position] }
        return stations.first { $0.observation.code == idOrCode }
    }

    /// Takes in a run's observations. An observation as old as the latest one (the same feed state
    /// fetched again) refreshes the latest entry and its fetch, but is not history again.
    public mutating func merge(_ observations: [StationObservation], fetchedAt: Int64, runID: String) -> Merge {
        var merge = Merge()
        merge.fresh.reserveCapacity(observations.count)
        for observation in observations {
            let stored = StoredStation(observation: observation, fetchedAt: fetchedAt, runID: runID)
            guard let position = positions[observation.stationID] else {
                put(stored)
                merge.fresh.append(observation)
                merge.changed = true
                merge.detailsChanged = true
                continue
            }
            let current = stations[position].observation
            let newer = observation.observedAt > current.observedAt
            guard newer || (observation.observedAt == current.observedAt && stored != stations[position]) else {
                continue
            }
            if newer { merge.fresh.append(observation) }
            merge.changed = true
            if !merge.detailsChanged, !Self.sameDetails(observation, current) { merge.detailsChanged = true }
            stations[position] = stored
        }
        return merge
    }

    static func sameDetails(_ a: StationObservation, _ b: StationObservation) -> Bool {
        a.code == b.code && a.name == b.name && a.latitude == b.latitude && a.longitude == b.longitude
    }

    private mutating func put(_ station: StoredStation) {
        if let position = positions[station.observation.stationID] {
            stations[position] = station
        } else {
            positions[station.observation.stationID] = stations.count
            stations.append(station)
        }
    }
}

extension LatestStations {
    private static let hasCode: UInt8 = 1
    private static let hasName: UInt8 = 2
    private static let hasLatitude: UInt8 = 4
    private static let hasLongitude: UInt8 = 8

    /// The state block: the runs referred to (id, fetch time) once, then each station's
    /// availability as in a raw block and the index of its run.
    public func encodedState() -> [UInt8] {
        // Neighbouring stations mostly share a run, so the previous one is checked before hashing.
        var runs: [RunKey: Int] = [:]
        var runList: [RunKey] = []
        var runIndex: [Int] = []
        runIndex.reserveCapacity(stations.count)
        var previous: (key: RunKey, index: Int)?
        for station in stations {
            if let previous, previous.key.fetchedAt == station.fetchedAt, previous.key.id == station.runID {
                runIndex.append(previous.index)
                continue
            }
            let key = RunKey(id: station.runID, fetchedAt: station.fetchedAt)
            let index: Int
            if let known = runs[key] {
                index = known
            } else {
                index = runList.count
                runs[key] = index
                runList.append(key)
            }
            runIndex.append(index)
            previous = (key, index)
        }
        var writer = ByteWriter(capacity: stations.count * 32 + runList.count * 48 + 8)
        writer.byte(StationBlock.stateFormat)
        writer.unsigned(UInt64(runList.count))
        for run in runList {
            writer.text(run.id)
            writer.signed(run.fetchedAt)
        }
        writer.unsigned(UInt64(stations.count))
        for (station, run) in zip(stations, runIndex) {
            let end = writer.reserveLength()
            StationBlock.writeAvailability(station.observation, to: &writer)
            writer.unsigned(UInt64(run))
            writer.patchLength(end)
        }
        return writer.bytes
    }

    /// The details block: each station's id, code, name and place, in the state block's order.
    public func encodedDetails() -> [UInt8] {
        var writer = ByteWriter(capacity: stations.count * 64 + 8)
        writer.byte(StationBlock.detailsFormat)
        writer.unsigned(UInt64(stations.count))
        for station in stations {
            let s = station.observation
            let end = writer.reserveLength()
            writer.text(s.stationID)
            var flags: UInt8 = 0
            if s.code != nil { flags |= Self.hasCode }
            if s.name != nil { flags |= Self.hasName }
            if s.latitude != nil { flags |= Self.hasLatitude }
            if s.longitude != nil { flags |= Self.hasLongitude }
            writer.byte(flags)
            if let code = s.code { writer.text(code) }
            if let name = s.name { writer.text(name) }
            if let latitude = s.latitude { writer.double(latitude) }
            if let longitude = s.longitude { writer.double(longitude) }
            writer.patchLength(end)
        }
        return writer.bytes
    }

    private struct RunKey: Hashable {
        var id: String
        var fetchedAt: Int64
    }

    /// Reads the blocks written by `encodedState()` and `encodedDetails()`.
    public init(state: [UInt8], details: [UInt8], sourceID: String) throws(StationBlockError) {
        var stations = try StationBlock.read(state, format: StationBlock.stateFormat) {
            (reader: inout ByteReader, runCount: Int) throws(StationBlockError) -> [StoredStation] in
            var runs: [(id: String, fetchedAt: Int64)] = []
            runs.reserveCapacity(runCount)
            for _ in 0..<runCount { runs.append((try reader.text(), try reader.signed())) }
            let count = try reader.count()
            var stations: [StoredStation] = []
            stations.reserveCapacity(count)
            for _ in 0..<count {
                let length = try reader.count()
                let end = reader.offset + length
                let observation = try StationBlock.readAvailability(&reader, sourceID: sourceID)
                let run = Int(try reader.unsigned())
                guard run < runs.count else { throw .malformed("run index \(run) of \(runs.count)") }
                try reader.move(to: end)
                stations.append(
                    StoredStation(observation: observation, fetchedAt: runs[run].fetchedAt, runID: runs[run].id))
            }
            return stations
        }
        try StationBlock.read(details, format: StationBlock.detailsFormat) {
            (reader: inout ByteReader, count: Int) throws(StationBlockError) in
            guard count == stations.count else {
                throw .malformed("details for \(count) stations, state for \(stations.count)")
            }
            for index in 0..<count {
                let length = try reader.count()
                let end = reader.offset + length
                let stationID = try reader.text()
                guard stationID == stations[index].observation.stationID else {
                    throw .malformed("details of station \(stationID) where the state has another")
                }
                let flags = try reader.byte()
                if flags & Self.hasCode != 0 { stations[index].observation.code = try reader.text() }
                if flags & Self.hasName != 0 { stations[index].observation.name = try reader.text() }
                if flags & Self.hasLatitude != 0 { stations[index].observation.latitude = try reader.double() }
                if flags & Self.hasLongitude != 0 { stations[index].observation.longitude = try reader.double() }
                try reader.move(to: end)
            }
        }
        self.init(stations)
    }
}
