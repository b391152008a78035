import Foundation
import Hummingbird
import MetropulseCore
import NIOCore
import Synchronization

/// Answers computed in the last `ttlMillis`, per key, shared by concurrent requests: an expensive
/// open endpoint costs one computation per key and period however many clients ask.
final class RecentResults<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: (at: Int64, task: Task<Value, any Error>)]>([:])
    let ttlMillis: Int64

    init(ttlMillis: Int64) {
        self.ttlMillis = ttlMillis
    }

    func value(
        for key: String, now: Int64, compute: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let task = entries.withLock { entries in
            if let entry = entries[key], now - entry.at < ttlMillis, now >= entry.at { return entry.task }
            let task = Task { try await compute() }
            entries[key] = (now, task)
            if entries.count > 4_096 { entries = entries.filter { now - $0.value.at < ttlMillis } }
            return task
        }
        return try await task.value
    }
}

/// A JSON answer encoded once, with its strong ETag: served as bytes to every client that asks
/// within its period (a 304 to those that send the tag back). A client that accepts gzip gets the
/// body gzip-encoded, compressed once for all of them after the first asks (its tag ends `-gz`).
struct EncodedAnswer: Sendable {
    let body: ByteBuffer
    let etag: String
    private let packed = Packed()

    /// Answers this small are sent as they are.
    static let gzipFrom = 1_024

    /// The plain answer's headers, made once: the answer is served thousands of times a second.
    private let plainHeaders: HTTPFields

    init(_ value: some Encodable) throws {
        let data = try APIRequestContext.jsonEncoder().encode(value)
        body = ByteBuffer(bytes: data)
        etag = "\"" + ContentHash.fnv1a64(body.readableBytesView) + "\""
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .eTag: etag]
        if body.readableBytes >= Self.gzipFrom { headers[.vary] = "Accept-Encoding" }
        headers[.contentLength] = String(body.readableBytes)
        plainHeaders = headers
    }

    /// The tag of the gzip encoding.
    var gzipTag: String { String(etag.dropLast()) + "-gz\"" }

    func response(to request: Request) -> Response {
        let gzip = body.readableBytes >= Self.gzipFrom && acceptsGzip(request) ? packed.gzip(of: body) : nil
        // Either encoding's tag names the same answer.
        if let given = request.headers[.ifNoneMatch],
            ETagMiddleware.matches(given, etag) || ETagMiddleware.matches(given, gzipTag)
        {
            var headers = plainHeaders
            headers[.contentType] = nil
            headers[.contentLength] = nil
            if gzip != nil { headers[.eTag] = gzipTag }
            return Response(status: .notModified, headers: headers)
        }
        if let gzip {
            var headers = plainHeaders
            headers[.eTag] = gzipTag
            headers[.contentEncoding] = "gzip"
            headers[.contentLength] = String(gzip.readableBytes)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: gzip))
        }
        return Response(status: .ok, headers: plainHeaders, body: .init(byteBuffer: body))
    }

    /// The gzip encoding, made once (level 5: a 580 KB answer in a few milliseconds, to a
    /// tenth) in a task of its own: the request that first asks for it, and those until it is
    /// made, get the plain bytes rather than wait.
    final class Packed: Sendable {
        private enum State {
            case none, making, made(ByteBuffer), failed
        }

        private let state = Mutex(State.none)
        /// The most an answer may shrink and still be sent gzip-encoded.
        static let maxRatio = 20

        /// The gzip encoding of `body`, or nil when zlib fails or it shrinks past `maxRatio`:
        /// clients that guard against decompression bombs refuse such bodies (AsyncHTTPClient's
        /// browser-like configuration past 25:1), so those answers are sent plain.
        static func encode(_ body: ByteBuffer) -> ByteBuffer? {
            guard let bytes = Gzip.compress(Array(body.readableBytesView), level: 5),
                bytes.count * maxRatio >= body.readableBytes
            else { return nil }
            return ByteBuffer(bytes: bytes)
        }

        func gzip(of body: ByteBuffer) -> ByteBuffer? {
            let start: Bool = state.withLock { state in
                guard case .none = state else { return false }
                state = .making
                return true
            }
            if start {
                Task.detached(priority: .utility) {
                    let bytes = Self.encode(body)
                    self.state.withLock { $0 = bytes.map { .made($0) } ?? .failed }
                }
            }
            return state.withLock { if case .made(let buffer) = $0 { buffer } else { nil } }
        }
    }
}

