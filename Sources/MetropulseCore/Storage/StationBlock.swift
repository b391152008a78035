/// Station observations packed for storage: the raw tier keeps one block per run and source (the
/// observations that run added), the latest tier a state and a details block per source
/// (`LatestStations`).
///
/// A block is a format byte, then entries. Every entry starts with its length, so a reader looking
/// for one station skips the others without decoding them. Numbers are varints, so a Vélib'
/// observation takes about 26 bytes against about 120 as a row with a key.
///
/// Entry: length · station id · flags · observed_at · bikes · then, when flagged, mechanical,
/// e-bikes, docks and capacity. Status and occupancy are derived from these, as on ingest.
public enum StationBlock {
    static let rawFormat: UInt8 = 1
    static let stateFormat: UInt8 = 3
    static let detailsFormat: UInt8 = 4

    private static let installed: UInt8 = 1
    private static let renting: UInt8 = 2
    private static let returning: UInt8 = 4
    private static let hasMechanical: UInt8 = 8
    private static let hasEbikes: UInt8 = 16
    private static let hasDocks: UInt8 = 32
    private static let hasCapacity: UInt8 = 64

    /// The raw tier's block for these observations (all of one source).
    public static func encodeRaw(_ stations: [StationObservation]) -> [UInt8] {
        var writer = ByteWriter(capacity: stations.count * 32 + 8)
        writer.byte(rawFormat)
        writer.unsigned(UInt64(stations.count))
        for station in stations {
            let end = writer.reserveLength()
            writeAvailability(station, to: &writer)
            writer.patchLength(end)
        }
        return writer.bytes
    }

    /// Every observation in a raw block.
    public static func decodeRaw(_ bytes: [UInt8], sourceID: String) throws(StationBlockError) -> [StationObservation] {
        try read(bytes, format: rawFormat) { (reader: inout ByteReader, count: Int) throws(StationBlockError) in
            var stations: [StationObservation] = []
            stations.reserveCapacity(count)
            for _ in 0..<count {
                let length = try reader.count()
                let end = reader.offset + length
                stations.append(try readAvailability(&reader, sourceID: sourceID))
                try reader.move(to: end)
            }
            return stations
        }
    }

    /// The observations of one station in a raw block, skipping the others undecoded.
    public static func rawObservations(of stationID: String, in bytes: [UInt8], sourceID: String)
        throws(StationBlockError) -> [StationObservation]
    {
        let wanted = Array(stationID.utf8)
        return try read(bytes, format: rawFormat) { (reader: inout ByteReader, count: Int) throws(StationBlockError) in
            var found: [StationObservation] = []
            for _ in 0..<count {
                let length = try reader.count()
                let start = reader.offset
                if try reader.textEquals(wanted) {
                    try reader.move(to: start)
                    found.append(try readAvailability(&reader, sourceID: sourceID))
                }
                try reader.move(to: start + length)
            }
            return found
        }
    }

    /// Reads a block's header and hands the reader, positioned at the first entry, to `body`.
    static func read<T>(
        _ bytes: [UInt8], format: UInt8,
        _ body: (inout ByteReader, Int) throws(StationBlockError) -> T
    ) throws(StationBlockError) -> T {
        do {
            return try bytes.withUnsafeBytes { buffer in
                var reader = ByteReader(buffer)
                let found = try reader.byte()
                guard found == format else { throw StationBlockError.unknownFormat(found) }
                return try body(&reader, try reader.count())
            }
        } catch let error as StationBlockError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }

    static func writeAvailability(_ s: StationObservation, to writer: inout ByteWriter) {
        writer.text(s.stationID)
        var flags: UInt8 = 0
        if s.isInstalled { flags |= installed }
        if s.isRenting { flags |= renting }
        if s.isReturning { flags |= returning }
        if s.mechanicalAvailable != nil { flags |= hasMechanical }
        if s.ebikesAvailable != nil { flags |= hasEbikes }
        if s.docksAvailable != nil { flags |= hasDocks }
        if s.capacity != nil { flags |= hasCapacity }
        writer.byte(flags)
        writer.signed(s.observedAt)
        writer.signed(s.bikesAvailable)
        if let value = s.mechanicalAvailable { writer.signed(value) }
        if let value = s.ebikesAvailable { writer.signed(value) }
        if let value = s.docksAvailable { writer.signed(value) }
        if let value = s.capacity { writer.signed(value) }
    }

    static func readAvailability(_ reader: inout ByteReader, sourceID: String) throws(StationBlockError)
        -> StationObservation
    {
        let stationID = try reader.text()
        let flags = try reader.byte()
        let observedAt = try reader.signed()
        let bikes = try reader.int()
        let mechanical = flags & hasMechanical != 0 ? try reader.int() : nil
        let ebikes = flags & hasEbikes != 0 ? try reader.int() : nil
        let docks = flags & hasDocks != 0 ? try reader.int() : nil
        let capacity = flags & hasCapacity != 0 ? try reader.int() : nil
        return StationObservation(
            sourceID: sourceID, stationID: stationID, capacity: capacity, bikesAvailable: bikes,
            mechanicalAvailable: mechanical, ebikesAvailable: ebikes, docksAvailable: docks,
            isInstalled: flags & installed != 0, isRenting: flags & renting != 0, isReturning: flags & returning != 0,
            observedAt: observedAt)
    }
}
