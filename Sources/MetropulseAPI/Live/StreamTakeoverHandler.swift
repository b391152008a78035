import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import MetropulseCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization

/// What opens a live stream on the event loops: the stream's middleware (log, metrics, rate
/// limit) and its checks, then the hub.
struct StreamTakeover: Sendable {
    let entry: StreamEntryMiddleware
    let hub: StreamHub
    let logger: Logger

    /// Whether a request is the live stream's: `GET` of its path (with any query), not asking
    /// for a protocol upgrade.
    static func isStream(get: Bool, path: String?, upgrade: Bool) -> Bool {
        guard get, !upgrade, let path else { return false }
        let end = path.firstIndex(of: "?") ?? path.endIndex
        return path[..<end] == StreamEntryMiddleware.path
    }

    static func isStream(_ head: HTTPRequest) -> Bool {
        isStream(get: head.method == .get, path: head.path, upgrade: head.headerFields[.upgrade] != nil)
    }

    /// Answers the stream asked for by `head` on `handler`'s channel: its checks and middleware in
    /// a task of their own, which ends once the answer's head (and, for a client resuming, what it
    /// missed) is on its way; from then on the hub serves it.
    func open(_ head: HTTPRequest, channel: any Channel, handler: NIOLoopBound<StreamTakeoverHandler>) {
        Task {
            let request = Request(head: head, body: RequestBody(buffer: ByteBuffer()))
            let context = APIRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
            var opening: StreamController.Opening?
            var response: Response
            do {
                response = try await entry.respond(request, context: context) { request, _ in
                    opening = try entry.controller.open(request)
                    return Response(status: .ok, headers: StreamLimiter.eventStreamHeaders)
                }
            } catch {
                response =
                    (try? (error as? any HTTPResponseError)?.response(from: request, context: context))
                    ?? Response(status: .internalServerError)
                if opening != nil { entry.controller.environment.streams.leave() }
                opening = nil
            }
            response.headers[.server] = "metropulse"
            guard let opening else {
                let body = BodyBytes.Bytes()
                try? await response.body.write(BodyBytes(buffer: body))
                let bytes = body.bytes
                handler.eventLoop.execute { handler.value.refuse(response.head, body: bytes) }
                return
            }
            var first = [ServerSentEvent.retry(3000)]
            var seen = opening.resume
            if let from = opening.resume, let (missed, reached) = try? await opening.subscriber.missed(since: from) {
                first += missed
                seen = reached
            }
            let connection = StreamConnection(handler: handler, subscriber: opening.subscriber, seen: seen)
            let events = first
            let hub = self.hub
            let streams = entry.controller.environment.streams
            handler.eventLoop.execute {
                handler.value.begin(
                    HTTPResponse(status: response.status, headerFields: response.headers), first: events,
                    connection: connection, hub: hub, streams: streams)
            }
        }
    }

    /// Gathers a refusal's body.
    private struct BodyBytes: ResponseBodyWriter {
        final class Bytes: @unchecked Sendable {
            var bytes = ByteBuffer()
        }
        let buffer: Bytes

        mutating func write(_ buffer: ByteBuffer) async throws {
            var buffer = buffer
            self.buffer.bytes.writeBuffer(&buffer)
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

/// A connection's handler, between the HTTP codec and Hummingbird's: a connection whose first
/// request is `GET /api/stream` is served here, on its event loop, for as long as it is open.
/// Hummingbird's task for the connection is told the client sends nothing more and ends its
/// work; it waits only for the channel to close (at the shallow depth of a connection that was
/// never asked anything), and its attempts to close the channel are ignored: the stream's end
/// closes it. Any other first request, and everything after it, passes through untouched.
///
/// A stream ends when the client closes, when the server shuts down (`ChannelShouldQuiesceEvent`)
/// and on an error; its place among the streams is then given back.
final class StreamTakeoverHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// No request yet.
        case first
        /// An ordinary HTTP connection: everything passes.
        case passing
        /// A stream being checked (`StreamTakeover.open`).
        case opening
        /// A stream served by the hub.
        case streaming(StreamConnection, StreamHub, StreamLimiter)
        /// A stream that ended (or was refused): the channel is closing.
        case ended
    }

    private let takeover: StreamTakeover
    private var state = State.first
    private var context: ChannelHandlerContext?
    private var written: UInt64?
    private var lagging = false
    private var lastWrite: Int64 = 0

    init(_ takeover: StreamTakeover) {
        self.takeover = takeover
    }

