import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MetropulseCore
import Testing

@testable import MetropulseAPI

@Suite("Rate limits: token buckets per client")
struct RateLimitTests {
    @Test("the 101st request in a window of 100 is a 429 with Retry-After and the RateLimit headers")
    func hundredAndFirst() async throws {
        var api = try TestAPI(sources: [])
        defer { api.close() }
        api.environment.rateLimiter = RateLimiter(
            anonymous: .init(name: "anonymous", requests: 100, windowMillis: 60_000),
            admin: .init(name: "admin", requests: 3, windowMillis: 60_000))
        try await api.test { client in
            for n in 1...100 {
                try await client.execute(uri: "/api/sources", method: .get) { response in
                    #expect(response.status == .ok, "request \(n)")
                    #expect(response.headers[.init("RateLimit-Policy")!] == "\"anonymous\";q=100;w=60")
                    if n == 100 { #expect(response.headers[.init("RateLimit")!] == "\"anonymous\";r=0;t=60") }
                }
            }
            try await client.execute(uri: "/api/sources", method: .get) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.retryAfter] == "1", "one request comes back every 0.6 s")
                #expect(response.headers[.init("RateLimit")!] == "\"anonymous\";r=0;t=60")
                let body = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView))
                #expect(body.error.message.hasPrefix("rate limit: 100 requests per 60 s for this address"))
            }
            // A live stream, answered before the router, counts against the same bucket.
            try await client.execute(uri: "/api/stream?topics=stations", method: .get) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.init("RateLimit")!] == "\"anonymous\";r=0;t=60")
            }
            // An admin key has its own bucket and policy; a read key here has none (no limit).
            var admin = HTTPFields()
            admin[.init("X-API-Key")!] = TestAPI.adminKey
            for n in 1...4 {
                try await client.execute(uri: "/api/system/queue", method: .get, headers: admin) { response in
                    #expect(response.status == (n <= 3 ? .ok : .tooManyRequests), "admin request \(n)")
                }
            }
            var read = HTTPFields()
            read[.init("X-API-Key")!] = TestAPI.readKey
            try await client.execute(uri: "/api/sources", method: .get, headers: read) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.init("RateLimit")!] == nil)
            }
            // Pages and probes are not limited.
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("a bucket refills evenly over its window; clients have buckets of their own")
    func refill() {
        let limiter = RateLimiter(anonymous: .init(name: "anonymous", requests: 10, windowMillis: 10_000))
        let policy = try! #require(limiter.anonymous)
        for _ in 0..<10 { #expect(limiter.take(client: "a", policy: policy, now: 0).allowed) }
        let refused = limiter.take(client: "a", policy: policy, now: 0)
        #expect(!refused.allowed && refused.retryAfterSeconds == 1 && refused.resetSeconds == 10)
        #expect(limiter.take(client: "b", policy: policy, now: 0).allowed, "another client")
        #expect(limiter.take(client: "a", policy: policy, now: 1_000).allowed, "one back after a tenth of the window")
        #expect(!limiter.take(client: "a", policy: policy, now: 1_000).allowed)
        #expect(limiter.take(client: "a", policy: policy, now: 60_000).remaining == 9, "full again, less this one")
    }
}