/// Like `RecentResults`, for answers that stay right while their `marker` is the same (nothing
/// new stored) but carry times: after `ttlMillis` the answer is computed again, and while that
/// runs the previous one is served, so no request waits for it. A new marker is waited for.
final class FreshAnswers<Value: Sendable>: Sendable {
    private struct Entry {
        var marker: String
        var at: Int64
        var task: Task<Value, any Error>
        /// The last value computed for this marker, served while a newer one is computed.
        var last: Value?
    }

    private let entries = Mutex<[String: Entry]>([:])
    let ttlMillis: Int64

    init(ttlMillis: Int64) {
        self.ttlMillis = ttlMillis
    }

    func value(
        for key: String, marker: String, now: Int64, compute: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let (task, stale): (Task<Value, any Error>, Value?) = entries.withLock { entries in
            if let entry = entries[key], entry.marker == marker {
                if now - entry.at < ttlMillis, now >= entry.at { return (entry.task, entry.last) }
                // Expired: compute again; serve the last value meanwhile, if there is one.
                let task = start(key: key, marker: marker, compute)
                entries[key]?.at = now
                entries[key]?.task = task
                return (task, entry.last)
            }
            let task = start(key: key, marker: marker, compute)
            entries[key] = Entry(marker: marker, at: now, task: task, last: nil)
            if entries.count > 4_096 { entries = entries.filter { now - $0.value.at < ttlMillis } }
            return (task, nil)
        }
        if let stale { return stale }
        return try await task.value
    }

    /// Computes, then keeps the value as the entry's last one (if the entry is still for `marker`).
    private func start(key: String, marker: String, _ compute: @escaping @Sendable () async throws -> Value)
        -> Task<Value, any Error>
    {
        Task {
            let value = try await compute()
            entries.withLock { entries in
                if entries[key]?.marker == marker { entries[key]?.last = value }
            }
            return value
        }
    }
}

/// The sources' states behind the answers kept while nothing new is stored (`FreshAnswers`'
/// markers), without a read of the store per request: a write of runs by this process shows at
/// once (`RunLog.runsWritten` moves), another process's within `followMillis`, the states being
/// read at most that often, once for every request.
final class SourceStateMarks: Sendable {
    /// One reading of the states, and the markers made from it (by scope).
    private struct Entry {
        var written: UInt64
        var at: Int64
        var task: Task<[SourceState], any Error>
        var markers: [String: String] = [:]
    }

    private let entry = Mutex<Entry?>(nil)
    let followMillis: Int64

    init(followMillis: Int64) {
        self.followMillis = followMillis
    }

    /// What moves when a run of one of `sources` (nil: of any source) is stored; `scope` names
    /// that choice (the marker is made once per scope and reading of the states).
    func marker(of store: any RunLog, scope: String, sources: ((String) -> Bool)?, now: Int64) async throws
        -> String
    {
        // Read before the states: a write finishing meanwhile moves it again, so the next
        // request reads once more rather than keeping states older than its write.
        let written = store.runsWritten
        let (task, made) = entry.withLock { entry in
            if let current = entry, current.written == written, now - current.at < followMillis, now >= current.at {
                return (current.task, current.markers[scope])
            }
            let task = Task { try await store.sourceStates() }
            entry = Entry(written: written, at: now, task: task)
            return (task, nil)
        }
        if let made { return made }
        let states: [SourceState]
        do {
            states = try await task.value
        } catch {
            entry.withLock { if $0?.task == task { $0 = nil } }
            throw error
        }
        let marker = states.filter { sources?($0.sourceID) ?? true }
            .map { "\($0.sourceID):\($0.lastRunAt ?? 0):\($0.lastSuccessAt ?? 0)" }.sorted().joined(separator: ",")
        entry.withLock { if $0?.task == task { $0?.markers[scope] = marker } }
        return marker
    }
}
