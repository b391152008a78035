import Foundation
import Hummingbird
import MetropulseCore

/// Routes of a scope need a key of that scope or above: in `X-API-Key` (or `Authorization: Bearer`),
/// or the console's session cookie, with its CSRF token in `X-CSRF-Token` from a page of this
/// server on anything but GET and HEAD (see `AdminSession`). Answers 401 without a valid key, 403
/// with a key of too small a scope, and 403 when no key is configured at all. A middleware on the
/// route groups, so no handler checks it by hand; it puts the key's name in the request context.
struct AccessGuard: RouterMiddleware {
    typealias Context = APIRequestContext
    let scope: APIKeyScope
    let keys: APIKeys
    let clock: WallClock

    /// The key a request presents in `X-API-Key` or as `Authorization: Bearer <key>`.
    static func presentedKey(_ request: Request) -> String? {
        if let given = request.headers[.init("X-API-Key")!] { return given }
        if let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            return String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard !keys.isEmpty else {
            throw HTTPError(
                .forbidden,
                message:
                    "this endpoint needs an API key and none is configured: set METROPULSE_API_KEYS (name:scope:secret) or METROPULSE_API_ADMIN_KEY"
            )
        }
        var context = context
        if let given = Self.presentedKey(request) {
            guard let key = keys.match(given) else { throw HTTPError(.unauthorized, message: "X-API-Key is wrong") }
            try check(key)
            context.apiKeyName = key.name
            return try await next(request, context)
        }
        let sessions = AdminSession(keys: keys)
        guard let session = sessions.session(of: request, now: clock.nowMillis) else {
            throw HTTPError(.unauthorized, message: "X-API-Key is missing (or sign in to the console)")
        }
        try check(session.key)
        if request.method != .get, request.method != .head {
            guard AdminSession.isSameOrigin(request) else {
                throw HTTPError(.forbidden, message: "cross-site request refused: Origin does not match the host")
            }
            guard let token = request.headers[.init(AdminSession.csrfHeader)!],
                sessions.isValidCSRF(token, session: session)
            else {
                throw HTTPError(.forbidden, message: "X-CSRF-Token is missing or wrong for this session")
            }
        }
        context.apiKeyName = session.key.name
        return try await next(request, context)
    }

    private func check(_ key: APIKey) throws {
        guard key.scope >= scope else {
            throw HTTPError(
                .forbidden,
                message:
                    "the key \"\(key.name)\" has the \(key.scope.rawValue) scope; this needs \(scope == .admin ? "an admin" : "a read") key"
            )
        }
    }
}

extension RouterGroup where Context == APIRequestContext {
    /// A group of this one whose routes need a key of `scope` (or a console session of it).
    func requiring(_ scope: APIKeyScope, _ environment: APIEnvironment) -> RouterGroup<Context> {
        group().add(middleware: AccessGuard(scope: scope, keys: environment.keys, clock: environment.clock))
    }
}
