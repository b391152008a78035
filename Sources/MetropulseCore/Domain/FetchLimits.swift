/// What one request of a source may cost and where it may go. A publisher, or whoever controls
/// its DNS or its redirects, cannot make a worker read without end, hold a slot forever, or
/// reach the machine's own network through a feed URL.
public struct FetchLimits: Sendable, Hashable, Codable {
    /// Most bytes read from the wire for one document (the compressed size when compressed).
    public var maxBodyBytes: Int
    /// Most bytes a compressed body may inflate to (a gzip bomb stops here).
    public var maxDecompressedBytes: Int
    /// Redirects followed per request; an `https` URL is never redirected to `http`.
    public var maxRedirects: Int
    /// The longest pause a `Retry-After` may ask for; a longer one is cut to this.
    public var maxRetryAfterMillis: Int64
    /// Whether the source may reach loopback, private (RFC 1918, unique local), link-local and
    /// cloud metadata addresses. Off by default: turn it on for a feed served on the local
    /// network (the demo city's `demo:` URLs are always allowed).
    public var allowPrivateAddresses: Bool

    public init(
        maxBodyBytes: Int = 32 << 20, maxDecompressedBytes: Int = 128 << 20, maxRedirects: Int = 5,
        maxRetryAfterMillis: Int64 = 3_600_000, allowPrivateAddresses: Bool = false
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxDecompressedBytes = maxDecompressedBytes
        self.maxRedirects = maxRedirects
        self.maxRetryAfterMillis = maxRetryAfterMillis
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    /// The limits with private addresses allowed (feeds on the local network, tests).
    public static var local: FetchLimits { FetchLimits(allowPrivateAddresses: true) }
}
