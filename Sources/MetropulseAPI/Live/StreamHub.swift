import Logging
import MetropulseCore
import NIOCore
import Synchronization

/// The live streams (`GET /api/stream`) served from the event loops: each is a channel handler
/// (`StreamTakeoverHandler`), not a task, and one task of the hub's sends each new version to
/// all of them.
///
/// At a new version the hub groups the subscribers by what they asked for and the version they
/// have, has each group's event encoded once (`LiveFeed.encodedChanges`), and hands every event
/// loop one batch of what its subscribers are sent: ten thousand subscribers of one question
/// cost one encoding and ten thousand socket writes, with no task woken per subscriber. Its task
/// runs while there are subscribers, and ends with the last one.
///
/// A subscriber whose socket does not take more (its channel unwritable: past the write buffer's
/// high-water mark) is sent nothing until it does; then it is sent what changed since what it
/// was last sent (or a snapshot, if the feed's tombstones no longer reach back that far), never a
/// backlog. Each skipped event is counted (`skipped`, `metropulse_api_stream_events_skipped_total`).
/// A comment line keeps a connection open when it had nothing for 15 s.
final class StreamHub: Sendable {
    let feed: LiveFeed
    let clock: WallClock
    let logger: Logger
    static let keepAliveMillis: Int64 = 15_000
    /// How often idle subscribers are looked at for their keep-alive.
    static let sweepMillis: Int64 = 1_000

    private struct State {
        var connections: [ObjectIdentifier: StreamConnection] = [:]
        /// Subscribers to serve at the next pass whatever the version: new ones and those that
        /// read again.
        var fresh: [ObjectIdentifier: StreamConnection] = [:]
        var pumping = false
        var kicked = false
        var wake: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let skippedEvents = Atomic<Int>(0)

    init(feed: LiveFeed, clock: WallClock, logger: Logger) {
        self.feed = feed
        self.clock = clock
        self.logger = logger
        feed.shared.onMove { [weak self] in self?.kick() }
    }

    /// Events not sent to a subscriber that was not reading (it got the net changes later).
    var skipped: Int { skippedEvents.load(ordering: .relaxed) }

    func countSkipped() { skippedEvents.add(1, ordering: .relaxed) }

    /// Starts serving `connection` (on its event loop, once its answer's head is written).
    func add(_ connection: StreamConnection) {
        let id = ObjectIdentifier(connection)
        let start = state.withLock { state in
            state.connections[id] = connection
            state.fresh[id] = connection
            defer { state.pumping = true }
            return !state.pumping
        }
        if start { Task { await self.pump() } }
        kick()
    }

    /// Stops serving `connection` (its channel closed).
    func remove(_ connection: StreamConnection) {
        let id = ObjectIdentifier(connection)
        state.withLock { state in
            state.connections[id] = nil
            state.fresh[id] = nil
        }
    }

    /// Serves `connection` at the next pass whatever the version (it reads again, or what it was
    /// sent was not what it had).
    func catchUp(_ connection: StreamConnection) {
        let id = ObjectIdentifier(connection)
        let known = state.withLock { state in
            guard state.connections[id] != nil else { return false }
            state.fresh[id] = connection
            return true
        }
        if known { kick() }
    }

    /// Wakes the hub's task for a pass (a new version, a new subscriber, a timer).
    func kick() {
        let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let wake = state.wake else {
                state.kicked = true
                return nil
            }
            state.wake = nil
            return wake
        }
        waiting?.resume()
    }

    /// The hub's task: a pass at each kick, until no subscriber is left.
    private func pump() async {
        var served: UInt64?
        var lastSweep = clock.nowMillis
        while true {
            let work = state.withLock { state -> (all: [StreamConnection], fresh: [StreamConnection])? in
                guard !state.connections.isEmpty else {
                    state.pumping = false
                    return nil
                }
                defer { state.fresh.removeAll(keepingCapacity: true) }
                return (Array(state.connections.values), Array(state.fresh.values))
            }
            guard let work else { return }
            let now = clock.nowMillis
            // With a refresher following the store, its versions kick the hub; else the hub reads
            // the store itself, at most every interval.
            let followed = feed.shared.isFollowed
            if !followed { await feed.refresh(now: now) }
            let version = feed.shared.version
            await send(to: version == served ? work.fresh : work.all, version: version, now: now)
            served = version
            if now - lastSweep >= Self.sweepMillis {
                lastSweep = now
                keepAlive(work.all, now: now)
            }
            let pause = followed ? Self.sweepMillis : min(Self.sweepMillis, feed.intervalMillis)
            await waitForKick(timer: work.all[0].eventLoop, millis: pause)
        }
    }

