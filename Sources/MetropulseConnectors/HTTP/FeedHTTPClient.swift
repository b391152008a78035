public import AsyncHTTPClient
public import MetropulseCore
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Fetches feed documents over HTTP with good manners, and classifies every failure as a
/// `FetchError`:
/// - conditional requests (`If-None-Match` / `If-Modified-Since`) when the caller passes the
///   validators of its last copy; `304 Not Modified` comes back as `Document.notModified`;
/// - `Accept-Encoding: gzip, deflate` (the client must be built with decompression on);
/// - at most `HostGate.limit` requests in flight per host;
/// - a `429` or `503` with `Retry-After` pauses every request to that host until the given time.
///
/// URLs with the `demo:` scheme are resolved against the local demo city server.
public struct FeedHTTPClient: Sendable {
    /// What identifies a copy of a document for a conditional request.
    public struct Validators: Sendable, Hashable {
        public var etag: String?
        public var lastModified: String?

        public init(etag: String? = nil, lastModified: String? = nil) {
            self.etag = etag
            self.lastModified = lastModified
        }

        public var isEmpty: Bool { etag == nil && lastModified == nil }
    }

    /// A fetched document.
    public struct Document: Sendable {
        public var url: String
        public var status: Int
        /// Empty when `notModified`.
        public var body: [UInt8]
        public var headers: [(String, String)]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        /// The server answered `304`: the caller's copy is current.
        public var notModified: Bool { status == 304 }

        /// The validators to send next time.
        public var validators: Validators {
            Validators(etag: header("ETag"), lastModified: header("Last-Modified"))
        }
    }

    public let client: HTTPClient
    public let gate: HostGate
    private let resolve: @Sendable (String) async -> String
    private let clock: WallClock
    public var maxBodyBytes: Int

    public init(
        client: HTTPClient, maxBodyBytes: Int = 64 << 20, gate: HostGate = HostGate(limit: 4),
        clock: WallClock = .system, resolve: @escaping @Sendable (String) async -> String = { $0 }
    ) {
        self.client = client
        self.maxBodyBytes = maxBodyBytes
        self.gate = gate
        self.clock = clock
        self.resolve = resolve
    }

    /// The client configuration feeds need: gzip/deflate bodies decoded (up to 20× and at most
    /// `maxBodyBytes` after decoding), connect and read timeouts.
    public static func clientConfiguration(maxBodyBytes: Int = 64 << 20) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        configuration.decompression = .enabled(limit: .size(maxBodyBytes))
        return configuration
    }

    /// GET `url` within `timeoutMillis` (counted once the host has a free slot). A `304` answer
    /// to a conditional request returns a `notModified` document; any other status outside
    /// 200–299 throws `.httpStatus`.
    public func get(
        _ url: String, timeoutMillis: Int64, ifChangedSince validators: Validators? = nil,
        headers extra: [(String, String)] = []
    ) async throws -> Document {
        let resolved = await resolve(url)
        let host = Self.host(of: resolved)
        if let wait = await gate.pause(for: host, now: clock.nowMillis) {
            throw FetchError(
                .httpStatus, "\(host) asked to wait (Retry-After); not requested for another \(wait) ms",
                httpStatus: 429, retryAfterMillis: wait)
        }
        var request = HTTPClientRequest(url: resolved)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json, application/x-protobuf, application/xml, */*")
        request.headers.add(name: "Accept-Encoding", value: "gzip, deflate")
        request.headers.add(name: "User-Agent", value: "metropulse/0.1")
        for (name, value) in extra { request.headers.replaceOrAdd(name: name, value: value) }
        if let etag = validators?.etag { request.headers.add(name: "If-None-Match", value: etag) }
        if let lastModified = validators?.lastModified {
            request.headers.add(name: "If-Modified-Since", value: lastModified)
        }
        try await gate.acquire(host)
        do {
            let document = try await execute(request, url: url, host: host, timeoutMillis: timeoutMillis)
            await gate.release(host)
            return document
        } catch {
            await gate.release(host)
            throw error
        }
    }

    private func execute(_ request: HTTPClientRequest, url: String, host: String, timeoutMillis: Int64) async throws
        -> Document
    {
        let deadline = NIODeadline.now() + .milliseconds(timeoutMillis)
        do {
            let response = try await client.execute(request, deadline: deadline)
            let buffer = try await response.body.collect(upTo: maxBodyBytes)
            let status = Int(response.status.code)
            let headers = response.headers.map { ($0.name, $0.value) }
            if status == 304 {
                return Document(url: url, status: status, body: [], headers: headers)
            }
            guard (200..<300).contains(status) else {
                let now = clock.nowMillis
                let retryAfter = Self.retryAfterMillis(response.headers.first(name: "Retry-After"), now: now)
                if let retryAfter, status == 429 || status == 503 {
                    await gate.pause(host, until: now + retryAfter)
                }
                let wait = retryAfter.map { " (Retry-After \($0) ms)" } ?? ""
                throw FetchError(
                    .httpStatus, "GET \(url) answered HTTP \(status)\(wait)", httpStatus: status,
                    retryAfterMillis: retryAfter)
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

    static func host(of url: String) -> String {
        let scalars = Array(url.utf8)
        guard let colon = scalars.firstIndex(of: UInt8(ascii: ":")), scalars[colon...].starts(with: "://".utf8)
        else { return url }
        let rest = url.utf8.dropFirst(colon + 3)
        let authority = rest.prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
        let host = authority.split(separator: UInt8(ascii: "@")).last ?? authority
        return String(decoding: host, as: UTF8.self).lowercased()
    }

    static func classify(_ error: any Error, url: String, timeoutMillis: Int64) -> FetchError {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return FetchError(.timeout, "GET \(url) took longer than \(timeoutMillis) ms")
            case .connectTimeout:
                return FetchError(.connect, "GET \(url): the connection timed out")
            case .invalidURL, .emptyHost, .emptyScheme:
                return FetchError(.configuration, "invalid URL \(url): \(error)")
            case .remoteConnectionClosed:
                return FetchError(.network, "GET \(url): the server closed the connection")
            default:
                break
            }
        }
        if error is NIOHTTPDecompression.DecompressionError {
            return FetchError(.decode, "GET \(url): the compressed body could not be decoded: \(error)")
        }
        if error is NIOTooManyBytesError {
            return FetchError(.decode, "GET \(url): body larger than the allowed size")
        }
        if let error = error as? NIOConnectionError {
            if let dns = error.dnsAAAAError ?? error.dnsAError, error.connectionErrors.isEmpty {
                return FetchError(.dns, "GET \(url): DNS lookup failed: \(dns)")
            }
            let causes = error.connectionErrors.map { "\($0.error)" }
            return FetchError(
                .connect,
                "GET \(url): connection failed" + (causes.isEmpty ? "" : ": " + causes.joined(separator: "; ")))
        }
        if let error = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(error.errnoCode) {
            return FetchError(
                .connect,
                "GET \(url): connection failed: \(strerror(error.errnoCode).map { String(cString: $0) } ?? "\(error)")")
        }
        return FetchError(.network, "GET \(url) failed: \(error)")
    }

    /// `Retry-After` as delta-seconds or an HTTP date, in milliseconds from `now`.
    static func retryAfterMillis(_ value: String?, now: Int64) -> Int64? {
        guard let value = value?.trimmingWhitespace(), !value.isEmpty else { return nil }
        if let seconds = Int64(value) { return max(0, seconds) * 1000 }
        if let date = Timestamp.parseHTTPDate(value) { return max(0, date - now) }
        return nil
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
