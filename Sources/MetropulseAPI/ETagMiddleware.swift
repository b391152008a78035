import Foundation
import Hummingbird
import MetropulseCore
import NIOCore
import Synchronization

/// GET answers of `/api` carry a strong `ETag` (a digest of the body); a client that sends it back
/// in `If-None-Match` gets `304 Not Modified` and no body while the answer is the same. The live
/// streams pass through untouched.
struct ETagMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    /// Bodies past this size are not buffered to be digested (none of the API's answers is near it).
    static let maxBody = 32 << 20

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .get || request.method == .head else { return try await next(request, context) }
        var response = try await next(request, context)
        guard response.status == .ok, response.headers[.eTag] == nil,
            response.headers[.contentType]?.hasPrefix("application/json") == true,
            let length = response.body.contentLength, length <= Self.maxBody
        else { return response }
        let collected = Collected()
        try await response.body.write(CollectingWriter(into: collected))
        let buffer = collected.buffer.withLock { $0 }
        let tag = "\"" + ContentHash.fnv1a64(buffer.readableBytesView) + "\""
        response.headers[.eTag] = tag
        if let given = request.headers[.ifNoneMatch], Self.matches(given, tag) {
            var notModified = Response(status: .notModified, headers: response.headers)
            notModified.headers[.contentLength] = nil
            notModified.headers[.contentType] = nil
            return notModified
        }
        response.body = ResponseBody(byteBuffer: buffer)
        return response
    }

    /// `If-None-Match`: `*`, or a list of tags (weak ones compare by their value).
    static func matches(_ header: String, _ tag: String) -> Bool {
        header.split(separator: ",").contains { part in
            let candidate = part.trimmingCharacters(in: .whitespaces)
            return candidate == "*" || candidate == tag || candidate == "W/" + tag
        }
    }

    final class Collected: Sendable {
        let buffer = Mutex(ByteBuffer())
    }

    struct CollectingWriter: ResponseBodyWriter {
        let into: Collected

        mutating func write(_ buffer: ByteBuffer) async throws {
            var buffer = buffer
            into.buffer.withLock { $0.writeBuffer(&buffer) }
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
