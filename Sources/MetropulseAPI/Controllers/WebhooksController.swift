import Hummingbird
import MetropulseCore

/// `/api/webhooks` (admin): endpoints told of station, disruption, alert and source events, their
/// deliveries, a test delivery and redelivery by hand.
struct WebhooksController {
    let environment: APIEnvironment

    private var board: WebhookBoard { WebhookBoard(environment) }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        let admin = group.requiring(.admin, environment)
        admin.get("webhooks", use: list)
        admin.post("webhooks", use: create)
        admin.get("webhooks/{id}", use: show)
        admin.patch("webhooks/{id}", use: update)
        admin.delete("webhooks/{id}", use: delete)
        admin.post("webhooks/{id}/test", use: test)
        admin.get("webhooks/{id}/deliveries", use: deliveries)
        admin.post("webhooks/{id}/deliveries/{delivery}/redeliver", use: redeliver)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> WebhookBoard.EndpointList {
        try await board.endpoints()
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.decode(as: WebhookBoard.EndpointRequest.self, context: context)
        let endpoint = try await board.save(body, existing: nil)
        var response = try WebhookBoard.EndpointDTO(endpoint, showSecret: true).response(
            from: request, context: context)
        response.status = .created
        return response
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> WebhookBoard.EndpointDTO {
        WebhookBoard.EndpointDTO(try await board.endpoint(try context.parameters.require("id")))
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> WebhookBoard.EndpointDTO {
        let existing = try await board.endpoint(try context.parameters.require("id"))
        let body = try await request.decode(as: WebhookBoard.EndpointRequest.self, context: context)
        let saved = try await board.save(body, existing: existing)
        return WebhookBoard.EndpointDTO(saved, showSecret: body.rotateSecret == true)
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> WebhookBoard.Deleted {
        try await board.remove(try context.parameters.require("id"))
    }

    @Sendable func test(_ request: Request, context: APIRequestContext) async throws -> Response {
        let delivery = try await board.test(endpoint: try context.parameters.require("id"))
        var response = try delivery.response(from: request, context: context)
        response.status = .accepted
        return response
    }

    @Sendable func deliveries(_ request: Request, context: APIRequestContext) async throws
        -> WebhookBoard.DeliveryList
    {
        try await board.deliveries(
            endpoint: try context.parameters.require("id"),
            status: try request.enumQuery("status", as: WebhookDelivery.Status.self),
            limit: try request.intQuery("limit", default: 100, range: 1...1_000))
    }

    @Sendable func redeliver(_ request: Request, context: APIRequestContext) async throws -> Response {
        let delivery = try await board.redeliver(
            endpoint: try context.parameters.require("id"), delivery: try context.parameters.require("delivery"))
        var response = try delivery.response(from: request, context: context)
        response.status = .accepted
        return response
    }
}
