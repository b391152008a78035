import ArgumentParser
import Foundation
import Hummingbird
import MetropulseAPI
import MetropulseApp
import MetropulseConnectors
import MetropulseCore

/// `metropulse webhooks`: the webhook endpoints and their deliveries from the command line, with
/// the API's checks (the same store records `/api/webhooks` writes; the scheduler's leader sends).
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Webhook endpoints: list, add, update, enable, disable, remove, test, deliveries, redeliver.",
        subcommands: [
            List.self, Add.self, Update.self, Enable.self, Disable.self, Remove.self, Test.self, Deliveries.self,
            Redeliver.self,
        ])

    /// Runs `body` with the API's webhook read model on the configured store; an API refusal
    /// becomes a usage error with its message.
    static func withBoard<T: Sendable>(
        _ options: RuntimeOptions, _ body: @escaping @Sendable (WebhookBoard) async throws -> T
    ) async throws -> T {
        let configuration = try options.load()
        do {
            return try await JobsCommand.withBackend(options) { backend, logger in
                var environment = APIEnvironment(
                    store: backend.store, queue: backend.queue, bus: backend.bus ?? InProcessControlBus(),
                    catalog: SourceCatalog(configuration.sources, cities: configuration.cities), runNow: nil,
                    connectors: StandardConnectors.descriptions, logger: logger)
                let (allowPrivate, allowedHosts) = (
                    configuration.webhooks.allowPrivateAddresses, configuration.webhooks.allowedHosts
                )
                environment.webhookURLRefusal = {
                    await WebhookHTTPSender.refusal($0, allowPrivate: allowPrivate, allowedHosts: allowedHosts)
                }
                return try await body(WebhookBoard(environment))
            }
        } catch let error as HTTPError {
            throw Refused(description: error.body ?? "\(error.status)")
        }
    }

    /// What the API would have answered with a 4xx: printed as the error, without the usage.
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    static func setEnabled(_ options: RuntimeOptions, _ id: String, _ enabled: Bool) async throws {
        let endpoint = try await withBoard(options) {
            try await $0.save(.init(enabled: enabled), existing: try await $0.endpoint(id))
        }
        print("\(endpoint.id) \(enabled ? "enabled" : "disabled")")
    }

    static func list(_ text: String?) -> [String]? {
        text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each endpoint with its state (secrets hidden).")
        @OptionGroup var options: RuntimeOptions

        func run() async throws {
            let list = try await WebhooksCommand.withBoard(options) { try await $0.endpoints() }
            if list.endpoints.isEmpty { print("no webhook endpoint") }
            for e in list.endpoints {
                let state = e.enabled ? (e.failingSince.map { "failing since \($0)" } ?? "enabled") : "disabled"
                print("\(e.id)  \(e.url)  \(state)  \(e.pending ?? 0) waiting")
                print("  events: \(e.events.joined(separator: ", "))  secret \(e.secretHint)")
                if let reason = e.disabledReason { print("  \(reason)") }
            }
        }
    }

    /// What an endpoint takes, as `add` and `update` read it.
    struct EndpointFields: ParsableArguments {
        @Option(help: "Event types, comma-separated (station.empty, station.full, disruption.started, ...).")
        var events: String?
        @Option(help: "Only these sources (comma-separated; empty: every source).") var sources: String?
        @Option(help: "Only these station ids.") var stations: String?
        @Option(help: "Only disruptions of these lines.") var lines: String?
        @Option(help: "Only alerts of these cities.") var cities: String?
        @Option(help: "Only alerts of these zones.") var zones: String?
        @Option(help: "A station is empty at this many bikes or fewer.") var emptyAtMost: Int?
        @Option(help: "A station is full at this many free docks or fewer.") var fullAtMost: Int?
        @Option(help: "What receives it.") var description: String?

        func request(url: String?, rotateSecret: Bool? = nil) -> WebhookBoard.EndpointRequest {
            WebhookBoard.EndpointRequest(
                url: url, description: description, events: WebhooksCommand.list(events),
                sources: WebhooksCommand.list(sources), stations: WebhooksCommand.list(stations),
                lines: WebhooksCommand.list(lines), cities: WebhooksCommand.list(cities),
                zones: WebhooksCommand.list(zones), emptyAtMost: emptyAtMost, fullAtMost: fullAtMost,
                rotateSecret: rotateSecret)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Adds an endpoint and prints its signing secret (shown only now).")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The http(s) URL deliveries are POSTed to.") var url: String
        @OptionGroup var fields: EndpointFields

        func run() async throws {
            let request = fields.request(url: url)
            let endpoint = try await WebhooksCommand.withBoard(options) { try await $0.save(request, existing: nil) }
            print("added \(endpoint.id) → \(endpoint.url)")
            print("signing secret (shown only now): \(endpoint.secret)")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Changes an endpoint's URL, events, filters or thresholds; a new secret with --rotate-secret.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The endpoint's id.") var id: String
        @Option(help: "A new http(s) URL.") var url: String?
        @Flag(help: "Make a new signing secret (printed, shown only now).") var rotateSecret = false
        @OptionGroup var fields: EndpointFields

        func run() async throws {
            let (id, request) = (self.id, fields.request(url: url, rotateSecret: rotateSecret))
            let endpoint = try await WebhooksCommand.withBoard(options) {
                try await $0.save(request, existing: try await $0.endpoint(id))
            }
            print("\(endpoint.id) → \(endpoint.url): \(endpoint.events.joined(separator: ", "))")
            if rotateSecret { print("signing secret (shown only now): \(endpoint.secret)") }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enables an endpoint (forgetting its failures); its waiting deliveries are sent.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The endpoint's id.") var id: String

        func run() async throws {
            try await WebhooksCommand.setEnabled(options, id, true)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disables an endpoint; its deliveries wait.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The endpoint's id.") var id: String

        func run() async throws {
            try await WebhooksCommand.setEnabled(options, id, false)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Removes an endpoint with its deliveries.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The endpoint's id.") var id: String

        func run() async throws {
            let id = self.id
            try await WebhooksCommand.withBoard(options) { board in
                _ = try await board.endpoint(id)
                _ = try await board.remove(id)
            }
            print("\(id) removed")
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queues a webhook.test delivery (sent by the scheduler's leader within a second).")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The endpoint's id.") var id: String

        func run() async throws {
            let id = self.id
            let delivery = try await WebhooksCommand.withBoard(options) { try await $0.test(endpoint: id) }
            print("queued \(delivery.id) (\(delivery.type)) for \(id)")
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An endpoint's deliveries, newest first.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The endpoint's id.") var id: String
        @Option(help: "Only pending, succeeded or failed ones.") var status: String?
        @Option(help: "At most this many.") var limit: Int = 20

        func run() async throws {
            guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            let status = try self.status.map { text in
                guard let status = WebhookDelivery.Status(rawValue: text) else {
                    throw ValidationError("--status must be pending, succeeded or failed")
                }
                return status
            }
            let (id, limit) = (self.id, self.limit)
            let list = try await WebhooksCommand.withBoard(options) {
                try await $0.deliveries(endpoint: id, status: status, limit: limit)
            }
            if list.deliveries.isEmpty { print("no delivery") }
            for d in list.deliveries {
                print("\(d.createdAt)  \(d.id)  \(d.type)  \(d.status)  \(d.attempts) attempts")
                for a in d.history {
                    let answer = a.statusCode.map { "HTTP \($0)" } ?? a.error ?? "no answer"
                    print("  #\(a.number) \(a.at)  \(answer)  \(a.latencyMs) ms")
                }
            }
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sends a delivery again (same webhook-id and body), with a new day of retries.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The endpoint's id.") var id: String
        @Argument(help: "The delivery's id (msg_...).") var delivery: String

        func run() async throws {
            let (id, deliveryID) = (self.id, self.delivery)
            let delivery = try await WebhooksCommand.withBoard(options) {
                try await $0.redeliver(endpoint: id, delivery: deliveryID)
            }
            print("queued \(delivery.id) again for \(id)")
        }
    }
}
