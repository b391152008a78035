import Crypto
import Foundation
public import Hummingbird

/// The console's sign-in: a session cookie that is a signature, not a stored record, so every API
/// process that has the admin key accepts it and nothing is kept per session.
///
/// A session token is `v1.<expires, epoch ms>.<HMAC-SHA256(key, "session:" + expires), hex>`; the
/// cookie carrying it is `HttpOnly`, `SameSite=Strict` and scoped to `/`. A request that presents
/// the cookie instead of `X-API-Key` must also carry `X-CSRF-Token` (or a `csrf_token` form field
/// on the sign-out form): the HMAC of the session token, which only the page the server rendered
/// knows. Signing out clears the cookie; a copied token stays valid until it expires
/// (`lifetimeMillis`), as with any signed session.
public struct AdminSession: Sendable {
    public static let cookieName = "metropulse_session"
    public static let csrfHeader = "X-CSRF-Token"
    /// Twelve hours.
    public static let lifetimeMillis: Int64 = 12 * 3_600_000

    let key: SymmetricKey
    let adminKey: String

    public init(adminKey: String) {
        self.adminKey = adminKey
        key = SymmetricKey(data: Data(adminKey.utf8))
    }

    /// Whether `given` is the admin key (compared in constant time).
    public func matches(_ given: String) -> Bool {
        constantTimeEqual(given, adminKey)
    }

    private func mac(_ text: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// A new session token that expires `lifetimeMillis` after `now`.
    public func issue(now: Int64) -> String {
        let expires = now + Self.lifetimeMillis
        return "v1.\(expires).\(mac("session:\(expires)"))"
    }

    /// Whether `token` was issued with this key and has not expired.
    public func isValid(_ token: String, now: Int64) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let expires = Int64(parts[1]), expires > now else { return false }
        return constantTimeEqual(String(parts[2]), mac("session:\(expires)"))
    }

    /// The token a page signed in with `session` sends back on its POSTs.
    public func csrfToken(for session: String) -> String {
        mac("csrf:\(session)")
    }

    public func isValidCSRF(_ token: String, session: String) -> Bool {
        constantTimeEqual(token, csrfToken(for: session))
    }

    /// The session token of the request's cookie, if it has one that is valid.
    public func session(of request: Request, now: Int64) -> String? {
        guard let token = request.cookies[Self.cookieName]?.value, isValid(token, now: now) else { return nil }
        return token
    }

    /// `Set-Cookie` for a new session.
    public static func setCookie(_ token: String, secure: Bool) -> String {
        let maxAge = lifetimeMillis / 1000
        return "\(cookieName)=\(token); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
    }

    /// `Set-Cookie` that removes the session.
    public static let clearCookie = "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"

    /// Whether a state-changing request comes from a page of this server: its `Origin` (or, without
    /// one, its `Referer`) names the request's own host. A request with neither passes this check
    /// (not a browser's cross-site form or fetch, which always send `Origin` on POST); the CSRF
    /// token is checked besides.
    public static func isSameOrigin(_ request: Request) -> Bool {
        let host = request.head.authority ?? request.headers[.init("Host")!]
        let origin = request.headers[.origin] ?? request.headers[.referer]
        guard let origin else { return true }
        guard origin != "null", let url = URL(string: origin), let originHost = url.host else { return false }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        guard let host else { return false }
        return originAuthority.lowercased() == host.lowercased()
    }
}

/// Equal strings, compared in time that does not depend on where they differ.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let (x, y) = (Array(a.utf8), Array(b.utf8))
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for i in x.indices { difference |= x[i] ^ y[i] }
    return difference == 0
}
