public import AsyncHTTPClient
import Foundation
public import MetropulseCore
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import Synchronization

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

    public init(
        client: HTTPClient, gate: HostGate = HostGate(limit: 4), clock: WallClock = .system,
        resolve: @escaping @Sendable (String) async -> String = { $0 }
    ) {
        self.client = client
        self.gate = gate
        self.clock = clock
        self.resolve = resolve
    }

    /// The client configuration feeds need: gzip/deflate bodies decoded (at most
    /// `maxDecompressedBytes` after decoding, whatever a source allows), connect and read
    /// timeouts, and no redirects followed by the client: `get` follows them itself, checking
    /// each hop against the source's limits.
    public static func clientConfiguration(maxDecompressedBytes: Int = 1 << 30) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        configuration.decompression = .enabled(limit: .size(maxDecompressedBytes))
        configuration.redirectConfiguration = .disallow
        // A refused or failed connection fails the attempt at once with its reason; the worker's
        // retry policy decides when to try again.
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// GET `url` within `timeoutMillis`, counted over the whole fetch: waiting for the host's
    /// turn, the headers and the body together. A `304` answer to a conditional request returns
    /// a `notModified` document; any other status outside 200–299 throws `.httpStatus`.
    /// Redirects are followed within `limits` (never from `https` to `http`); `headers` (the
    /// source's API key) go only to the URL's own origin; an address the source may not reach is
    /// refused before anything is sent.
    public func get(
        _ url: String, timeoutMillis: Int64, limits: FetchLimits = FetchLimits(),
        ifChangedSince validators: Validators? = nil, headers extra: [(String, String)] = []
    ) async throws -> Document {
        let timeout = max(1, timeoutMillis)
        // The client's own deadline ends a request that is still connecting or waiting for its
        // headers (and says why); the timer, a little later, ends anything else still going: a
        // host's turn waited for, or a body trickling in.
        let deadline = NIODeadline.now() + .milliseconds(timeout)
        // The timer runs on an event loop and only cancels the fetch: a result already in hand
        // is never turned into a timeout by a busy machine.
        let timedOut = Mutex(false)
        let work = Task {
            try await self.follow(
                url, deadline: deadline, timeoutMillis: timeout, limits: limits, validators: validators, extra: extra)
        }
        let timer = client.eventLoopGroup.next().scheduleTask(in: .milliseconds(timeout + Self.grace(timeout))) {
            timedOut.withLock { $0 = true }
            work.cancel()
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await work.value
            } onCancel: {
                work.cancel()
            }
        } catch is CancellationError where timedOut.withLock({ $0 }) {
            throw FetchError(
                .timeout, "GET \(url) took longer than \(timeout) ms (waiting for the host, the headers and the body)")
        }
    }

    /// The client reports its own deadline with the reason (refused, no answer), so the whole
    /// fetch is cut a little later: half the timeout, at least a second.
    static func grace(_ timeoutMillis: Int64) -> Int64 { max(1_000, timeoutMillis / 2) }

    private func follow(
        _ url: String, deadline: NIODeadline, timeoutMillis: Int64, limits: FetchLimits, validators: Validators?,
        extra: [(String, String)]
    ) async throws -> Document {
        var current = url
        var resolved = await resolve(url)
        let origin = Self.origin(of: resolved)
        var redirects = 0
        while true {
            if !limits.allowPrivateAddresses, !current.hasPrefix("demo:"),
                let reason = await AddressPolicy.refusal(host: Self.hostname(of: resolved))
            {
                throw FetchError(
                    .refused, "GET \(current) not sent: \(reason) (allow_private_addresses lets a source reach it)")
            }
            let sameOrigin = Self.origin(of: resolved) == origin
            let document = try await send(
                resolved, reported: current, deadline: deadline, timeoutMillis: timeoutMillis, limits: limits,
                validators: validators, extra: sameOrigin ? extra : [])
            guard [301, 302, 303, 307, 308].contains(document.status), let location = document.header("Location")
            else { return document }
            guard redirects < limits.maxRedirects else {
                throw FetchError(
                    .refused, "GET \(url): more than \(limits.maxRedirects) redirects", httpStatus: document.status)
            }
            guard let next = Self.absolute(location, from: resolved) else {
                throw FetchError(
                    .refused, "GET \(current) redirected to '\(location)', not an http(s) URL",
                    httpStatus: document.status)
            }
            if resolved.lowercased().hasPrefix("https:") && next.lowercased().hasPrefix("http:") {
                throw FetchError(
                    .refused, "GET \(current) redirected from https to http (\(next)): not followed",
                    httpStatus: document.status)
            }
            redirects += 1
            (current, resolved) = (next, next)
        }
    }

    /// One request: the host's turn (given up while waiting, with the pool slot), then the
    /// response. Redirect answers come back as documents for `follow`.
    private func send(
        _ resolved: String, reported url: String, deadline: NIODeadline, timeoutMillis: Int64, limits: FetchLimits,
        validators: Validators?, extra: [(String, String)]
    ) async throws -> Document {
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
        if await !gate.tryAcquire(host) {
            // Waiting for a busy host holds no pool slot.
            FetchSlot.current?.release()
            try await gate.acquire(host)
            await FetchSlot.current?.reacquire()
        }
        do {
            let document = try await execute(
                request, url: url, host: host, deadline: deadline, timeoutMillis: timeoutMillis, limits: limits)
            await gate.release(host)
            return document
        } catch {
            await gate.release(host)
            throw error
        }
    }

    private func execute(
        _ request: HTTPClientRequest, url: String, host: String, deadline: NIODeadline, timeoutMillis: Int64,
        limits: FetchLimits
    ) async throws -> Document {
        do {
            let response = try await client.execute(request, deadline: deadline)
            let status = Int(response.status.code)
            let headers = response.headers.map { ($0.name, $0.value) }
            if status == 304 || (300..<400).contains(status) {
                _ = try? await response.body.collect(upTo: 64 << 10)
                return Document(url: url, status: status, body: [], headers: headers)
            }
            guard (200..<300).contains(status) else {
                _ = try? await response.body.collect(upTo: 64 << 10)
                let now = clock.nowMillis
                let retryAfter = Self.retryAfterMillis(response.headers.first(name: "Retry-After"), now: now).map {
                    min($0, limits.maxRetryAfterMillis)
                }
                if let retryAfter, status == 429 || status == 503 {
                    await gate.pause(host, until: now + retryAfter)
                }
                let wait = retryAfter.map { " (Retry-After \($0) ms)" } ?? ""
                throw FetchError(
                    .httpStatus, "GET \(url) answered HTTP \(status)\(wait)", httpStatus: status,
                    retryAfterMillis: retryAfter)
            }
            if let declared = response.headers.first(name: "Content-Length").flatMap({ Int($0) }),
                declared > limits.maxBodyBytes
            {
                throw FetchError(
                    .tooLarge, "GET \(url): the body is \(declared) bytes, past the limit of \(limits.maxBodyBytes)",
                    httpStatus: status)
            }
            // The client hands over decoded bytes: a compressed body is held to the decompressed limit.
            let compressed =
                response.headers.first(name: "Content-Encoding").map { $0.lowercased() != "identity" } ?? false
            let limit = compressed ? limits.maxDecompressedBytes : limits.maxBodyBytes
            let buffer: ByteBuffer
            do {
                buffer = try await response.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                throw FetchError(
                    .tooLarge,
                    "GET \(url): the body is larger than \(limit) bytes\(compressed ? " once decompressed" : "")",
                    httpStatus: status)
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

    /// `scheme://host[:port]`, lowercased: where an API key may go.
    static func origin(of url: String) -> String {
        let scheme = url.prefix { $0 != ":" }.lowercased()
        return "\(scheme)://\(host(of: url))"
    }

    /// The host of a URL without its port or brackets' contents changed (`[::1]` stays `[::1]`).
    static func hostname(of url: String) -> String {
        let authority = host(of: url)
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[...close])
        }
        return String(authority.prefix { $0 != ":" })
    }

    /// A `Location` made absolute against the URL that answered; nil unless http(s).
    static func absolute(_ location: String, from base: String) -> String? {
        guard let next = URL(string: location, relativeTo: URL(string: base))?.absoluteURL,
            let scheme = next.scheme?.lowercased(), scheme == "http" || scheme == "https", next.host != nil
        else { return nil }
        return next.absoluteString
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
        if let error = error as? NIOHTTPDecompression.DecompressionError {
            if error == .limit {
                return FetchError(.tooLarge, "GET \(url): the body inflates past the decompression limit")
            }
            return FetchError(.decode, "GET \(url): the compressed body could not be decoded: \(error)")
        }
        if error is NIOHTTPDecompression.ExtraDecompressionError {
            return FetchError(.decode, "GET \(url): the compressed body could not be decoded: \(error)")
        }
        if error is NIOTooManyBytesError {
            return FetchError(.tooLarge, "GET \(url): body larger than the allowed size")
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
        if let seconds = Int64(value) {
            return Timestamp.millis(seconds: max(0, seconds)) ?? Timestamp.feedRange.upperBound
        }
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
