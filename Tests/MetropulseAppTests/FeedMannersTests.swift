import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import MetropulseApp
import MetropulseConnectors
import MetropulseCore
import NIOCore
import Synchronization
import Testing

/// HTTP manners against a real local publisher: conditional requests, ttl, 429 + Retry-After,
/// gzip, the per-host limit, and error classification.
@Suite("Feed manners")
struct FeedMannersTests {
    final class Counters: Sendable {
        let state = Mutex<[String: Int]>([:])
        func bump(_ key: String, by delta: Int = 1) -> Int {
            state.withLock { counts in
                counts[key, default: 0] += delta
                return counts[key]!
            }
        }
        func peak(_ key: String, _ value: Int) {
            state.withLock { counts in counts[key] = max(counts[key, default: 0], value) }
        }
        subscript(key: String) -> Int { state.withLock { $0[key, default: 0] } }
    }

    /// One client for the suite, built as the runtime builds it (decompression on).
    static let sharedClient = HTTPClient(configuration: FeedHTTPClient.clientConfiguration())

    /// A fresh gate per test, so one test's 429 pause or slots never reach another.
    static func client(limit: Int = 4) -> FeedHTTPClient {
        FeedHTTPClient(client: sharedClient, gate: HostGate(limit: limit))
    }

    static let context = FetchContext(now: 0, logger: quietLogger)

    /// A publisher serving `router` (plus a discovery file) and a GBFS connector reading it.
    static func gbfs(_ router: Router<BasicRequestContext>, id: String) async throws -> (
        Publisher, GBFSConnector, SourceDefinition
    ) {
        TinyGBFS.serveDiscovery(on: router)
        let publisher = try await Publisher.start(router)
        let source = SourceDefinition(id: id, kind: .gbfs, urls: [publisher.url("gbfs.json")], limits: .local)
        return (publisher, GBFSConnector(http: client()), source)
    }

