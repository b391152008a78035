import Crypto
import Foundation
public import Hummingbird
public import MetropulseCore

/// The console's sign-in: a session cookie that is a signature, not a stored record, so every API
/// process that has the same keys accepts it and nothing is kept per session.
///
/// A session token is `v2.<key name>.<expires, epoch ms>.<HMAC-SHA256(secret, "session:" + name + ":" +
/// expires), hex>`, signed with the secret of the key that signed in; the session has that key's
/// scope, and removing the key ends its sessions. The cookie carrying it is `HttpOnly`,
/// `SameSite=Strict` and scoped to `/`. A state-changing request that presents the cookie instead
/// of a key must also carry `X-CSRF-Token` (or a `csrf_token` form field on the sign-out form): the
/// HMAC of the session token, which only the page the server rendered knows. Signing out clears the
/// cookie; a copied token stays valid until it expires (`lifetimeMillis`), as with any signed session.
public struct AdminSession: Sendable {
    public static let cookieName = "metropulse_session"
    public static let csrfHeader = "X-CSRF-Token"
    /// Twelve hours.
    public static let lifetimeMillis: Int64 = 12 * 3_600_000

    /// A signed-in session: its token and the key it was signed with.
    public struct Session: Sendable {
        public let token: String
        public let key: APIKey
    }

    public let keys: APIKeys

    public init(keys: APIKeys) {
        self.keys = keys
    }

    /// The key whose secret is `given` (compared in constant time).
    public func matches(_ given: String) -> APIKey? {
        keys.match(given)
    }

    private static func mac(_ secret: String, _ text: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// A new session token for `key` that expires `lifetimeMillis` after `now`.
    public func issue(for key: APIKey, now: Int64) -> String {
        let expires = now + Self.lifetimeMillis
        return "v2.\(key.name).\(expires).\(Self.mac(key.secret, "session:\(key.name):\(expires)"))"
    }

    /// The session of `token`, if it was issued with one of the keys and has not expired.
    public func session(_ token: String, now: Int64) -> Session? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "v2", let key = keys.named(String(parts[1])),
            let expires = Int64(parts[2]), expires > now
        else { return nil }
        guard constantTimeEqual(String(parts[3]), Self.mac(key.secret, "session:\(key.name):\(expires)")) else {
            return nil
        }
        return Session(token: token, key: key)
    }

    /// The token a page signed in with `session` sends back on its POSTs.
    public func csrfToken(for session: Session) -> String {
        Self.mac(session.key.secret, "csrf:\(session.token)")
    }

    public func isValidCSRF(_ token: String, session: Session) -> Bool {
        constantTimeEqual(token, csrfToken(for: session))
    }

    /// The session of the request's cookie, if it has one that is valid.
    public func session(of request: Request, now: Int64) -> Session? {
        guard let token = request.cookies[Self.cookieName]?.value else { return nil }
        return session(token, now: now)
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
