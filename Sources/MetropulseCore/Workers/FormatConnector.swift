/// Picks the connector for a source by its `format`, for a kind whose formats are read in
/// different ways (a `json` source with `format: socrata` is paged; any other is one document).
public struct FormatConnector: Connector {
    private let standard: any Connector
    private let formats: [String: any Connector]

    public init(standard: any Connector, formats: [String: any Connector]) {
        self.standard = standard
        self.formats = formats
    }

    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        try await (source.format.flatMap { formats[$0] } ?? standard).fetch(source, context: context)
    }
}
