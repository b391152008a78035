import Foundation
import Hummingbird
import Logging
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

    /// A stream asked for and admitted: what it is sent, and from which version it resumes.
    struct Opening: Sendable {
        let subscriber: EventStreamSubscriber
        let resume: UInt64?
    }

    /// Checks the request (a 400 naming the field) and takes a place among the process's streams
    /// (a 503 when every place is taken); whoever serves the stream gives the place back
    /// (`streams.leave()`) when it ends.
    func open(_ request: Request) throws -> Opening {
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
        try environment.streams.admit()
        return Opening(
            subscriber: EventStreamSubscriber(
                feed: environment.live, clock: environment.clock, topics: topics, filter: filter),
            resume: resume)
    }

    /// The stream served by this request's task (`EventStreamSubscriber.run`): the way when the
    /// event loops cannot take it (`StreamTakeoverHandler`), e.g. a stream asked for after other
    /// requests on the same connection.
    @Sendable func stream(_ request: Request, context: APIRequestContext) async throws -> Response {
        let opening = try open(request)
        let streams = environment.streams
        return Response(
            status: .ok,
            headers: StreamLimiter.eventStreamHeaders,
            body: ResponseBody { writer in
                defer { streams.leave() }
                try await opening.subscriber.run(&writer, from: opening.resume)
                try await writer.finish(nil)
            })
    }
}

/// `GET /api/stream` taken before the router and its middleware. What the middleware does for a
/// stream is done here (`respond`): the request is logged (debug) and counted in the HTTP metrics
/// (route `/api/stream`), and the rate limit applies when one is set. A connection whose first
/// request is the stream is served from its event loop (`StreamTakeoverHandler`, which calls
/// `respond` once); a stream asked after other requests on its connection is served here by its
/// request's task, which keeps the memory its deepest point needed until it ends (Swift's task
/// allocator frees its slabs only then): hence this place, the shallowest there is.
struct StreamEntryMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let controller: StreamController
    /// The `/api` rate limit, when one is set.
    let rateLimit: RateLimitMiddleware?

    static let path = "/api/stream"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .get, request.uri.path == Self.path else { return try await next(request, context) }
        return try await respond(request, context: context) { request, context in
            try await controller.stream(request, context: context)
        }
    }

    /// What the middleware does for a stream (log, metrics, rate limit) around `answer`, which
    /// opens it.
    func respond(
        _ request: Request, context: Context, answer: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        context.logger.debug(
            "Request",
            metadata: ["hb.request.path": .stringConvertible(request.uri), "hb.request.method": .string("GET")])
        do {
            let response =
                if let rateLimit {
                    try await rateLimit.handle(request, context: context, next: answer)
                } else {
                    try await answer(request, context)
                }
            HTTPMetricsMiddleware<Context>.record(route: Self.path, method: .get, status: response.status, since: start)
            return response
        } catch {
            HTTPMetricsMiddleware<Context>.record(
                route: Self.path, method: .get,
                status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: start)
            throw error
        }
    }
}

/// One SSE subscriber's loop. It is kept small on purpose: while a subscriber waits, only this
/// loop's frame and its wait are held (ten thousand idle subscribers hold ten thousand of them);
/// the replay and the encoding run in functions of their own, whose frames live only while they
/// run.
struct EventStreamSubscriber: Sendable {
    let feed: LiveFeed
    let clock: WallClock
    let topics: Set<LiveFeed.Topic>
    let filter: LiveFeed.Filter
    let key: String

    init(feed: LiveFeed, clock: WallClock, topics: Set<LiveFeed.Topic>, filter: LiveFeed.Filter) {
        self.feed = feed
        self.clock = clock
        self.topics = topics
        self.filter = filter
        self.key = LiveFeed.subscriptionKey(topics: topics, filter: filter)
    }

    @inline(never)
    func run(_ writer: inout any ResponseBodyWriter, from: UInt64?) async throws {
        try await writer.write(ServerSentEvent.retry(3000))
        var seen = from
        // A client resuming gets each version it missed as it happened, while the log reaches
        // back that far; else the net changes since (or a snapshot).
        if let from, let reached = try await replay(since: from, to: &writer) { seen = reached }
        var quietSince = clock.nowMillis
        let shared = feed.shared
        let interval = feed.intervalMillis
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
                    let (event, reached) = try await next(since: seen, version: version, now: now)
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
                let keepAlive = max(1, 15_000 - (clock.nowMillis - quietSince))
                await feed.waitForChange(after: seen, timeout: .milliseconds(followed ? keepAlive : interval))
            }
        } onGracefulShutdown: {
            shared.wakeAll()
        }
    }

    /// Writes each version missed since `since`, as it happened; the version reached, or nil when
    /// the log no longer reaches back that far.
    @inline(never)
    func replay(since: UInt64, to writer: inout any ResponseBodyWriter) async throws -> UInt64? {
        guard let (events, reached) = try await missed(since: since) else { return nil }
        for event in events { try await writer.write(event) }
        return reached
    }

    /// Each version missed since `since` as it happened, one `update` event each, and the version
    /// they reach; nil when the log no longer reaches back that far.
    func missed(since: UInt64) async throws -> ([ByteBuffer], UInt64)? {
        let encoder = APIRequestContext.jsonEncoder()
        let now = clock.nowMillis
        await feed.refresh(now: now)
        guard let replay = await feed.replay(since: since, topics: topics, filter: filter, now: now) else {
            return nil
        }
        let events = try replay.events.map {
            try ServerSentEvent(id: String($0.version), event: "update", json: $0, encoder: encoder).buffer
        }
        return (events, replay.version)
    }

    /// The event taking a subscriber from `since` to `version` (empty when nothing it asked for
    /// changed) and the version it reaches. The same question from the same version is answered
    /// once for every subscriber asking it: the first encodes, the others get its bytes.
    @inline(never)
    func next(since: UInt64?, version: UInt64, now: Int64) async throws -> (ByteBuffer, UInt64) {
        try await feed.encodedChanges(
            since: since, version: version, topics: topics, filter: filter, subscription: key, framing: "sse",
            now: now, encode: Self.event)
    }

    /// The event of `changes`: a `snapshot` of the whole state asked for, or an `update`.
    static func event(_ changes: LiveFeed.Changes) throws -> ByteBuffer {
        try ServerSentEvent(
            id: String(changes.version), event: changes.snapshot ? "snapshot" : "update", json: changes,
            encoder: APIRequestContext.jsonEncoder()
        ).buffer
    }
}