    @Test("ETag and 304: an unchanged status is an unchanged run with the held hash; a new version is fetched")
    func conditional() async throws {
        let counters = Counters()
        let version = Mutex(1)
        let router = Router()
        router.get("station_status.json") { request, _ -> Response in
            let current = version.withLock { $0 }
            let etag = "\"v\(current)\""
            if request.headers[.ifNoneMatch] == etag {
                _ = counters.bump("304")
                return Response(status: .notModified, headers: [.eTag: etag])
            }
            _ = counters.bump("200")
            return Response(
                status: .ok, headers: [.eTag: etag],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: TinyGBFS.status(lastUpdated: 1_700_000_000 + current, bikes: current))))
        }
        let (publisher, connector, source) = try await Self.gbfs(router, id: "etag")
        defer { publisher.task.cancel() }

        let first = try await connector.fetch(source, context: FetchContext(now: 1_000, logger: quietLogger))
        #expect(!first.unchanged && first.observations.count == 1 && first.httpStatus == 200)
        let second = try await connector.fetch(source, context: FetchContext(now: 2_000, logger: quietLogger))
        #expect(second.unchanged && second.observations.count == 0 && second.httpStatus == 304)
        #expect(second.contentHash == first.contentHash && second.feedTimestamp == first.feedTimestamp)
        #expect(counters["200"] == 1 && counters["304"] == 1)

        version.withLock { $0 = 2 }
        let third = try await connector.fetch(source, context: FetchContext(now: 3_000, logger: quietLogger))
        #expect(!third.unchanged && third.observations.stations.first?.bikesAvailable == 2)
        #expect(third.contentHash != first.contentHash)
        #expect(counters["200"] == 2)
    }

    @Test("a GBFS ttl is the minimum interval: within it no request is made")
    func ttl() async throws {
        let counters = Counters()
        let router = Router()
        router.get("station_status.json") { _, _ -> String in
            let n = counters.bump("status")
            return TinyGBFS.status(lastUpdated: 1_700_000_000 + n, bikes: n, ttl: 60)
        }
        let (publisher, connector, source) = try await Self.gbfs(router, id: "ttl")
        defer { publisher.task.cancel() }

        let first = try await connector.fetch(source, context: FetchContext(now: 0, logger: quietLogger))
        let within = try await connector.fetch(source, context: FetchContext(now: 30_000, logger: quietLogger))
        #expect(within.unchanged && within.httpStatus == nil && within.contentHash == first.contentHash)
        #expect(counters["status"] == 1)
        let after = try await connector.fetch(source, context: FetchContext(now: 61_000, logger: quietLogger))
        #expect(!after.unchanged && counters["status"] == 2)
    }

    @Test("429 with Retry-After: the error carries the delay and the host is left alone until then")
    func retryAfter() async throws {
        let counters = Counters()
        let router = Router()
        router.get("limited") { _, _ -> Response in
            _ = counters.bump("limited")
            return Response(status: .tooManyRequests, headers: [.retryAfter: "2"])
        }
        router.get("other") { _, _ in "{}" }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        let http = Self.client()

        let error = await #expect(throws: FetchError.self) {
            _ = try await http.get(publisher.url("limited"), timeoutMillis: 2_000, limits: .local)
        }
        #expect(error?.kind == .httpStatus && error?.httpStatus == 429 && error?.retryAfterMillis == 2_000)
        // Any path on the same host waits: no request is sent.
        let waiting = await #expect(throws: FetchError.self) {
            _ = try await http.get(publisher.url("other"), timeoutMillis: 2_000, limits: .local)
        }
        #expect(waiting?.httpStatus == 429 && (waiting?.retryAfterMillis ?? 0) > 0)
        #expect(waiting?.message.contains("asked to wait") == true)
        #expect(counters["limited"] == 1)
        try await Task.sleep(for: .milliseconds(2_100))
        let document = try await http.get(publisher.url("other"), timeoutMillis: 10_000, limits: .local)
        #expect(document.status == 200)

        // The retry policy never retries sooner than the server asked.
        let disposition = RetryPolicy.exponentialJitter(baseDelayMillis: 100).disposition(
            afterAttempt: 1, maxAttempts: 3, now: 0, error: "429", retryAfterMillis: 2_000)
        guard case .retry(let at, _) = disposition else {
            Issue.record("expected a retry")
            return
        }
        #expect(at >= 2_000)
    }

    @Test("Retry-After as an HTTP date")
    func retryAfterDate() {
        #expect(Timestamp.parseHTTPDate("Wed, 21 Oct 2015 07:28:00 GMT") == 1_445_412_480_000)
        #expect(Timestamp.parseHTTPDate("Wed, 21 Oct 2015 07:28:00") == nil)
        #expect(Timestamp.parseHTTPDate("tomorrow") == nil)
    }

    @Test("gzip bodies are accepted and decoded")
    func gzip() async throws {
        let body = Array(TinyGBFS.status(lastUpdated: 1_700_000_000, bikes: 7).utf8)
        let router = Router()
        router.get("zipped") { request, _ -> Response in
            guard request.headers[.acceptEncoding]?.contains("gzip") == true else {
                return Response(status: .notAcceptable)
            }
            return Response(
                status: .ok, headers: [.contentEncoding: "gzip"],
                body: .init(byteBuffer: ByteBuffer(bytes: GzipStored.encode(body))))
        }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        let http = Self.client()
        let document = try await http.get(publisher.url("zipped"), timeoutMillis: 2_000, limits: .local)
        #expect(document.body == body)
    }

    @Test("at most the per-host limit of requests is in flight to one host")
    func perHostLimit() async throws {
        let counters = Counters()
        let router = Router()
        router.get("slow") { _, _ -> String in
            counters.peak("peak", counters.bump("active"))
            try await Task.sleep(for: .milliseconds(150))
            _ = counters.bump("active", by: -1)
            return "{}"
        }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        let http = Self.client(limit: 2)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 {
                // Not about timeouts: 10 s covers the wait for the host under any load.
                group.addTask {
                    try await http.get(publisher.url("slow"), timeoutMillis: 10_000, limits: .local).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 6))
        #expect(counters["peak"] == 2)
        #expect(await http.gate.inFlight("127.0.0.1:\(publisher.port)") == 0)
    }

    @Test("errors are classified: connect, timeout, http status, decode")
    func classification() async throws {
        let router = Router()
        router.get("slow") { _, _ -> String in
            try await Task.sleep(for: .seconds(2))
            return "{}"
        }
        router.get("missing") { _, _ -> Response in Response(status: .notFound) }
        router.get("garbage/gbfs.json") { _, _ in "<html>" }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        let http = Self.client()
        let refused = "http://127.0.0.1:\(try FailingSourcesTests.closedPort())/gbfs.json"
        // Only the slow case has a short timeout: a loaded machine may take longer than that to answer.
        let cases: [(String, FetchErrorKind, Int64)] = [
            (refused, .connect, 5_000), (publisher.url("slow"), .timeout, 300),
            (publisher.url("missing"), .httpStatus, 5_000),
        ]
        for (url, kind, timeout) in cases {
            let error = await #expect(throws: FetchError.self) {
                _ = try await http.get(url, timeoutMillis: timeout, limits: .local)
            }
            #expect(error?.kind == kind, "\(url): \(String(describing: error))")
        }
        let connector = GBFSConnector(http: http)
        let error = await #expect(throws: FetchError.self) {
            _ = try await connector.fetch(
                SourceDefinition(id: "g", kind: .gbfs, urls: [publisher.url("garbage/gbfs.json")], limits: .local),
                context: Self.context)
        }
        #expect(error?.kind == .decode)
    }
}

