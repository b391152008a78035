import Foundation

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

/// One entity a connector refused, and why; or, with `field`, one field it dropped from an entity
/// it kept (a vehicle kept without its impossible position).
public struct Rejection: Sendable, Hashable, Codable {
    public var entity: String
    public var reason: String
    /// The field left out of an entity that was kept; nil when the whole entity was refused.
    public var field: String?

    public init(entity: String, reason: String, field: String? = nil) {
        self.entity = entity
        self.reason = reason
        self.field = field
    }

    /// The reason given to an entity a document lists a second time.
    public static let duplicateReason = "listed twice in one document"

    /// Whether the entity was refused whole (not kept without one field).
    public var isEntityRejected: Bool { field == nil }

    /// What a run keeps: at most `sampleLimit` entries, each text at most `textLimit` characters,
    /// so a feed refusing a million entities cannot make its run record large.
    public static let sampleLimit = 50
    public static let textLimit = 200

    public static func sample(_ rejections: [Rejection]) -> [Rejection] {
        rejections.prefix(sampleLimit).map {
            Rejection(
                entity: String($0.entity.prefix(textLimit)), reason: String($0.reason.prefix(textLimit)),
                field: $0.field.map { String($0.prefix(textLimit)) })
        }
    }
}

/// A run's rejections as a backend stores them: JSON text, absent when there are none.
public enum RejectionsColumn {
    public static func encode(_ rejections: [Rejection]) -> String? {
        guard !rejections.isEmpty, let data = try? JSONEncoder().encode(rejections) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// What `encode` wrote; nothing for a missing or unreadable value.
    public static func decode(_ text: String?) -> [Rejection] {
        guard let text, !text.isEmpty else { return [] }
        return (try? JSONDecoder().decode([Rejection].self, from: Data(text.utf8))) ?? []
    }
}
