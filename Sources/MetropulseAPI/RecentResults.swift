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
/// within its period (a 304 to those that send the tag back).
struct EncodedAnswer: Sendable {
    let body: ByteBuffer
    let etag: String

    init(_ value: some Encodable) throws {
        let data = try APIRequestContext.jsonEncoder().encode(value)
        body = ByteBuffer(bytes: data)
        etag = "\"" + ContentHash.fnv1a64(body.readableBytesView) + "\""
    }

    func response(to request: Request) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .eTag: etag]
        if let given = request.headers[.ifNoneMatch], ETagMiddleware.matches(given, etag) {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
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
