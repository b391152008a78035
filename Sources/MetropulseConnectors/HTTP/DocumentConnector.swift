public import MetropulseCore

/// A connector for feeds served as one document per run (GTFS-Realtime, SIRI): fetch with the
/// source's headers and revalidation (`ETag` / `Last-Modified`; a `304` is an unchanged run),
/// then parse into a batch.
public struct DocumentConnector: Connector {
    /// What a parser returns: the batch, the rejected entities, the feed's own time (epoch ms).
    public typealias Parsed = (batch: ObservationBatch, rejected: [Rejection], feedTimestamp: Int64?)

    private let http: FeedHTTPClient
    private let copies = LastCopies()
    private let parse: @Sendable (_ body: [UInt8], _ source: SourceDefinition, _ context: FetchContext) throws -> Parsed

    public init(
        http: FeedHTTPClient,
        parse:
            @escaping @Sendable (_ body: [UInt8], _ source: SourceDefinition, _ context: FetchContext) throws -> Parsed
    ) {
        self.http = http
        self.parse = parse
    }

    /// GTFS-Realtime: a `FULL_DATASET` feed replaces the source's departures, vehicles and
    /// disruptions; a `DIFFERENTIAL` one updates them.
    public static func gtfsRealtime(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, context in
            let feed = try GTFSRealtimeParser.parse(body, sourceID: source.id, fetchedAt: context.now)
            return (feed.batch, feed.rejected, feed.timestamp)
        }
    }

    /// SIRI or SIRI-Lite (XML or JSON, told apart by the body): a delivery is the source's whole
    /// current transit state.
    public static func siri(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, context in
            let delivery = try SIRIParser.parse(body, sourceID: source.id, fetchedAt: context.now)
            return (delivery.batch, delivery.rejected, delivery.timestamp)
        }
    }

    /// City sensors and models, by `format` (`cityDescription` lists them): a reading's zone is the
    /// source's `zone` tag, else the city zone of its position, else the source id.
    public static func city(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, context in
            let zone = source.tags["zone"] ?? source.id
            switch Self.cityDescription.format(of: source) {
            case "open-meteo":
                let reading = try OpenMeteoParser.parse(body, sourceID: source.id, zone: zone, fetchedAt: context.now)
                return (ObservationBatch(measurements: reading.measurements), [], reading.time)
            case "openaq":
                let result = try OpenAQParser.parse(body, sourceID: source.id, zone: zone, fetchedAt: context.now)
                return (ObservationBatch(measurements: result.measurements), result.rejected, result.newest)
            case "eia":
                let result = try EIAParser.parse(
                    body, sourceID: source.id, zone: source.tags["zone"],
                    respondentZones: EIAParser.respondentZones(source.tags["respondent_zones"]))
                return (ObservationBatch(measurements: result.measurements), result.rejected, result.newest)
            case "socrata-311", "open311":
                let result = try ServiceRequestParser.parse(
                    body, shape: source.format == "open311" ? .open311 : .socrata, sourceID: source.id,
                    zone: source.tags["zone"], city: context.city, timezone: source.tags["timezone"],
                    fetchedAt: context.now)
                // The feed's own time is its newest request: it stands still while no request
                // arrives, which is what health's learned activity judges.
                return (
                    ObservationBatch(measurements: result.measurements), result.rejected,
                    result.requests.map(\.createdAt).max()
                )
            case "here-flow":
                let result = try TrafficParsers.hereFlow(
                    body, sourceID: source.id, zone: source.tags["zone"], city: context.city, fetchedAt: context.now)
                return (ObservationBatch(measurements: result.measurements), result.rejected, result.time)
            case "tomtom-incidents":
                let result = try TrafficParsers.tomtomIncidents(
                    body, sourceID: source.id, zone: source.tags["zone"], city: context.city, fetchedAt: context.now)
                return (ObservationBatch(measurements: result.measurements), result.rejected, result.time)
            case let other:
                let supported = Self.cityDescription.formatNames.joined(separator: ", ")
                throw FetchError(
                    .configuration, "city format '\(other ?? "")' is not supported (supported: \(supported))")
            }
        }
    }

    /// Any JSON document through the source's declared `mapping`.
    public static func json(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, context in
            guard let mapping = source.mapping else {
                throw FetchError(.configuration, "source '\(source.id)' of kind json has no mapping")
            }
            let result = try JSONMappingParser.parse(
                body, mapping: mapping, sourceID: source.id, fetchedAt: context.now)
            return (ObservationBatch(measurements: result.measurements), result.rejected, result.newest)
        }
    }

    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        guard let url = source.urls.first else { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        let key = "\(source.id) \(url)"
        let last = await copies.copy(key)
        let document = try await http.get(
            try source.requestURL(url), timeoutMillis: source.timeoutMillis, limits: source.limits,
            ifChangedSince: last?.validators,
            headers: try source.requestHeaders())
        if document.notModified, let last {
            return FetchResult(
                observations: ObservationBatch(), url: url, httpStatus: document.status, bytes: 0,
                contentHash: last.contentHash, feedTimestamp: last.feedTimestamp, unchanged: true)
        }
        let parsed = try parse(document.body, source, context)
        let hash = ContentHash.fnv1a64(document.body)
        await copies.store(
            LastCopies.Copy(validators: document.validators, contentHash: hash, feedTimestamp: parsed.feedTimestamp),
            for: key)
        return FetchResult(
            observations: parsed.batch, url: url, httpStatus: document.status, bytes: document.body.count,
            contentHash: hash, feedTimestamp: parsed.feedTimestamp, rejected: parsed.rejected)
    }
}

/// What a connector keeps of its last copy of each document to answer a `304`.
actor LastCopies {
    struct Copy: Sendable {
        var validators: FeedHTTPClient.Validators
        var contentHash: String
        var feedTimestamp: Int64?
    }

    private var copies: [String: Copy] = [:]

    func copy(_ key: String) -> Copy? { copies[key] }

    func store(_ copy: Copy, for key: String) {
        copies[key] = copy.validators.isEmpty ? nil : copy
    }
}
