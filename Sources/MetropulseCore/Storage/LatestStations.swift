/// The latest observation of every station of one source, as the latest tier keeps it: one block
/// per source, rewritten by each run that brings something new. Stations keep their first-seen
/// order. Merging decides both tiers: an observation newer than the station's latest replaces it
/// and is new raw history; an older one is dropped from both, so raw history stays unique on
/// (source, station, observed_at) and only moves forward.
public struct LatestStations: Sendable {
    public private(set) var stations: [StoredStation] = []
    private var positions: [String: Int] = [:]

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

    /// Takes in a run's observations; returns the ones that are new raw history, in order.
    /// An observation as old as the latest one (the same feed state fetched again) refreshes the
    /// latest row's descriptive fields and its fetch, but is not history again.
    public mutating func merge(_ observations: [StationObservation], fetchedAt: Int64, runID: String)
        -> (fresh: [StationObservation], changed: Bool)
    {
        var fresh: [StationObservation] = []
        fresh.reserveCapacity(observations.count)
        var changed = false
        for observation in observations {
            let stored = StoredStation(observation: observation, fetchedAt: fetchedAt, runID: runID)
            guard let position = positions[observation.stationID] else {
                put(stored)
                fresh.append(observation)
                changed = true
                continue
            }
            let current = stations[position]
            if observation.observedAt > current.observation.observedAt {
                stations[position] = stored
                fresh.append(observation)
                changed = true
            } else if observation.observedAt == current.observation.observedAt, stored != current {
                stations[position] = stored
                changed = true
            }
        }
        return (fresh, changed)
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

    /// The latest tier's block: the runs referred to (id, fetch time) once, then each station's
    /// availability as in a raw block, its descriptive fields and the index of its run.
    public func encoded() -> [UInt8] {
        // Runs referred to, each (id, fetch time) once. Neighbouring stations mostly share a run,
        // so the previous one is checked before hashing.
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
        var writer = ByteWriter(capacity: stations.count * 72 + runList.count * 48 + 8)
        writer.byte(StationBlock.latestFormat)
        writer.unsigned(UInt64(runList.count))
        for run in runList {
            writer.text(run.id)
            writer.signed(run.fetchedAt)
        }
        writer.unsigned(UInt64(stations.count))
        for (station, run) in zip(stations, runIndex) {
            let s = station.observation
            let end = writer.reserveLength()
            StationBlock.writeAvailability(s, to: &writer)
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
            writer.unsigned(UInt64(run))
            writer.patchLength(end)
        }
        return writer.bytes
    }

    private struct RunKey: Hashable {
        var id: String
        var fetchedAt: Int64
    }

    /// Reads a block written by `encoded()`.
    public init(decoding bytes: [UInt8], sourceID: String) throws(StationBlockError) {
        let stations = try StationBlock.read(bytes, format: StationBlock.latestFormat) {
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
                var s = try StationBlock.readAvailability(&reader, sourceID: sourceID)
                let flags = try reader.byte()
                if flags & Self.hasCode != 0 { s.code = try reader.text() }
                if flags & Self.hasName != 0 { s.name = try reader.text() }
                if flags & Self.hasLatitude != 0 { s.latitude = try reader.double() }
                if flags & Self.hasLongitude != 0 { s.longitude = try reader.double() }
                let run = Int(try reader.unsigned())
                guard run < runs.count else { throw .malformed("run index \(run) of \(runs.count)") }
                try reader.move(to: end)
                stations.append(StoredStation(observation: s, fetchedAt: runs[run].fetchedAt, runID: runs[run].id))
            }
            return stations
        }
        self.init(stations)
    }
}
