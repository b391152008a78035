public import MetropulseCore

/// The connectors Metropulse ships, each with its description: the one list the runtime builds
/// its registry from, `sources validate` checks kinds, formats and keys against, the API groups
/// sources by, and the kinds table of `docs/configuration.md` is generated from
/// (`metropulse sources kinds --markdown`; a test keeps the document equal to it).
public enum StandardConnectors {
    public static let descriptions = ConnectorDescriptions([
        GBFSConnector.description, ODSConnector.description, DocumentConnector.gtfsRealtimeDescription,
        DocumentConnector.siriDescription, DocumentConnector.cityDescription, DocumentConnector.jsonDescription,
    ])

    /// A connector for every description, sharing one HTTP client.
    public static func registry(http: FeedHTTPClient) -> ConnectorRegistry {
        ConnectorRegistry(
            [
                .gbfs: GBFSConnector(http: http), .odsRecords: ODSConnector(http: http),
                .gtfsRT: DocumentConnector.gtfsRealtime(http: http), .siriLite: DocumentConnector.siri(http: http),
                .city: DocumentConnector.city(http: http),
                .json: FormatConnector(
                    standard: DocumentConnector.json(http: http), formats: ["socrata": SocrataConnector(http: http)]),
            ], descriptions: descriptions)
    }
}

extension GBFSConnector {
    public static let description = ConnectorDescription(
        kind: .gbfs,
        summary: "GBFS 1.x–3.x bike share: the discovery document (`gbfs.json`), then station information and status",
        produces: [.stations], keys: ["station_key"])
}

extension ODSConnector {
    public static let description = ConnectorDescription(
        kind: .odsRecords,
        summary:
            "an Opendatasoft Explore v2.1 `records` or `exports/json` dataset of station availability (Paris Vélib')",
        produces: [.stations], keys: ["station_key"])
}

extension DocumentConnector {
    public static let gtfsRealtimeDescription = ConnectorDescription(
        kind: .gtfsRT, summary: "GTFS-Realtime protobuf: trip updates, vehicle positions, service alerts",
        produces: [.transit], keys: ["static_gtfs"])

    public static let siriDescription = ConnectorDescription(
        kind: .siriLite,
        summary:
            "SIRI (XML) or SIRI-Lite (JSON): stop monitoring, estimated timetable, general message, situation exchange, vehicle monitoring",
        produces: [.transit], keys: ["static_gtfs"])

    public static let cityDescription = ConnectorDescription(
        kind: .city, summary: "city sensors and models for one zone (the `zone` tag, else the source id)",
        produces: [.measurements],
        formats: [
            .init("open-meteo", "the Open-Meteo `/v1/forecast` answer (current, else the nearest hourly value)"),
            .init("openaq", "OpenAQ v3 sensor measurements or a location's latest"),
        ], keys: ["format"])

    public static let jsonDescription = ConnectorDescription(
        kind: .json, summary: "any JSON document, read through a declared `mapping` (JSON pointers) into readings",
        produces: [.measurements],
        formats: [.init("socrata", "a Socrata SODA dataset read whole, page by page (`$limit` / `$offset`)")],
        defaultFormatIsNamed: false, keys: ["mapping", "format"])
}
