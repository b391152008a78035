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
