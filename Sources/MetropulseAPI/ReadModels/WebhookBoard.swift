package import Foundation
package import Hummingbird
package import MetropulseCore

/// `/api/webhooks`: endpoints (their secret shown once, at creation), deliveries and attempts.
package struct WebhookBoard: Sendable {
    let environment: APIEnvironment

    package init(_ environment: APIEnvironment) { self.environment = environment }

    package struct EndpointDTO: ResponseCodable, Sendable {
        package var id: String
        package var url: String
        package var description: String?
        package var events: [String]
        package var sources: [String]?
        package var stations: [String]?
        package var lines: [String]?
        package var cities: [String]?
        package var zones: [String]?
        package var emptyAtMost: Int
        package var fullAtMost: Int
        package var enabled: Bool
        package var disabledReason: String?
        package var failingSince: String?
        /// The secret's first characters, to tell secrets apart.
        package var secretHint: String
        /// Only in the answer to its creation (and to `rotate_secret`).
        package var secret: String?
        package var createdAt: String
        package var updatedAt: String
        /// Deliveries waiting for an attempt.
        package var pending: Int?

        init(_ e: WebhookEndpoint, showSecret: Bool = false, pending: Int? = nil) {
            id = e.id
            url = e.url
            description = e.description
            events = e.events
            sources = e.sources
            stations = e.stations
            lines = e.lines
            cities = e.cities
            zones = e.zones
            emptyAtMost = e.emptyAtMost
            fullAtMost = e.fullAtMost
            enabled = e.enabled
            disabledReason = e.disabledReason
            failingSince = e.failingSince.map(Timestamp.iso8601)
            secretHint = String(e.secret.prefix(10)) + "…"
            secret = showSecret ? e.secret : nil
            createdAt = Timestamp.iso8601(e.createdAt)
            updatedAt = Timestamp.iso8601(e.updatedAt)
            self.pending = pending
        }
    }

    package struct EndpointList: ResponseCodable, Sendable {
        package var endpoints: [EndpointDTO]
        /// Every event type an endpoint can take.
        package var eventTypes: [String]
    }

    package struct AttemptDTO: ResponseCodable, Sendable {
        package var number: Int
        package var at: String
        package var latencyMs: Int64
        package var statusCode: Int?
        package var error: String?
    }

    package struct DeliveryDTO: ResponseCodable, Sendable {
        package var id: String
        package var endpointId: String
        package var type: String
        package var status: String
        package var createdAt: String
        package var nextAttemptAt: String?
        package var expiresAt: String
        package var attempts: Int
        package var lastStatusCode: Int?
        package var lastLatencyMs: Int64?
        package var lastError: String?
        package var history: [AttemptDTO]
        /// The body as sent (signed).
        package var payload: String

        init(_ d: WebhookDelivery) {
            id = d.id
            endpointId = d.endpointID
            type = d.type
            status = d.status.rawValue
            createdAt = Timestamp.iso8601(d.createdAt)
            nextAttemptAt = d.status == .pending ? Timestamp.iso8601(d.nextAttemptAt) : nil
            expiresAt = Timestamp.iso8601(d.expiresAt)
            attempts = d.attempts.count
            lastStatusCode = d.attempts.last?.statusCode
            lastLatencyMs = d.attempts.last?.latencyMillis
            lastError = d.attempts.last?.error
            history = d.attempts.map {
                AttemptDTO(
                    number: $0.number, at: Timestamp.iso8601($0.at), latencyMs: $0.latencyMillis,
                    statusCode: $0.statusCode, error: $0.error)
            }
            payload = d.body
        }
    }

    package struct DeliveryList: ResponseCodable, Sendable {
        package var endpoint: String
        package var deliveries: [DeliveryDTO]
    }

    package struct Deleted: ResponseCodable, Sendable {
        package var deleted: String
    }

    /// An endpoint as created or changed: every field optional on change.
    package struct EndpointRequest: Decodable, Sendable {
        package var url: String?
        package var description: String?
        package var events: [String]?
        package var sources: [String]?
        package var stations: [String]?
        package var lines: [String]?
        package var cities: [String]?
        package var zones: [String]?
        package var emptyAtMost: Int?
        package var fullAtMost: Int?
        package var enabled: Bool?
        package var rotateSecret: Bool?

        package init(
            url: String? = nil, description: String? = nil, events: [String]? = nil, sources: [String]? = nil,
            stations: [String]? = nil, lines: [String]? = nil, cities: [String]? = nil, zones: [String]? = nil,
            emptyAtMost: Int? = nil, fullAtMost: Int? = nil, enabled: Bool? = nil, rotateSecret: Bool? = nil
        ) {
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
            self.enabled = enabled
            self.rotateSecret = rotateSecret
        }

        enum CodingKeys: String, CodingKey {
            case url, description, events, sources, stations, lines, cities, zones, enabled
            case emptyAtMost = "empty_at_most"
            case fullAtMost = "full_at_most"
            case rotateSecret = "rotate_secret"
        }
    }

    package func endpoints() async throws -> EndpointList {
        let pending = try await environment.store.pendingWebhookDeliveryCounts()
        let list = try await environment.store.webhookEndpoints().map { EndpointDTO($0, pending: pending[$0.id] ?? 0) }
        return EndpointList(endpoints: list, eventTypes: WebhookEventType.allCases.map(\.rawValue))
    }

    package func endpoint(_ id: String) async throws -> WebhookEndpoint {
        guard let endpoint = try await environment.store.webhookEndpoint(id: id) else {
            throw HTTPError(.notFound, message: "no webhook endpoint '\(id)'")
        }
        return endpoint
    }

    /// Creates (`existing` nil) or changes an endpoint from a request, checking every field.
    package func save(_ body: EndpointRequest, existing: WebhookEndpoint?) async throws -> WebhookEndpoint {
        let now = environment.clock.nowMillis
        var e =
            existing
            ?? WebhookEndpoint(
                id: WebhookEndpoint.newID(), url: "", events: [], secret: WebhookEndpoint.newSecret(), createdAt: now,
                updatedAt: now)
        if let url = body.url {
            e.url = try await checkedURL(url)
        } else if existing == nil {
            throw HTTPError(.badRequest, message: "url is required: the http(s) URL deliveries are POSTed to")
        }
        if let events = body.events {
            let known = WebhookEventType.allCases.filter { $0 != .test }.map(\.rawValue)
            guard !events.isEmpty else {
                throw HTTPError(
                    .badRequest, message: "events must name at least one of: \(known.joined(separator: ", "))")
            }
            for event in events where !known.contains(event) {
                throw HTTPError(
                    .badRequest,
                    message: "events: unknown event type '\(event)'; known: \(known.joined(separator: ", "))")
            }
            e.events = Array(Set(events)).sorted()
        } else if existing == nil {
            throw HTTPError(.badRequest, message: "events is required (e.g. [\"station.empty\", \"alert.opened\"])")
        }
        if let description = body.description {
            guard description.count <= 500 else {
                throw HTTPError(.badRequest, message: "description must be at most 500 characters")
            }
            e.description = description.isEmpty ? nil : description
        }
        func list(_ values: [String]?, _ name: String) throws -> [String]?? {
            guard let values else { return .none }
            guard values.count <= 1_000, values.allSatisfy({ !$0.isEmpty && $0.count <= 200 }) else {
                throw HTTPError(.badRequest, message: "\(name) must be at most 1000 non-empty ids")
            }
            return .some(values.isEmpty ? nil : Array(Set(values)).sorted())
        }
        if let sources = try list(body.sources, "sources") {
            for id in sources ?? [] where environment.catalog.source(id: id) == nil {
                throw HTTPError(.badRequest, message: "sources: unknown source '\(id)'")
            }
            e.sources = sources
        }
        if let stations = try list(body.stations, "stations") { e.stations = stations }
        if let lines = try list(body.lines, "lines") { e.lines = lines }
        if let cities = try list(body.cities, "cities") {
            for id in cities ?? [] where environment.catalog.city(id: id) == nil {
                throw HTTPError(.badRequest, message: "cities: unknown city '\(id)'")
            }
            e.cities = cities
        }
        if let zones = try list(body.zones, "zones") { e.zones = zones }
        if let value = body.emptyAtMost {
            guard (0...1_000).contains(value) else {
                throw HTTPError(.badRequest, message: "empty_at_most must be 0 to 1000 bikes")
            }
            e.emptyAtMost = value
        }
        if let value = body.fullAtMost {
            guard (0...1_000).contains(value) else {
                throw HTTPError(.badRequest, message: "full_at_most must be 0 to 1000 free docks")
            }
            e.fullAtMost = value
        }
        if let enabled = body.enabled {
            if enabled && !e.enabled {
                e.disabledReason = nil
                e.failingSince = nil
            } else if !enabled && e.enabled {
                e.disabledReason = "disabled by hand"
            }
            e.enabled = enabled
        }
        if body.rotateSecret == true { e.secret = WebhookEndpoint.newSecret() }
        e.updatedAt = now
        try await environment.store.putWebhookEndpoint(e)
        return e
    }

    /// The URL if it is http(s) with a host and an address the deployment may reach.
    func checkedURL(_ url: String) async throws -> String {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        guard trimmed.count <= 2_000, let parsed = URL(string: trimmed),
            ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), !(parsed.host ?? "").isEmpty
        else {
            throw HTTPError(.badRequest, message: "url must be an http(s) URL with a host, at most 2000 characters")
        }
        if let refusal = await environment.webhookURLRefusal(trimmed) {
            throw HTTPError(
                .badRequest,
                message: "url: \(refusal) (webhooks.allow_private_addresses lets webhooks reach such addresses)")
        }
        return trimmed
    }

    /// Removes an endpoint with its deliveries; a 404 when there is none.
    package func remove(_ id: String) async throws -> Deleted {
        guard try await environment.store.deleteWebhookEndpoint(id: id) else {
            throw HTTPError(.notFound, message: "no webhook endpoint '\(id)'")
        }
        return Deleted(deleted: id)
    }

    package func deliveries(endpoint id: String, status: WebhookDelivery.Status?, limit: Int) async throws
        -> DeliveryList
    {
        _ = try await endpoint(id)
        return DeliveryList(
            endpoint: id,
            deliveries: try await environment.store.webhookDeliveries(endpointID: id, status: status, limit: limit)
                .map(DeliveryDTO.init))
    }

    /// A `webhook.test` delivery, due at once.
    package func test(endpoint id: String) async throws -> DeliveryDTO {
        let e = try await endpoint(id)
        let now = environment.clock.nowMillis
        var data = WebhookEvent.Payload()
        data.message = "A test delivery of endpoint \(e.id), sent by hand."
        let event = WebhookEvent(type: .test, at: now, data: data)
        let delivery = WebhookDelivery(
            endpointID: e.id, type: event.type, body: try CityDocuments.encode(event), createdAt: now)
        try await environment.store.recordWebhookChanges(WebhookChanges(deliveries: [delivery]))
        return DeliveryDTO(delivery)
    }

    /// Sends a delivery again (the same id and body), with a new day of retries.
    package func redeliver(endpoint id: String, delivery deliveryID: String) async throws -> DeliveryDTO {
        _ = try await endpoint(id)
        guard var delivery = try await environment.store.webhookDelivery(id: deliveryID), delivery.endpointID == id
        else {
            throw HTTPError(.notFound, message: "no delivery '\(deliveryID)' of endpoint '\(id)'")
        }
        let now = environment.clock.nowMillis
        delivery.status = .pending
        delivery.nextAttemptAt = now
        delivery.expiresAt = now + WebhookDelivery.retryWindowMillis
        try await environment.store.updateWebhookDeliveries([delivery])
        return DeliveryDTO(delivery)
    }
}
