/// Why a fetch failed, recorded on every failed run.
public enum FetchErrorKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// DNS resolution or connection failure (refused, reset, unreachable).
    case network
    case timeout
    /// The server answered with a non-success HTTP status.
    case httpStatus = "http_status"
    /// The body could not be decoded in the expected format.
    case parse
    /// The body decoded but breaks the format's rules (missing feeds, impossible values).
    case validation
    /// The source's declaration cannot be run (unknown kind, bad URL).
    case configuration
    /// Writing the results failed.
    case storage
    /// The attempt finished after its lease had passed to a later attempt of the same task; its
    /// observations were dropped so the task's slot is written once, by the later attempt.
    case leaseLost = "lease_lost"
}

/// A classified fetch failure.
public struct FetchError: Error, Sendable, CustomStringConvertible {
    public var kind: FetchErrorKind
    public var message: String
    public var httpStatus: Int?
    /// A server-requested delay before the next attempt (HTTP `Retry-After`).
    public var retryAfterMillis: Int64?

    public init(_ kind: FetchErrorKind, _ message: String, httpStatus: Int? = nil, retryAfterMillis: Int64? = nil) {
        self.kind = kind
        self.message = message
        self.httpStatus = httpStatus
        self.retryAfterMillis = retryAfterMillis
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
