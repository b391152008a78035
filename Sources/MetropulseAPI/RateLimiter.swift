package import MetropulseCore
import Synchronization

/// Token buckets per client: a client may send `requests` at once and gets them back evenly over
/// `window`. Clients are API keys (by name) or, without a key, remote addresses; each kind of client
/// has its own policy (`api.rate_limit`, `api.rate_limit_keyed`, `api.rate_limit_admin`).
package final class RateLimiter: Sendable {
    package struct Policy: Sendable, Hashable {
        /// Named in the `RateLimit-Policy` header.
        package var name: String
        package var requests: Int
        package var windowMillis: Int64

        package init(name: String, requests: Int, windowMillis: Int64) {
            self.name = name
            self.requests = max(1, requests)
            self.windowMillis = max(1, windowMillis)
        }
    }

    package struct Decision: Sendable, Hashable {
        package var allowed: Bool
        /// Requests left now.
        package var remaining: Int
        /// Seconds until the bucket is full again.
        package var resetSeconds: Int
        /// Seconds until the next request is allowed (when refused).
        package var retryAfterSeconds: Int
    }

    private struct Bucket {
        var tokens: Double
        var updated: Int64
        /// Its policy's size and refill rate (tokens per ms).
        var capacity: Double
        var rate: Double

        /// Full again by `now`: nothing would be lost by forgetting it.
        func isFull(at now: Int64) -> Bool { tokens + Double(max(0, now - updated)) * rate >= capacity }
    }

    package let anonymous: Policy?
    package let keyed: Policy?
    package let admin: Policy?
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Past this many clients, the buckets that filled up again are forgotten.
    static let maxClients = 100_000

    package init(anonymous: Policy? = nil, keyed: Policy? = nil, admin: Policy? = nil) {
        self.anonymous = anonymous
        self.keyed = keyed
        self.admin = admin
    }

    package var isEnabled: Bool { anonymous != nil || keyed != nil || admin != nil }

    /// Takes one request from `client`'s bucket under `policy`.
    package func take(client: String, policy: Policy, now: Int64) -> Decision {
        let capacity = Double(policy.requests)
        let rate = capacity / Double(policy.windowMillis)  // tokens per ms
        return buckets.withLock { buckets in
            var bucket = buckets[client] ?? Bucket(tokens: capacity, updated: now, capacity: capacity, rate: rate)
            bucket.tokens = min(capacity, bucket.tokens + Double(max(0, now - bucket.updated)) * rate)
            bucket.updated = max(bucket.updated, now)
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            if buckets.count >= Self.maxClients, buckets[client] == nil {
                buckets = buckets.filter { !$0.value.isFull(at: now) }
            }
            buckets[client] = bucket
            let missing = capacity - bucket.tokens
            return Decision(
                allowed: allowed, remaining: Int(bucket.tokens.rounded(.down)),
                resetSeconds: Int((missing / rate / 1_000).rounded(.up)),
                retryAfterSeconds: allowed ? 0 : max(1, Int(((1 - bucket.tokens) / rate / 1_000).rounded(.up))))
        }
    }
}
