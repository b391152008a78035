public import AsyncHTTPClient
import MetropulseCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// Fetches feed documents over HTTP and classifies every failure as a `FetchError`.
///
/// URLs with the `demo:` scheme are resolved against the local demo city server.
public struct FeedHTTPClient: Sendable {
    /// A fetched document.
    public struct Document: Sendable {
        public var url: String
        public var status: Int
        public var body: [UInt8]
        public var headers: [(String, String)]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    public let client: HTTPClient
    private let resolve: @Sendable (String) async -> String
    public var maxBodyBytes: Int

    public init(
        client: HTTPClient, maxBodyBytes: Int = 64 << 20, resolve: @escaping @Sendable (String) async -> String = { $0 }
    ) {
        self.client = client
        self.maxBodyBytes = maxBodyBytes
        self.resolve = resolve
    }

    /// GET `url` within `timeoutMillis`. Any status outside 200–299 throws `.httpStatus`.
    public func get(_ url: String, timeoutMillis: Int64) async throws -> Document {
        let resolved = await resolve(url)
        var request = HTTPClientRequest(url: resolved)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json, application/x-protobuf, */*")
        request.headers.add(name: "User-Agent", value: "metropulse/0.1")
        let deadline = NIODeadline.now() + .milliseconds(timeoutMillis)
        do {
            let response = try await client.execute(request, deadline: deadline)
            let buffer = try await response.body.collect(upTo: maxBodyBytes)
            let status = Int(response.status.code)
            let headers = response.headers.map { ($0.name, $0.value) }
            guard (200..<300).contains(status) else {
                throw FetchError(
                    .httpStatus, "GET \(url) answered HTTP \(status)", httpStatus: status,
                    retryAfterMillis: Self.retryAfterMillis(response.headers.first(name: "Retry-After")))
            }
            return Document(url: url, status: status, body: Array(buffer.readableBytesView), headers: headers)
        } catch let error as FetchError {
            throw error
        } catch {
            // A cancelled task is not a failed fetch: let the worker leave the lease to expire.
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            throw Self.classify(error, url: url, timeoutMillis: timeoutMillis)
        }
    }

    static func classify(_ error: any Error, url: String, timeoutMillis: Int64) -> FetchError {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return FetchError(.timeout, "GET \(url) took longer than \(timeoutMillis) ms")
            case .invalidURL, .emptyHost, .emptyScheme:
                return FetchError(.configuration, "invalid URL \(url): \(error)")
            default:
                break
            }
        }
        if error is NIOTooManyBytesError {
            return FetchError(.parse, "GET \(url): body larger than the allowed size")
        }
        return FetchError(.network, "GET \(url) failed: \(describe(error))")
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            let causes = error.connectionErrors.map { "\($0.error)" }
            if let dns = error.dnsAAAAError ?? error.dnsAError { return "DNS lookup failed: \(dns)" }
            return causes.isEmpty ? "\(error)" : "connection failed: " + causes.joined(separator: "; ")
        }
        return "\(error)"
    }

    /// `Retry-After` as delta-seconds (HTTP dates are not honoured; they are rare on feeds).
    static func retryAfterMillis(_ value: String?) -> Int64? {
        guard let value, let seconds = Int64(value.trimmingWhitespace()) else { return nil }
        return max(0, seconds) * 1000
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
