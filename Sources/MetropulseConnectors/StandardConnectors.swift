public import MetropulseCore

/// The connectors Metropulse ships, each with its description: the one list the runtime builds
/// its registry from, `sources validate` checks kinds, formats and keys against, the API groups
/// sources by, and the kinds table of `docs/configuration.md` is generated from
/// (`metropulse sources kinds --markdown`; a test keeps the document equal to it).
public enum StandardConnectors {
    /// Each connector with its description, in documentation order: the one list.
    static let all: [(description: ConnectorDescription, make: @Sendable (FeedHTTPClient) -> any Connector)] = [
        (GBFSConnector.description, { GBFSConnector(http: $0) }),
        (ODSConnector.description, { ODSConnector(http: $0) }),
        (DocumentConnector.gtfsRealtimeDescription, { DocumentConnector.gtfsRealtime(http: $0) }),
        (DocumentConnector.siriDescription, { DocumentConnector.siri(http: $0) }),
        (DocumentConnector.cityDescription, { DocumentConnector.city(http: $0) }),
        (
            DocumentConnector.jsonDescription,
            {
                FormatConnector(
                    standard: DocumentConnector.json(http: $0), formats: ["socrata": SocrataConnector(http: $0)])
            }
        ),
    ]

    public static let descriptions = ConnectorDescriptions(all.map(\.description))

    /// A connector for every description, sharing one HTTP client.
    public static func registry(http: FeedHTTPClient) -> ConnectorRegistry {
        ConnectorRegistry(Dictionary(uniqueKeysWithValues: all.map { ($0.description.kind, $0.make(http)) }))
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
        kind: .city,
        summary: "city sensors, models and city APIs per zone (the `zone` tag, else the zone of each position)",
        produces: [.measurements],
        formats: [
            .init("open-meteo", "the Open-Meteo `/v1/forecast` answer (current, else the nearest hourly value)"),
            .init("openaq", "OpenAQ v3 sensor measurements or a location's latest"),
            .init(
                "eia",
                "EIA API v2 hourly electricity data (region data: demand, forecast, generation, interchange; or generation by fuel type)"
            ),
            .init("socrata-311", "311 service requests from a Socrata dataset (NYC's columns), counted per zone"),
            .init("open311", "311 service requests in the Open311 GeoReport v2 shape, counted per zone"),
            .init(
                "here-flow", "HERE Traffic flow (`RWS`/`FI`/`CF`): speed, free flow, jam factor, congestion per zone"),
            .init(
                "tomtom-incidents", "TomTom Traffic incident details: incidents, major ones, closures, delay per zone"),
        ], keys: ["format", "api_key_param"])

    public static let jsonDescription = ConnectorDescription(
        kind: .json, summary: "any JSON document, read through a declared `mapping` (JSON pointers) into readings",
        produces: [.measurements],
        formats: [.init("socrata", "a Socrata SODA dataset read whole, page by page (`$limit` / `$offset`)")],
        defaultFormatIsNamed: false, keys: ["mapping", "format", "api_key_param"])
}
