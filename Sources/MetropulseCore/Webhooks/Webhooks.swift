import Foundation

/// An endpoint that is told when something happens: a URL, the event types it takes, filters and
/// thresholds, and the secret its deliveries are signed with (Standard Webhooks).
public struct WebhookEndpoint: Sendable, Hashable, Codable {
    public var id: String
    public var url: String
    public var description: String?
    /// `WebhookEventType` raw values.
    public var events: [String]
    /// Only events of these sources (stations, disruptions, source health); every source when nil.
    public var sources: [String]?
    /// Only these station ids.
    public var stations: [String]?
    /// Only disruptions naming one of these lines (route ids).
    public var lines: [String]?
    /// Only alerts of these cities and zones.
    public var cities: [String]?
    public var zones: [String]?
    /// A station is empty at this many bikes or fewer (default 0), full at this many free docks
    /// or fewer (default 0).
    public var emptyAtMost: Int
    public var fullAtMost: Int
    /// `whsec_` and the base64 of the key's bytes.
    public var secret: String
    public var enabled: Bool
    /// Why it was disabled (by hand, or after failing for a day).
    public var disabledReason: String?
    /// Since when every delivery attempt failed; nil after a success.
    public var failingSince: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(
        id: String, url: String, description: String? = nil, events: [String], sources: [String]? = nil,
        stations: [String]? = nil, lines: [String]? = nil, cities: [String]? = nil, zones: [String]? = nil,
        emptyAtMost: Int = 0, fullAtMost: Int = 0, secret: String, enabled: Bool = true,
        disabledReason: String? = nil, failingSince: Int64? = nil, createdAt: Int64, updatedAt: Int64
    ) {
        self.id = id
        self.url = url
        self.description = description
        self.events = events
        self.sources = sources
        self.stations = stations
        self.lines = lines
        self.cities = cities
        self.zones = zones
        self.emptyAtMost = emptyAtMost
        self.fullAtMost = fullAtMost
        self.secret = secret
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.failingSince = failingSince
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// A new random endpoint id and secret.
    public static func newID() -> String { "ep_" + randomHex(12) }
    public static func newSecret() -> String {
        "whsec_" + Data((0..<24).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }
    static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    public func takes(_ type: WebhookEventType) -> Bool { enabled && events.contains(type.rawValue) }
}

/// What a webhook can be told.
public enum WebhookEventType: String, Sendable, Hashable, Codable, CaseIterable {
    /// A station's bikes fell to the endpoint's `empty_at_most`, or its free docks to `full_at_most`.
    case stationEmpty = "station.empty"
    case stationFull = "station.full"
    /// A disruption appeared in its source's feed, or left it.
    case disruptionStarted = "disruption.started"
    case disruptionEnded = "disruption.ended"
    /// A City Live alert opened (from pending or not there), or resolved.
    case alertOpened = "alert.opened"
    case alertResolved = "alert.resolved"
    /// A source's health became stale or down, or live again after either.
    case sourceStale = "source.stale"
    case sourceDown = "source.down"
    case sourceLive = "source.live"
    /// Sent by hand (`POST /api/webhooks/{id}/test`).
    case test = "webhook.test"
}

/// The body of a delivery: `{"type", "timestamp", "data"}` as Standard Webhooks suggests.
public struct WebhookEvent: Sendable, Hashable, Codable {
    public struct Payload: Sendable, Hashable, Codable {
        public var source: String?
        public var station: String?
        public var name: String?
        public var bikes: Int?
        public var docks: Int?
        public var capacity: Int?
        public var latitude: Double?
        public var longitude: Double?
        public var disruption: String?
        public var header: String?
        public var lines: [String]?
        public var effect: String?
        public var city: String?
        public var zone: String?
        public var alert: String?
        public var kind: String?
        public var severity: String?
        public var message: String?
        public var recommendation: String?
        public var value: Double?
        public var state: String?
        public var reason: String?
        /// When what the event tells was observed (epoch ms), and the run that fetched it.
        public var observedAt: Int64?
        public var run: String?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case source, station, name, bikes, docks, capacity, latitude, longitude, disruption, header, lines,
                effect, city, zone, alert, kind, severity, message, recommendation, value, state, reason
            case observedAt = "observed_at"
            case run
        }
    }

    public var type: String
    /// ISO 8601.
    public var timestamp: String
    public var data: Payload

    public init(type: WebhookEventType, at: Int64, data: Payload) {
        self.type = type.rawValue
        self.timestamp = Timestamp.iso8601(at)
        self.data = data
    }
}

/// One event for one endpoint, kept until delivered or given up, with every attempt.
public struct WebhookDelivery: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting for its next attempt.
        case pending
        /// A 2xx answer.
        case succeeded
        /// Given up: a day of failed attempts.
        case failed
    }

    public struct Attempt: Sendable, Hashable, Codable {
        public var number: Int
        public var at: Int64
        public var latencyMillis: Int64
        public var statusCode: Int?
        public var error: String?
        public var manual: Bool?

        public init(number: Int, at: Int64, latencyMillis: Int64, statusCode: Int?, error: String?, manual: Bool? = nil)
        {
            self.number = number
            self.at = at
            self.latencyMillis = latencyMillis
            self.statusCode = statusCode
            self.error = error
            self.manual = manual
        }

        public var succeeded: Bool { statusCode.map { (200..<300).contains($0) } ?? false }
    }

    /// The `webhook-id` header: the same on every attempt, so receivers can drop repeats.
    public var id: String
    public var endpointID: String
    public var type: String
    /// The signed body, exactly as sent.
    public var body: String
    public var status: Status
    public var createdAt: Int64
    public var nextAttemptAt: Int64
    /// Attempts stop after this (a day after the event, or after a redelivery by hand).
    public var expiresAt: Int64
    public var attempts: [Attempt]

    public init(
        id: String = WebhookDelivery.newID(), endpointID: String, type: String, body: String,
        status: Status = .pending, createdAt: Int64, nextAttemptAt: Int64? = nil, expiresAt: Int64? = nil,
        attempts: [Attempt] = []
    ) {
        self.id = id
        self.endpointID = endpointID
        self.type = type
        self.body = body
        self.status = status
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt ?? createdAt
        self.expiresAt = expiresAt ?? createdAt + WebhookDelivery.retryWindowMillis
        self.attempts = attempts
    }

    public static let retryWindowMillis: Int64 = 86_400_000
    public static func newID() -> String { "msg_" + WebhookEndpoint.randomHex(12) }

    /// The delay before attempt `number + 1` after `number` failed: `base` × 4^(number − 1), at
    /// most 10 hours, with ±10% jitter (5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 5.7 h, then
    /// every 10 h with the default base).
    public static func retryDelay(afterAttempt number: Int, baseMillis: Int64) -> Int64 {
        let exponent = Double(max(0, number - 1))
        let delay = min(Double(max(1, baseMillis)) * pow(4, exponent), 10 * 3_600_000)
        return Int64(delay * Double.random(in: 0.9...1.1))
    }
}

/// What a round of event detection decided, written in one transaction: deliveries for the
/// events, and the conditions they moved from (so that a restart neither repeats nor loses one).
public struct WebhookChanges: Sendable, Hashable {
    public struct Condition: Sendable, Hashable {
        public var endpointID: String
        public var key: String
        /// nil removes the condition.
        public var value: String?

        public init(endpointID: String, key: String, value: String?) {
            self.endpointID = endpointID
            self.key = key
            self.value = value
        }
    }

    public var conditions: [Condition]
    public var deliveries: [WebhookDelivery]

    public init(conditions: [Condition] = [], deliveries: [WebhookDelivery] = []) {
        self.conditions = conditions
        self.deliveries = deliveries
    }

    public var isEmpty: Bool { conditions.isEmpty && deliveries.isEmpty }
}
