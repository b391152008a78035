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
    /// The source's city (its `city` tag), when the catalogue declares it: a format whose
    /// entities carry positions (311 requests, road segments) counts them per zone.
    public var city: City?

    public init(now: Int64, logger: Logger, city: City? = nil) {
        self.now = now
        self.logger = logger
        self.city = city
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

    /// Reads `source` from each of its URLs in order, then from each fallback's URLs, and returns
    /// the first success with the source's station key applied; a connector is given one URL at a
    /// time. When every endpoint fails, the error has the kind (and any `Retry-After`) of the first
    /// failure and a message naming every attempt.
    public func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        var failures: [(SourceEndpoint, FetchError)] = []
        let chain = ([SourceEndpoint(kind: source.kind, urls: source.urls)] + source.fallbacks).flatMap { endpoint in
            endpoint.urls.map { SourceEndpoint(kind: endpoint.kind, urls: [$0]) }
        }
        if chain.isEmpty { throw FetchError(.configuration, "source '\(source.id)' has no url") }
        for endpoint in chain {
            var variant = source
            variant.kind = endpoint.kind
            variant.urls = endpoint.urls
            do {
                guard let connector = connectors[endpoint.kind] else {
                    throw FetchError(.configuration, "no connector for kind '\(endpoint.kind.rawValue)'")
                }
                var result = try await connector.fetch(variant, context: context)
                if source.stationKey == .code { result.observations.keyStationsByCode() }
                if !failures.isEmpty {
                    context.logger.notice(
                        "served by a fallback",
                        metadata: [
                            "source": "\(source.id)", "kind": "\(endpoint.kind.rawValue)", "url": "\(result.url)",
                        ])
                }
                return result
            } catch let error as FetchError {
                failures.append((endpoint, error))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failures.append((endpoint, FetchError(.decode, "\(error)")))
            }
        }
        guard failures.count > 1, var first = failures.first?.1 else { throw failures[0].1 }
        first.message = failures.map { "\($0.0.kind.rawValue): \($0.1.description)" }.joined(separator: "; then ")
        throw first
    }
}
