/// What a connector returns for one successful fetch.
public struct FetchResult: Sendable {
    public var observations: ObservationBatch
    /// The endpoint that served the data (the first URL, or a fallback).
    public var url: String
    /// nil when no request was made (the copy held was still within the feed's ttl).
    public var httpStatus: Int?
    public var bytes: Int
    public var contentHash: String
    /// The feed's own timestamp (GBFS `last_updated`), epoch milliseconds.
    public var feedTimestamp: Int64?
    /// Entities the connector dropped, with the reason; counted, not fatal.
    public var rejected: [Rejection]
    /// Nothing new since the last fetch (`304`, or still within the feed's `ttl`); `observations`
    /// is empty and `contentHash` / `feedTimestamp` are those of the copy already stored.
    public var unchanged: Bool

    public init(
        observations: ObservationBatch,
        url: String,
        httpStatus: Int?,
        bytes: Int,
        contentHash: String,
        feedTimestamp: Int64?,
        rejected: [Rejection] = [],
        unchanged: Bool = false
    ) {
        self.observations = observations
        self.url = url
        self.httpStatus = httpStatus
        self.bytes = bytes
        self.contentHash = contentHash
        self.feedTimestamp = feedTimestamp
        self.rejected = rejected
        self.unchanged = unchanged
    }
}

/// One entity a connector refused, and why.
public struct Rejection: Sendable, Hashable, Codable {
    public var entity: String
    public var reason: String

    public init(entity: String, reason: String) {
        self.entity = entity
        self.reason = reason
    }
}
