/// One feed declared in configuration.
public struct SourceDefinition: Sendable, Hashable, Codable {
    public var id: String
    public var kind: SourceKind
    /// Ordered endpoints: the first is tried first, the others are fallbacks.
    public var urls: [String]
    public var intervalMillis: Int64
    public var timeoutMillis: Int64
    /// Higher runs first when the queue is contended.
    public var priority: Int
    public var maxAttempts: Int
    public var tags: [String: String]
    public var enabled: Bool
    /// How long the content may stay the same before the feed counts as stale; nil: the default,
    /// five intervals and at least five minutes (`FeedHealth.staleAfterMillis`).
    public var staleAfterMillis: Int64?

    public init(
        id: String,
        kind: SourceKind,
        urls: [String],
        intervalMillis: Int64 = 60_000,
        timeoutMillis: Int64 = 10_000,
        priority: Int = 0,
        maxAttempts: Int = 5,
        tags: [String: String] = [:],
        enabled: Bool = true,
        staleAfterMillis: Int64? = nil
    ) {
        self.id = id
        self.kind = kind
        self.urls = urls
        self.intervalMillis = intervalMillis
        self.timeoutMillis = timeoutMillis
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.tags = tags
        self.enabled = enabled
        self.staleAfterMillis = staleAfterMillis
    }
}

/// The connector that reads a source.
public enum SourceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case gbfs
}
