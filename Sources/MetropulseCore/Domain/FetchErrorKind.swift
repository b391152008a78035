/// Why a fetch failed, recorded on every failed run.
public enum FetchErrorKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The host name did not resolve.
    case dns
    /// No connection could be made (refused, unreachable, TLS handshake failed).
    case connect
    /// The connection failed after it was made (reset, closed mid-body).
    case network
    case timeout
    /// The server answered with a non-success HTTP status (or asked to wait: 429, `Retry-After`).
    case httpStatus = "http_status"
    /// The body could not be decoded in the expected format.
    case decode
    /// The body decoded but breaks the format's rules (missing feeds, impossible values).
    case validation
    /// The source's declaration cannot be run (unknown kind, bad URL).
    case configuration
    /// Not requested, or not followed: the address is one the source may not reach (loopback,
    /// private, link-local, metadata), or a redirect broke the rules (`https` to `http`, too many).
    case refused
    /// The body was larger than the source's limits (on the wire or once decompressed).
    case tooLarge = "too_large"
    /// Writing the results failed.
    case storage
    /// The attempt finished after its lease had passed to a later attempt of the same task; its
    /// observations were dropped so the task's slot is written once, by the later attempt.
    case leaseLost = "lease_lost"
}

extension FetchErrorKind {
    /// Reads a stored kind; rows written before the `decode` rename said `parse`.
    public static func stored(_ text: String?) -> FetchErrorKind? {
        guard let text else { return nil }
        return text == "parse" ? .decode : FetchErrorKind(rawValue: text)
    }
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