    private var takenOver: Bool {
        switch state {
        case .first, .passing: false
        case .opening, .streaming, .ended: true
        }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .first:
            if case .head(let head) = unwrapInboundIn(data), StreamTakeover.isStream(head) {
                state = .opening
                takeover.open(
                    head, channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
                // Hummingbird's side of the channel learns there is no request for it and nothing
                // to answer: its task (if it runs) ends its loop, and its writer counts as finished.
                context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                context.fireUserInboundEventTriggered(ChannelEvent.outputClosed)
                return
            }
            state = .passing
            context.fireChannelRead(data)
        case .passing:
            context.fireChannelRead(data)
        case .opening, .streaming, .ended:
            // The stream request's end, and whatever the client sends after it (raw bytes once
            // the HTTP decoder is gone): dropped.
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if takenOver {
            // A shutdown, or the client closing its side: the stream ends.
            if event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed {
                finish(context)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Hummingbird's side reads no more once its stream of requests is gone; the stream keeps
        // reading (and dropping) what the client sends, to see it close.
        guard !takenOver else { return context.read() }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard takenOver else { return context.fireErrorCaught(error) }
        finish(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .streaming(let connection, let hub, _) = state, lagging, context.channel.isWritable {
            // It reads again: the hub sends it what changed since what it was last sent.
            lagging = false
            connection.seen = written
            connection.lagging.store(false, ordering: .releasing)
            hub.catchUp(connection)
        }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Hummingbird's task has nothing to answer on a stream's connection.
        guard !takenOver else {
            promise?.succeed()
            return
        }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Hummingbird's task closing its side, or its idle timer: the stream decides when it ends.
        guard !takenOver else {
            promise?.succeed()
            return
        }
        context.close(mode: mode, promise: promise)
    }

    /// The stream's answer: its head and first events; then the hub serves it.
    func begin(
        _ head: HTTPResponse, first: [ByteBuffer], connection: StreamConnection, hub: StreamHub,
        streams: StreamLimiter
    ) {
        guard case .opening = state, let context, context.channel.isActive else {
            streams.leave()
            return
        }
        // The stream writes its own bytes (head, chunks framed once for every subscriber): the
        // HTTP codec leaves the pipeline. A server whose pipeline lacks it cannot take streams.
        guard Self.dropHTTPCodec(context) else {
            takeover.logger.error("live stream refused: the connection's HTTP codec was not found")
            streams.leave()
            refuse(
                HTTPResponse(
                    status: .internalServerError, headerFields: [.contentType: "application/json; charset=utf-8"]),
                body: ByteBuffer(string: #"{"error":{"message":"live stream unavailable"}}"#))
            return
        }
        state = .streaming(connection, hub, streams)
        written = connection.seen
        lastWrite = hub.clock.nowMillis
        // An answer without a body has a length of 0; the stream's is open-ended (chunked).
        var head = head
        head.headerFields[.contentLength] = nil
        head.headerFields[.transferEncoding] = "chunked"
        context.write(NIOAny(Self.bytes(of: head)), promise: nil)
        for event in first { context.write(NIOAny(StreamHub.chunk(event)), promise: nil) }
        context.flush()
        context.read()
        hub.add(connection)
    }

    /// Takes the HTTP codec out of the pipeline; false, leaving it, when one of its handlers is
    /// not there.
    private static func dropHTTPCodec(_ context: ChannelHandlerContext) -> Bool {
        let pipeline = context.pipeline.syncOperations
        guard let codec = try? pipeline.context(handlerType: HTTP1ToHTTPServerCodec.self),
            let encoder = try? pipeline.context(handlerType: HTTPResponseEncoder.self),
            let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
        else { return false }
        for handler in [codec, encoder, decoder] { pipeline.removeHandler(context: handler, promise: nil) }
        return true
    }

    /// A response head as HTTP/1.1 writes it.
    static func bytes(of head: HTTPResponse) -> ByteBuffer {
        var text = "HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n"
        for field in head.headerFields { text += "\(field.name.rawName): \(field.value)\r\n" }
        return ByteBuffer(string: text + "\r\n")
    }

    /// A stream refused (a bad request, the rate limit, too many streams): its answer, then the
    /// connection closes.
    func refuse(_ head: HTTPResponse, body: ByteBuffer) {
        guard case .opening = state, let context else { return }
        state = .ended
        var head = head
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(HTTPResponsePart.head(head)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(HTTPResponsePart.body(body)), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(HTTPResponsePart.end(nil)), promise: nil)
        context.close(promise: nil)
    }

    /// One event from the hub: written if it follows what was written and the client reads; else
    /// the hub is told what the client has.
    func deliver(_ delivery: StreamHub.Delivery) {
        guard case .streaming(let connection, let hub, _) = state, let context, !lagging else { return }
        guard delivery.from == written else {
            // Sent from a version it does not have (it was not reading meanwhile): start again
            // from what it has.
            connection.seen = written
            hub.catchUp(connection)
            return
        }
        guard delivery.chunk.readableBytes > 0 else {
            written = delivery.to
            return
        }
        guard context.channel.isWritable else {
            lagging = true
            connection.lagging.store(true, ordering: .releasing)
            hub.countSkipped()
            return
        }
        context.writeAndFlush(NIOAny(delivery.chunk), promise: nil)
        written = delivery.to
        lastWrite = hub.clock.nowMillis
    }

    /// A comment line when nothing was written for `keepAliveMillis`.
    func keepAlive(now: Int64) {
        guard case .streaming = state, let context, !lagging, now - lastWrite >= StreamHub.keepAliveMillis,
            context.channel.isWritable
        else { return }
        context.writeAndFlush(NIOAny(Self.keepAliveChunk), promise: nil)
        lastWrite = now
    }

    private static let keepAliveChunk = StreamHub.chunk(ServerSentEvent.comment("keep-alive"))

    /// Ends the stream: its last chunk, then the channel closes.
    private func finish(_ context: ChannelHandlerContext) {
        switch state {
        case .streaming:
            end()
            // Closed at once, not once the last chunk is taken: a client that does not read must
            // not hold a shutdown.
            context.writeAndFlush(NIOAny(ByteBuffer(string: "0\r\n\r\n")), promise: nil)
            context.close(promise: nil)
        case .opening:
            state = .ended
            context.close(promise: nil)
        case .first, .passing, .ended:
            break
        }
    }

    /// The hub stops serving the stream and its place is given back.
    private func end() {
        if case .streaming(let connection, let hub, let streams) = state {
            hub.remove(connection)
            streams.leave()
        }
        if takenOver { state = .ended }
    }
}

/// The API's connections: Hummingbird's HTTP/1 with the WebSocket upgrade, except that a
/// connection whose first request is the live stream is left to its event loop
/// (`StreamTakeoverHandler`) and its task ends as soon as that is known, instead of waiting for
/// the connection to close: ten thousand subscribers hold no task.
struct StreamFirstChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let inner: HTTP1WebSocketUpgradeChannel.Value
        /// Whether the connection's first request is the live stream.
        let stream: EventLoopFuture<Bool>
        var channel: any Channel { inner.channel }
    }

    let inner: HTTP1WebSocketUpgradeChannel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).map { value in
            let signal = FirstRequestSignal(channel.eventLoop.makePromise())
            let pipeline = channel.pipeline.syncOperations
            do {
                // Right after the HTTP decoder: it sees the first request before the WebSocket
                // upgrade does.
                let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try pipeline.addHandler(signal, position: .after(decoder))
            } catch {
                signal.decide(false)
            }
            return Value(inner: value, stream: signal.decided.futureResult)
        }
    }

    func handle(value: Value, logger: Logger) async {
        if (try? await value.stream.get()) == true { return }
        await inner.handle(value: value.inner, logger: logger)
    }
}

/// Says whether a connection's first request is the live stream (`StreamFirstChannel`).
final class FirstRequestSignal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    let decided: EventLoopPromise<Bool>
    private var open = true

    init(_ decided: EventLoopPromise<Bool>) {
        self.decided = decided
    }

    func decide(_ stream: Bool) {
        guard open else { return }
        open = false
        decided.succeed(stream)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            decide(
                StreamTakeover.isStream(
                    get: head.method == .GET, path: head.uri, upgrade: head.headers.contains(name: "upgrade")))
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Bytes that are not HTTP before any request: nothing else would answer them (the
        // WebSocket upgrade waits for a request), and the connection would stay open.
        if open, error is HTTPParserError {
            decide(false)
            let head = HTTPResponseHead(
                version: .http1_1, status: .badRequest, headers: ["connection": "close", "content-length": "0"])
            context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
            context.close(promise: nil)
            return
        }
        decide(false)
        context.fireErrorCaught(error)
    }

    func handlerRemoved(context: ChannelHandlerContext) { decide(false) }
}
