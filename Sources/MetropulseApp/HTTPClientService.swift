public import AsyncHTTPClient
public import ServiceLifecycle

/// Owns the shared HTTP client and shuts it down after every service that uses it has stopped.
public struct HTTPClientService: Service {
    public let client: HTTPClient

    public init(client: HTTPClient) {
        self.client = client
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
