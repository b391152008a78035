import AsyncHTTPClient
import Foundation
import Hummingbird
import MetropulseApp
import MetropulseConnectors
import MetropulseCore
import NIOCore
import Synchronization
import Testing

/// A feed server that does what no honest publisher does, and the fetch limits that hold it off.
@Suite("Hostile feeds")
struct HostileFeedTests {
    /// Serves the hostile routes; `/echo-key` answers with the API key it was sent, or `none`.
    static func hostileRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("big") { _, _ in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0x20, count: 2 << 20)))
        }
        router.get("bomb") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentEncoding: "gzip"],
                body: .init(byteBuffer: ByteBuffer(bytes: GzipStored.encode([UInt8](repeating: 0x20, count: 3 << 20)))))
        }
        router.get("trickle") { _, _ -> Response in
            Response(
                status: .ok,
                body: ResponseBody { writer in
                    for _ in 0..<200 {
                        try await writer.write(ByteBuffer(string: " "))
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    try await writer.finish(nil)
                })
        }
        router.get("loop") { request, _ -> Response in
            Response(status: .found, headers: [.location: "/loop?n=\(request.uri.query ?? "")x"])
        }
        router.get("limited") { _, _ -> Response in
            Response(status: .tooManyRequests, headers: [.retryAfter: "999999999999"])
        }
        router.get("echo-key") { request, _ -> String in
            request.headers[.init("apikey")!] ?? "none"
        }
        router.get("deep/gbfs.json") { _, _ -> String in
            "{\"last_updated\": 1, \"data\": {\"en\": " + String(repeating: "[", count: 100_000) + "}}"
        }
        router.get("html/feed.pb") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/html"],
                body: .init(byteBuffer: ByteBuffer(string: "<html><body>maintenance</body></html>")))
        }
        router.get("truncated/feed.pb") { _, _ -> Response in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: [0x0A, 0x7F, 0x0A, 0x03, 0x32, 0x2E])))
        }
        return router
    }

    static func fetchError(
        _ http: FeedHTTPClient, _ url: String, timeout: Int64 = 5_000, limits: FetchLimits = .local,
        headers: [(String, String)] = []
    ) async -> FetchError? {
        do {
            _ = try await http.get(url, timeoutMillis: timeout, limits: limits, headers: headers)
            return nil
        } catch {
            return error as? FetchError
        }
    }

    @Test("size, decompression, trickle, redirect and Retry-After limits, each failing with its reason")
    func limits() async throws {
        let publisher = try await Publisher.start(Self.hostileRouter())
        defer { publisher.task.cancel() }
        let http = FeedMannersTests.client()
        var small = FetchLimits.local
        small.maxBodyBytes = 1 << 20
        small.maxDecompressedBytes = 1 << 20
        small.maxRetryAfterMillis = 5_000

        let big = await Self.fetchError(http, publisher.url("big"), limits: small)
        #expect(big?.kind == .tooLarge && big?.message.contains("past the limit") == true, "\(String(describing: big))")
        let bomb = await Self.fetchError(http, publisher.url("bomb"), limits: small)
        #expect(bomb?.kind == .tooLarge, "\(String(describing: bomb))")

        let started = ContinuousClock.now
        let trickle = await Self.fetchError(http, publisher.url("trickle"), timeout: 500)
        #expect(trickle?.kind == .timeout, "\(String(describing: trickle))")
        // Cut within the timeout and its grace, not after the 20 s the body would take.
        #expect(ContinuousClock.now - started < .seconds(10))

        let loop = await Self.fetchError(http, publisher.url("loop"))
        #expect(loop?.kind == .refused && loop?.message.contains("more than 5 redirects") == true)

        let limited = await Self.fetchError(http, publisher.url("limited"), limits: small)
        #expect(limited?.kind == .httpStatus && limited?.retryAfterMillis == 5_000)
    }

    @Test("private and loopback addresses are refused unless the source allows them, in any spelling")
    func addresses() async throws {
        let publisher = try await Publisher.start(Self.hostileRouter())
        defer { publisher.task.cancel() }
        let http = FeedMannersTests.client()
        for host in [
            "127.0.0.1", "localhost", "2130706433", "[::1]", "[::ffff:127.0.0.1]", "10.0.0.1", "169.254.169.254",
            "[fd00::1]",
        ] {
            let error = await Self.fetchError(
                http, "http://\(host):\(publisher.port)/echo-key", timeout: 10_000, limits: FetchLimits())
            #expect(error?.kind == .refused, "\(host): \(String(describing: error))")
        }
        let allowed = try await http.get(publisher.url("echo-key"), timeoutMillis: 10_000, limits: .local)
        #expect(allowed.status == 200)
    }

    @Test("the API key goes to the source's origin only, never after a redirect elsewhere")
    func keyStaysHome() async throws {
        let other = try await Publisher.start(Self.hostileRouter())
        defer { other.task.cancel() }
        let router = Self.hostileRouter()
        let elsewhere = other.url("echo-key")
        router.get("away") { _, _ in Response(status: .temporaryRedirect, headers: [.location: elsewhere]) }
        router.get("home") { _, _ in Response(status: .temporaryRedirect, headers: [.location: "/echo-key"]) }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        let http = FeedMannersTests.client()
        let key = [("apikey", "s3cret")]
        let home = try await http.get(publisher.url("home"), timeoutMillis: 10_000, limits: .local, headers: key)
        #expect(String(decoding: home.body, as: UTF8.self) == "s3cret")
        let away = try await http.get(publisher.url("away"), timeoutMillis: 10_000, limits: .local, headers: key)
        #expect(String(decoding: away.body, as: UTF8.self) == "none")
    }

    @Test("serve pointed at every hostile feed stays up: each run failed with its reason, the demo city flows")
    func serveSurvives() async throws {
        let publisher = try await Publisher.start(Self.hostileRouter())
        defer { publisher.task.cancel() }
        var limits = FetchLimits.local
        limits.maxBodyBytes = 1 << 20
        limits.maxDecompressedBytes = 1 << 20
        func hostile(_ id: String, _ kind: SourceKind, _ path: String, timeout: Int64 = 10_000) -> SourceDefinition {
            SourceDefinition(
                id: id, kind: kind, urls: [publisher.url(path)], intervalMillis: 86_400_000, timeoutMillis: timeout,
                maxAttempts: 1, limits: limits)
        }
        let expected: [String: FetchErrorKind] = [
            "big": .tooLarge, "bomb": .tooLarge, "trickle": .timeout, "loop": .refused, "deep": .decode,
            "html": .decode, "truncated": .decode, "private": .refused,
        ]
        var sources = [MetropulseConfiguration.demoSources[0]]
        sources += [
            hostile("big", .gbfs, "big"), hostile("bomb", .gbfs, "bomb"),
            hostile("trickle", .gbfs, "trickle", timeout: 500), hostile("loop", .gbfs, "loop"),
            hostile("deep", .gbfs, "deep/gbfs.json"), hostile("html", .gtfsRT, "html/feed.pb"),
            hostile("truncated", .gtfsRT, "truncated/feed.pb"),
            SourceDefinition(
                id: "private", kind: .gbfs, urls: ["http://169.254.169.254/latest/meta-data/"],
                intervalMillis: 86_400_000, maxAttempts: 1),
        ]
        let app = try await RunningApp.start(
            configuration(database: try temporaryFolder() + "/h.sqlite", sources: sources))
        let store = app.runtime.backend.store
        try await eventually("every hostile source has a failed run", timeout: .seconds(60)) {
            let runs = try await store.taskRuns(TaskRunQuery(status: .failed, limit: 100))
            return Set(runs.map(\.sourceID)).isSuperset(of: expected.keys)
        }
        let runs = try await store.taskRuns(TaskRunQuery(status: .failed, limit: 100))
        for (source, kind) in expected {
            let run = try #require(runs.first { $0.sourceID == source })
            #expect(run.errorKind == kind, "\(source): \(run.errorMessage ?? "")")
            #expect(run.errorMessage?.isEmpty == false)
        }
        try await eventually("the demo bikes keep flowing") {
            try await store.taskRuns(TaskRunQuery(status: .succeeded, sourceID: "demo-bikes")).count >= 1
        }
        #expect(try await getJSON("\(app.base)/healthz").status == 200)
        try await app.stop()
    }
}
