import Foundation
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

        /// `100/60s`, `5000/1h`; `off` (or empty) is no limit.
        package static func parse(_ text: String, name: String) -> Policy?? {
            let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
            if trimmed.isEmpty || trimmed == "off" || trimmed == "none" { return .some(nil) }
            let parts = trimmed.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let requests = Int(parts[0]), requests >= 1,
                let window = Self.millis(String(parts[1])), window >= 1
            else { return nil }
            return .some(Policy(name: name, requests: requests, windowMillis: window))
        }

        private static func millis(_ text: String) -> Int64? {
            let units: [(String, Int64)] = [
                ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
            ]
            for (suffix, factor) in units where text.hasSuffix(suffix) {
                guard let value = Int64(text.dropLast(suffix.count)), value <= Int64.max / factor else { return nil }
                return value * factor
            }
            return Int64(text).map { $0 * 1_000 }
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
        let rate = Double(policy.requests) / Double(policy.windowMillis)  // tokens per ms
        return buckets.withLock { buckets in
            var bucket = buckets[client] ?? Bucket(tokens: Double(policy.requests), updated: now)
            bucket.tokens = min(Double(policy.requests), bucket.tokens + Double(max(0, now - bucket.updated)) * rate)
            bucket.updated = max(bucket.updated, now)
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            if buckets.count >= Self.maxClients, buckets[client] == nil {
                buckets = buckets.filter {
                    $0.value.tokens + Double(now - $0.value.updated) * rate < Double(policy.requests)
                }
            }
            buckets[client] = bucket
            let missing = Double(policy.requests) - bucket.tokens
            return Decision(
                allowed: allowed, remaining: Int(bucket.tokens.rounded(.down)),
                resetSeconds: Int((missing / rate / 1_000).rounded(.up)),
                retryAfterSeconds: allowed ? 0 : max(1, Int(((1 - bucket.tokens) / rate / 1_000).rounded(.up))))
        }
    }
}
