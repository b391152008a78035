public import Logging

/// Reads one kind of feed: fetches it and returns normalized observations.
/// Throws `FetchError` with the failure classified; any other error counts as `parse`.
public protocol Connector: Sendable {
    func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult
}

public struct FetchContext: Sendable {
    /// Fetch time, epoch ms.
    public var now: Int64
    public var logger: Logger

    public init(now: Int64, logger: Logger) {
        self.now = now
        self.logger = logger
    }
}

/// The connectors available to a worker, by source kind.
public struct ConnectorRegistry: Sendable {
    private var connectors: [SourceKind: any Connector]

    public init(_ connectors: [SourceKind: any Connector] = [:]) {
        self.connectors = connectors
    }

    public subscript(kind: SourceKind) -> (any Connector)? {
        get { connectors[kind] }
        set { connectors[kind] = newValue }
    }
}
