import Foundation
import Hummingbird
import MetropulseCore
import NIOCore
import ServiceLifecycle

/// `GET /api/stream`: server-sent events of what changes, from `LiveFeed`.
///
/// `?topics=stations,vehicles,stops,sources,readings,alerts,disruptions` (default all) chooses
/// what is sent; `source=`, `network=`, `line=`, `zone=` (each a comma-separated list) and
/// `bbox=minLon,minLat,maxLon,maxLat` narrow it. The first event (`event: snapshot`) holds the
/// whole state asked for; each `event: update` after it holds only what changed (a station whose
/// counts or time moved, a vehicle that moved or left, a reading that changed). Values carry their
/// age and the run that produced them; `runs` names each run's endpoint and feed timestamp. Every
/// event's `id:` is the feed version; a client reconnecting with `Last-Event-ID` is sent each
/// version it missed as it happened (one `update` each) while the feed's log reaches back that
/// far, else the net changes since, or a snapshot when it is too far behind (`"snapshot": true`).
/// A comment line every 15 s keeps idle connections open.
struct StreamController {
    let environment: APIEnvironment

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("stream", use: stream)
    }

    @Sendable func stream(_ request: Request, context: APIRequestContext) async throws -> Response {
        func list(_ name: String) -> [String]? {
            request.query(name).map {
                $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
        }
        let topics = try LiveFeed.Topic.parse(list("topics"))
        let filter = try LiveFeed.Filter.parse(
            source: list("source"), network: list("network"), line: list("line"), zone: list("zone"),
            bbox: request.query("bbox").map {
                $0.split(separator: ",", omittingEmptySubsequences: false).map {
                    Double($0.trimmingCharacters(in: .whitespaces))
                }
            }, catalog: environment.catalog)
        let resume = try request.lastEventID(UInt64.self)
        let streams = environment.streams
        try streams.admit()
        let (feed, clock) = (environment.live, environment.clock)
        let (asked, only, from) = (topics, filter, resume)
        let interval = feed.intervalMillis
        return Response(
            status: .ok,
            headers: StreamLimiter.eventStreamHeaders,
            body: ResponseBody { writer in
                defer { streams.leave() }
                var seen = from
                var quietSince = clock.nowMillis
                try await writer.write(ServerSentEvent.retry(3000))
                // A client resuming gets each version it missed as it happened, while the log
                // reaches back that far; else the net changes since (or a snapshot).
                if let from {
                    let encoder = APIRequestContext.jsonEncoder()
                    let now = clock.nowMillis
                    await feed.refresh(now: now)
                    if let replay = await feed.replay(since: from, topics: asked, filter: only, now: now) {
                        for missed in replay.events {
                            let event = try ServerSentEvent(
                                id: String(missed.version), event: "update", json: missed, encoder: encoder)
                            try await writer.write(event.buffer)
                        }
                        seen = replay.version
                    }
                }
                let key = LiveFeed.subscriptionKey(topics: asked, filter: only)
                let shared = feed.shared
                // A shutdown wakes every waiting stream at once, which then sees it and ends.
                try await withGracefulShutdownHandler {
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        let now = clock.nowMillis
                        // With a refresher following the store, its versions wake this loop; else the
                        // subscribers read the store themselves, at most every interval.
                        let followed = shared.isFollowed
                        if !followed { await feed.refresh(now: now) }
                        let version = shared.version
                        if seen != version {
                            // The same question from the same version is answered once for every
                            // subscriber asking it: the first encodes, the others write its bytes.
                            let asking = LiveFeedShared.Key(since: seen, subscription: key, framing: "sse")
                            let since = seen
                            let (event, reached) = try await shared.event(asking, version: version) {
                                let changes = await feed.changes(since: since, topics: asked, filter: only, now: now)
                                guard !changes.isEmpty else { return (ByteBuffer(), changes.version) }
                                let event = try ServerSentEvent(
                                    id: String(changes.version), event: changes.snapshot ? "snapshot" : "update",
                                    json: changes, encoder: APIRequestContext.jsonEncoder())
                                return (event.buffer, changes.version)
                            }
                            seen = reached
                            if event.readableBytes > 0 {
                                try await writer.write(event)
                                quietSince = now
                            }
                        }
                        if now - quietSince >= 15_000 {
                            try await writer.write(ServerSentEvent.comment("keep-alive"))
                            quietSince = now
                        }
                        // Followed, an idle subscriber waits for a version or its next keep-alive.
                        if followed, let seen {
                            let keepAlive = max(1, 15_000 - (clock.nowMillis - quietSince))
                            await shared.wait(after: seen, until: .now + .milliseconds(keepAlive))
                        } else {
                            await feed.waitForChange(after: seen, timeout: .milliseconds(interval))
                        }
                    }
                } onGracefulShutdown: {
                    shared.expire(now: .now + .seconds(86_400))
                }
                try await writer.finish(nil)
            })
    }
}
