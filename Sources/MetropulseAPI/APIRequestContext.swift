public import Foundation
public import Hummingbird
public import NIOCore

/// The API's request context: JSON with snake_case keys and sorted keys for stable output.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The name of the API key (or console session) the request was let in with, on routes that need one.
    public var apiKeyName: String?
    /// The client's address (rate limits of clients without a key); nil in in-process tests.
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var responseEncoder: JSONEncoder { APIRequestContext.jsonEncoder() }

    /// The one JSON configuration of every response and stream event: snake_case keys, sorted
    /// keys, and URLs as they are (`http://`, not `http:\/\/`).
    public static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