/// gzip with stored (uncompressed) deflate blocks: a valid gzip stream any decoder must accept.
enum GzipStored {
    static func encode(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
        var offset = 0
        repeat {
            let count = min(65_535, data.count - offset)
            let final = offset + count == data.count
            out.append(final ? 1 : 0)
            out += [UInt8(count & 0xff), UInt8(count >> 8), UInt8(~count & 0xff), UInt8((~count >> 8) & 0xff)]
            out += data[offset..<offset + count]
            offset += count
        } while offset < data.count
        out += littleEndian(crc32(data)) + littleEndian(UInt32(truncatingIfNeeded: data.count))
        return out
    }

    static func littleEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

@Suite("Feed manners: API keys")
struct APIKeyTests {
    @Test("SIRI-Lite with an API key from the environment, sent as the PRIM-style apikey header")
    func primKey() async throws {
        let root = try #require(
            FixtureLocator.directory(from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path))
        let body = try Data(
            contentsOf: URL(
                fileURLWithPath: root + "/siri/idfm-prim-sirilite/estimated-timetable_LineRef-C00680_2025-02-17.json"))
        let router = Router()
        router.get("estimated-timetable") { request, _ -> Response in
            guard request.headers[.init("apikey")!] == "s3cret" else { return Response(status: .unauthorized) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: Array(body))))
        }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        setenv("METROPULSE_TEST_PRIM_KEY", "s3cret", 1)
        setenv("METROPULSE_TEST_WRONG_KEY", "guess", 1)
        let connector = DocumentConnector.siri(http: FeedMannersTests.client())
        func source(_ variable: String) -> SourceDefinition {
            SourceDefinition(
                id: "prim", kind: .siriLite, urls: [publisher.url("estimated-timetable")], apiKeyEnv: variable,
                limits: .local)
        }
        let result = try await connector.fetch(source("METROPULSE_TEST_PRIM_KEY"), context: FeedMannersTests.context)
        #expect(result.observations.departures.count == 111 && result.httpStatus == 200)

        let missing = await #expect(throws: FetchError.self) {
            _ = try await connector.fetch(source("METROPULSE_TEST_UNSET_KEY"), context: FeedMannersTests.context)
        }
        #expect(missing?.kind == .configuration && missing?.message.contains("METROPULSE_TEST_UNSET_KEY") == true)
        let wrong = await #expect(throws: FetchError.self) {
            _ = try await connector.fetch(source("METROPULSE_TEST_WRONG_KEY"), context: FeedMannersTests.context)
        }
        #expect(wrong?.httpStatus == 401)
    }
}