    private func waitForKick(timer loop: any EventLoop, millis: Int64) async {
        let timer = loop.scheduleTask(in: .milliseconds(millis)) { [weak self] in self?.kick() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.kicked {
                    state.kicked = false
                    return true
                }
                state.wake = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }

    private struct Question: Hashable {
        var since: UInt64?
        var subscription: String
    }

    /// One subscriber's event in a batch: the HTTP chunk taking it from `from` to `to` (empty
    /// when nothing it asked for changed).
    struct Delivery {
        let connection: StreamConnection
        let from: UInt64?
        let to: UInt64
        let chunk: ByteBuffer
    }

    /// `bytes` as one chunk of a chunked HTTP body (its length in hex, CRLF, the bytes, CRLF).
    static func chunk(_ bytes: ByteBuffer) -> ByteBuffer {
        var chunk = ByteBuffer()
        chunk.reserveCapacity(bytes.readableBytes + 12)
        chunk.writeString(String(bytes.readableBytes, radix: 16))
        chunk.writeStaticString("\r\n")
        chunk.writeImmutableBuffer(bytes)
        chunk.writeStaticString("\r\n")
        return chunk
    }

    /// Sends each subscriber that has not seen `version` what changed since what it has: one
    /// encoding per question, one batch per event loop.
    private func send(to connections: [StreamConnection], version: UInt64, now: Int64) async {
        var questions: [Question: [StreamConnection]] = [:]
        for connection in connections where !connection.lagging.load(ordering: .acquiring) {
            let seen = connection.seen
            guard seen != version else { continue }
            questions[Question(since: seen, subscription: connection.key), default: []].append(connection)
        }
        guard !questions.isEmpty else { return }
        var deliveries: [Delivery] = []
        for (question, asking) in questions {
            let first = asking[0]
            let event: (ByteBuffer, UInt64)
            do {
                event = try await feed.encodedChanges(
                    since: question.since, version: version, topics: first.topics, filter: first.filter,
                    subscription: question.subscription, framing: "sse", now: now, encode: EventStreamSubscriber.event)
            } catch {
                logger.warning("live stream event not encoded", metadata: ["error": "\(loggable(error))"])
                continue
            }
            let chunk = event.0.readableBytes > 0 ? Self.chunk(event.0) : event.0
            for connection in asking {
                connection.seen = event.1
                deliveries.append(Delivery(connection: connection, from: question.since, to: event.1, chunk: chunk))
            }
        }
        Self.onEachLoop(deliveries, of: \.connection) { $0.connection.handler.value.deliver($0) }
    }

    /// A comment line to each subscriber sent nothing for `keepAliveMillis`.
    private func keepAlive(_ connections: [StreamConnection], now: Int64) {
        Self.onEachLoop(connections, of: { $0 }) { $0.handler.value.keepAlive(now: now) }
    }

    /// Runs `body` for each item on its connection's event loop: one task per loop for all its
    /// items.
    private static func onEachLoop<Item: Sendable>(
        _ items: [Item], of connection: (Item) -> StreamConnection, _ body: @escaping @Sendable (Item) -> Void
    ) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, items: [Item])] = [:]
        for item in items {
            let loop = connection(item).eventLoop
            byLoop[ObjectIdentifier(loop), default: (loop, [])].items.append(item)
        }
        for (loop, items) in byLoop.values {
            loop.execute { for item in items { body(item) } }
        }
    }
}

/// One live stream served by the hub: what it asked for, its handler (reached on its event loop
/// only), and the version the hub counts it has.
final class StreamConnection: Sendable {
    let eventLoop: any EventLoop
    let handler: NIOLoopBound<StreamTakeoverHandler>
    let topics: Set<LiveFeed.Topic>
    let filter: LiveFeed.Filter
    let key: String
    /// The version its next event starts from, as the hub counts it (it runs ahead of what the
    /// handler has written while events are on their way); nil: none yet, a snapshot first.
    private let counted: Mutex<UInt64?>
    /// Set by the handler while the client does not read: the hub sends it nothing meanwhile.
    let lagging = Atomic<Bool>(false)

    init(handler: NIOLoopBound<StreamTakeoverHandler>, subscriber: EventStreamSubscriber, seen: UInt64?) {
        self.eventLoop = handler.eventLoop
        self.handler = handler
        self.topics = subscriber.topics
        self.filter = subscriber.filter
        self.key = subscriber.key
        self.counted = Mutex(seen)
    }

    var seen: UInt64? {
        get { counted.withLock { $0 } }
        set { counted.withLock { $0 = newValue } }
    }
}
