import Foundation
import Hummingbird
import MetropulseCore

/// Rate limits on the API (`RateLimiter`): over its client's limit a request gets a 429 with
/// `Retry-After`; every answer under a limit carries `RateLimit-Policy` and `RateLimit`
/// (draft-ietf-httpapi-ratelimit-headers): the policy's quota and window, and what is left and
/// when the quota is whole again.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let limiter: RateLimiter
    let keys: APIKeys
    let clock: WallClock

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let (client, policy) = client(of: request, context: context) else {
            return try await next(request, context)
        }
        let decision = limiter.take(client: client, policy: policy, now: clock.nowMillis)
        let headers = Self.headers(policy, decision)
        guard decision.allowed else {
            var fields = headers
            fields[.retryAfter] = String(decision.retryAfterSeconds)
            throw HTTPError(
                .tooManyRequests, headers: fields,
                message:
                    "rate limit: \(policy.requests) requests per \(policy.windowMillis / 1_000) s for this \(policy.name == "anonymous" ? "address" : "key"); retry in \(decision.retryAfterSeconds) s"
            )
        }
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: headers)
            return response
        } catch let error as HTTPError {
            var error = error
            error.headers.append(contentsOf: headers)
            throw error
        }
    }

    /// Who is asking, and under which policy: a valid key by its name (admin keys under their
    /// own policy), else the remote address. Nil: no limit applies.
    private func client(of request: Request, context: Context) -> (String, RateLimiter.Policy)? {
        if let given = AccessGuard.presentedKey(request), let key = keys.match(given) {
            let policy = key.scope == .admin ? limiter.admin : limiter.keyed
            return policy.map { ("key:\(key.name)", $0) }
        }
        guard let policy = limiter.anonymous else { return nil }
        return ("ip:\(context.remoteAddress?.ipAddress ?? "unknown")", policy)
    }

    static func headers(_ policy: RateLimiter.Policy, _ decision: RateLimiter.Decision) -> HTTPFields {
        var fields = HTTPFields()
        fields[.init("RateLimit-Policy")!] =
            "\"\(policy.name)\";q=\(policy.requests);w=\(max(1, policy.windowMillis / 1_000))"
        fields[.init("RateLimit")!] = "\"\(policy.name)\";r=\(decision.remaining);t=\(decision.resetSeconds)"
        return fields
    }
}
