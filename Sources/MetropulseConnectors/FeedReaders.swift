public import MetropulseCore

/// Every reader a feed's bytes reach, by name, with the entry point it is reached through: what
/// the fuzz targets (`scripts/fuzz`) and the hostile-document tests feed. A reader may throw on
/// any input; it must never trap, hang or exhaust the stack, and whatever it returns must pass
/// `ObservationBatch.enforceLimits` without trapping.
public enum FeedReaders {
    public typealias Read = @Sendable ([UInt8]) throws -> ObservationBatch

    static let fetchedAt: Int64 = 1_760_778_679_000

    /// The readers and their names (also the fuzz targets' names).
    public static let all: [(name: String, read: Read)] = [
        (
            "gbfs",
            { body in
                // Discovery, information, vehicle types and status all read the same bytes.
                _ = try? GBFSParser.discovery(body)
                _ = try? GBFSParser.vehicleTypes(body)
                _ = try? GBFSParser.vehicleStatus(body)
                let catalog = try? GBFSParser.stationInformation(body)
                return ObservationBatch(
                    stations: try GBFSParser.stationStatus(body, sourceID: "f", catalog: catalog, fetchedAt: fetchedAt)
                        .stations)
            }
        ),
        (
            "json-cursor",
            { body in
                _ = try GBFSStatusReader.read(body)
                return ObservationBatch()
            }
        ),
        (
            "opendatasoft",
            { body in ObservationBatch(stations: try ODSParser.page(body, sourceID: "f", fetchedAt: fetchedAt).stations)
            }
        ),
        ("gtfs-rt", { body in try GTFSRealtimeParser.parse(body, sourceID: "f", fetchedAt: fetchedAt).batch }),
        ("siri", { body in try SIRIParser.parse(body, sourceID: "f", fetchedAt: fetchedAt).batch }),
        (
            "open-meteo",
            { body in
                ObservationBatch(
                    measurements: try OpenMeteoParser.parse(body, sourceID: "f", zone: "z", fetchedAt: fetchedAt)
                        .measurements)
            }
        ),
        (
            "openaq",
            { body in
                ObservationBatch(
                    measurements: try OpenAQParser.parse(body, sourceID: "f", zone: "z", fetchedAt: fetchedAt)
                        .measurements)
            }
        ),
        (
            "json-mapping",
            { body in
                let mapping = JSONMapping(
                    records: "/records", id: "/id", timestamp: "/time",
                    fields: ["value": "/value", "deep": "/a/b/0/c"],
                    latitude: "/lat", longitude: "/lon")
                return ObservationBatch(
                    measurements: try JSONMappingParser.parse(
                        body, mapping: mapping, sourceID: "f", fetchedAt: fetchedAt
                    )
                    .measurements)
            }
        ),
        (
            "csv",
            { body in
                _ = try CSVTable(body, file: "stops.txt")
                return ObservationBatch()
            }
        ),
        (
            "static-gtfs",
            { body in
                _ = try GTFSStaticParser.parse(body, limits: .init(maxEntries: 100, maxExtractedBytes: 16 << 20))
                return ObservationBatch()
            }
        ),
    ]

    /// Reads `body` with the named reader, then applies the store's limits to what it returned.
    /// Throws what the reader throws; nil for an unknown name.
    public static func run(_ name: String, _ body: [UInt8]) throws -> [Rejection]? {
        guard let reader = all.first(where: { $0.name == name }) else { return nil }
        var batch = try reader.read(body)
        return batch.enforceLimits()
    }
}
