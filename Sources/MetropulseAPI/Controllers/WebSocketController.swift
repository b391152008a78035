import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import MetropulseCore
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// `/api/ws`: the live streams of `GET /api/stream` over a WebSocket, chosen by messages instead
/// of the URL. The client sends JSON text messages:
/// - `{"type": "subscribe", "topics": ["stations", "readings"], "source": ["velib"], "network": [...],
///   "line": [...], "zone": [...], "bbox": [minLon, minLat, maxLon, maxLat]}`: adds the topics and
///   sets the filters; answered with `subscribed`, then a `snapshot` of everything subscribed;
/// - `{"type": "unsubscribe", "topics": ["stations"]}` (every topic without `topics`): answered with
///   `unsubscribed`; nothing more of those topics is sent.
///
/// The server sends `{"type": "snapshot" | "update", ...}` with the fields of the SSE stream's
/// events (values with their age and run, `runs`, `version`), and `{"type": "error", "message"}`
/// for a message it cannot take (the connection stays open). Like the SSE stream, a slow client is
/// sent the latest value of what changed, never a backlog.
struct WebSocketController {
    let environment: APIEnvironment

    struct ClientMessage: Decodable {
        var type: String
        var topics: [String]?
        var source: [String]?
        var network: [String]?
        var line: [String]?
        var zone: [String]?
        var bbox: [Double]?
    }

    struct Subscription: Sendable {
        var topics: Set<LiveFeed.Topic> = []
        var filter = LiveFeed.Filter()
        /// Bumped by every subscribe: the next message is a snapshot.
        var generation = 0
    }

    final class SubscriptionState: Sendable {
        let value = Mutex(Subscription())
    }

    struct Reply: Encodable {
        var type: String
        var topics: [String]?
        var message: String?
    }

    /// A data message: `type` beside the fields of the stream's event.
    struct DataMessage: Encodable {
        var type: String
        var changes: LiveFeed.Changes

        func encode(to encoder: any Encoder) throws {
            try changes.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(type, forKey: .type)
        }

        enum Key: String, CodingKey { case type }
    }

    func router() -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        let environment = self.environment
        router.ws("/api/ws") { inbound, outbound, _ in
            do {
                try environment.streams.admit()
            } catch {
                try await outbound.close(.unknown(1013), reason: "too many live streams open")
                return
            }
            defer { environment.streams.leave() }
            try await Self.session(inbound: inbound, outbound: outbound, environment: environment)
        }
        return router
    }

    /// Parses a client message into the next subscription, or says why not.
    static func apply(_ message: ClientMessage, to subscription: inout Subscription, catalog: SourceCatalog) throws
        -> Reply
    {
        let topics = try LiveFeed.Topic.parse(message.topics ?? [])
        switch message.type {
        case "subscribe":
            let filter = try LiveFeed.Filter.parse(
                source: message.source, network: message.network, line: message.line, zone: message.zone,
                bbox: message.bbox, catalog: catalog)
            subscription.topics.formUnion(topics.isEmpty ? Set(LiveFeed.Topic.allCases) : topics)
            subscription.filter = filter
            subscription.generation += 1
            return Reply(type: "subscribed", topics: subscription.topics.map(\.rawValue).sorted())
        case "unsubscribe":
            if message.topics == nil { subscription.topics = [] } else { subscription.topics.subtract(topics) }
            return Reply(type: "unsubscribed", topics: subscription.topics.map(\.rawValue).sorted())
        default:
            throw HTTPError(.badRequest, message: "type must be subscribe or unsubscribe")
        }
    }

    static func session(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, environment: APIEnvironment
    ) async throws {
        let subscription = SubscriptionState()
        let (feed, clock, catalog) = (environment.live, environment.clock, environment.catalog)
        let interval = feed.intervalMillis
        @Sendable func send(_ value: some Encodable) async throws {
            let text = String(decoding: try APIRequestContext.jsonEncoder().encode(value), as: UTF8.self)
            try await outbound.write(.text(text))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Reads the client's messages; the session ends when the client leaves.
            group.addTask {
                for try await message in inbound.messages(maxSize: 64 * 1024) {
                    let reply: Reply
                    do {
                        guard case .text(let text) = message,
                            let parsed = try? JSONDecoder().decode(ClientMessage.self, from: Data(text.utf8))
                        else {
                            throw HTTPError(
                                .badRequest, message: "messages are JSON text with a type (subscribe or unsubscribe)")
                        }
                        reply = try subscription.value.withLock { try apply(parsed, to: &$0, catalog: catalog) }
                    } catch let error as HTTPError {
                        reply = Reply(type: "error", message: error.body ?? "bad message")
                    }
                    try await send(reply)
                }
            }
            // Sends what changed in what is subscribed, a snapshot after each subscribe.
            group.addTask {
                var seen: UInt64?
                var generation = 0
                while !Task.isCancelled {
                    let current = subscription.value.withLock { $0 }
                    if current.generation != generation {
                        (seen, generation) = (nil, current.generation)
                    }
                    if !current.topics.isEmpty {
                        let now = clock.nowMillis
                        if !feed.shared.isFollowed { await feed.refresh(now: now) }
                        let version = feed.shared.version
                        if seen != version {
                            // As for SSE: one encoding per question and version, shared.
                            let (message, reached) = try await feed.encodedChanges(
                                since: seen, version: version, topics: current.topics, filter: current.filter,
                                subscription: LiveFeed.subscriptionKey(topics: current.topics, filter: current.filter),
                                framing: "ws", now: now
                            ) { changes in
                                ByteBuffer(
                                    bytes: try APIRequestContext.jsonEncoder().encode(
                                        DataMessage(type: changes.snapshot ? "snapshot" : "update", changes: changes)))
                            }
                            if message.readableBytes > 0 { try await outbound.write(.text(String(buffer: message))) }
                            seen = reached
                        }
                        await feed.waitForChange(after: seen, timeout: .milliseconds(interval))
                    } else {
                        try? await Task.sleep(for: .milliseconds(interval))
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
