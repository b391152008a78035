public import MetropulseCore

/// A connector for feeds served as one document per run (GTFS-Realtime, SIRI): fetch with the
/// source's headers and revalidation (`ETag` / `Last-Modified`; a `304` is an unchanged run),
/// then parse into a batch.
public struct DocumentConnector: Connector {
    /// What a parser returns: the batch, the rejected entities, the feed's own time (epoch ms).
    public typealias Parsed = (batch: ObservationBatch, rejected: [Rejection], feedTimestamp: Int64?)

    private let http: FeedHTTPClient
    private let copies = LastCopies()
    private let parse: @Sendable (_ body: [UInt8], _ source: SourceDefinition, _ fetchedAt: Int64) throws -> Parsed

    public init(
        http: FeedHTTPClient,
        parse: @escaping @Sendable (_ body: [UInt8], _ source: SourceDefinition, _ fetchedAt: Int64) throws -> Parsed
    ) {
        self.http = http
        self.parse = parse
    }

    /// GTFS-Realtime: a `FULL_DATASET` feed replaces the source's departures, vehicles and
    /// disruptions; a `DIFFERENTIAL` one updates them.
    public static func gtfsRealtime(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, fetchedAt in
            let feed = try GTFSRealtimeParser.parse(body, sourceID: source.id, fetchedAt: fetchedAt)
            return (feed.batch, feed.rejected, feed.timestamp)
        }
    }

    /// SIRI or SIRI-Lite (XML or JSON, told apart by the body): a delivery is the source's whole
    /// current transit state.
    public static func siri(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, fetchedAt in
            let delivery = try SIRIParser.parse(body, sourceID: source.id, fetchedAt: fetchedAt)
            return (delivery.batch, delivery.rejected, delivery.timestamp)
        }
    }

    /// City sensors and models for one zone (the source's `zone` tag, else its id), by `format`:
    /// `open-meteo` (the `/v1/forecast` answer: `current`, legacy `current_weather`, else the hourly
    /// value nearest the fetch time) or `openaq` (v3 sensor measurements or location latest).
    public static func city(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, fetchedAt in
            let zone = source.tags["zone"] ?? source.id
            switch Self.cityDescription.format(of: source) {
            case "open-meteo":
                let reading = try OpenMeteoParser.parse(body, sourceID: source.id, zone: zone, fetchedAt: fetchedAt)
                return (ObservationBatch(measurements: reading.measurements), [], reading.time)
            case "openaq":
                let result = try OpenAQParser.parse(body, sourceID: source.id, zone: zone, fetchedAt: fetchedAt)
                return (ObservationBatch(measurements: result.measurements), result.rejected, result.newest)
            case let other:
                let supported = Self.cityDescription.formatNames.joined(separator: ", ")
                throw FetchError(
                    .configuration, "city format '\(other ?? "")' is not supported (supported: \(supported))")
            }
        }
    }

    /// Any JSON document through the source's declared `mapping`.
    public static func json(http: FeedHTTPClient) -> DocumentConnector {
        DocumentConnector(http: http) { body, source, fetchedAt in
            guard let mapping = source.mapping else {
                throw FetchError(.configuration, "source '\(source.id)' of kind json has no mapping")
            }
            let result = try JSONMappingParser.parse(body, mapping: mapping, sourceID: source.id, fetchedAt: fetchedAt)
            return (ObservationBatch(measurements: result.measurements), result.rejected, result.newest)
        }
    }

    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        guard let url = source.urls.first else { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        let key = "\(source.id) \(url)"
        let last = await copies.copy(key)
        let document = try await http.get(
            url, timeoutMillis: source.timeoutMillis, limits: source.limits, ifChangedSince: last?.validators,
            headers: try source.requestHeaders())
        if document.notModified, let last {
            return FetchResult(
                observations: ObservationBatch(), url: url, httpStatus: document.status, bytes: 0,
                contentHash: last.contentHash, feedTimestamp: last.feedTimestamp, unchanged: true)
        }
        let parsed = try parse(document.body, source, context.now)
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
