import Foundation
import Hummingbird
import MetropulseCore
import NIOCore
import ServiceLifecycle

/// `GET /api/stream`: the live map's server-sent events, from `LiveFeed`.
///
/// `?topics=stations,vehicles,stops,sources` (default all) and `?source=a,b` choose what is sent.
/// The first event (`event: snapshot`) holds the whole state asked for; each `event: update`
/// after it holds only what changed (a station whose counts or time moved, a vehicle that moved
/// or left). Every event's `id:` is the feed version; a client reconnecting with
/// `Last-Event-ID` gets only what changed since, or a snapshot when it is too far behind
/// (`"snapshot": true`). A comment line every 15 s keeps idle connections open.
struct StreamController {
    let environment: APIEnvironment

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("stream", use: stream)
    }

    @Sendable func stream(_ request: Request, context: APIRequestContext) async throws -> Response {
        var topics = Set(LiveFeed.Topic.allCases)
        if let text = request.query("topics") {
            topics = []
            for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let topic = LiveFeed.Topic(rawValue: name) else {
                    let allowed = LiveFeed.Topic.allCases.map(\.rawValue).joined(separator: ", ")
                    throw HTTPError(.badRequest, message: "topics: unknown topic '\(name)'; known: \(allowed)")
                }
                topics.insert(topic)
            }
        }
        var sources: Set<String>?
        if let text = request.query("source") {
            let ids = Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            for id in ids where environment.catalog.source(id: id) == nil {
                throw HTTPError(.badRequest, message: "source: unknown source '\(id)'")
            }
            sources = ids
        }
        let resume = try request.lastEventID(UInt64.self)
        let streams = environment.streams
        try streams.admit()
        let (feed, clock) = (environment.live, environment.clock)
        let (asked, only, from) = (topics, sources, resume)
        let interval = feed.intervalMillis
        return Response(
            status: .ok,
            headers: StreamLimiter.eventStreamHeaders,
            body: ResponseBody { writer in
                defer { streams.leave() }
                let encoder = APIRequestContext.jsonEncoder()
                var seen = from
                var quietSince = clock.nowMillis
                try await writer.write(ServerSentEvent.retry(3000))
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let now = clock.nowMillis
                    await feed.refresh(now: now)
                    let changes = await feed.changes(since: seen, topics: asked, sourceIDs: only, now: now)
                    if !changes.isEmpty {
                        let event = try ServerSentEvent(
                            id: String(changes.version), event: changes.snapshot ? "snapshot" : "update",
                            json: changes, encoder: encoder)
                        try await writer.write(event.buffer)
                        quietSince = now
                    } else if now - quietSince >= 15_000 {
                        try await writer.write(ServerSentEvent.comment("keep-alive"))
                        quietSince = now
                    }
                    seen = changes.version
                    try? await Task.sleep(for: .milliseconds(interval))
                }
                try await writer.finish(nil)
            })
    }
}
