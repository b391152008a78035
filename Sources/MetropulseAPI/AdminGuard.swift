import Hummingbird
import MetropulseCore

/// Admin routes need the configured key: in `X-API-Key`, or the console's session cookie with its
/// CSRF token in `X-CSRF-Token` from a page of this server (see `AdminSession`). A middleware on
/// the route group of the admin endpoints, so no handler checks it by hand.
struct AdminGuard<Context: RequestContext>: RouterMiddleware {
    let key: String?
    let clock: WallClock

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let key else {
            throw HTTPError(
                .forbidden, message: "admin endpoints are disabled: set METROPULSE_API_ADMIN_KEY (or api.admin_key)")
        }
        if let given = request.headers[.init("X-API-Key")!] {
            guard constantTimeEqual(given, key) else { throw HTTPError(.unauthorized, message: "X-API-Key is wrong") }
            return try await next(request, context)
        }
        let sessions = AdminSession(adminKey: key)
        guard let session = sessions.session(of: request, now: clock.nowMillis) else {
            throw HTTPError(.unauthorized, message: "X-API-Key is missing (or sign in to the console)")
        }
        guard AdminSession.isSameOrigin(request) else {
            throw HTTPError(.forbidden, message: "cross-site request refused: Origin does not match the host")
        }
        guard let token = request.headers[.init(AdminSession.csrfHeader)!],
            sessions.isValidCSRF(token, session: session)
        else {
            throw HTTPError(.forbidden, message: "X-CSRF-Token is missing or wrong for this session")
        }
        return try await next(request, context)
    }
}

extension RouterGroup {
    /// A group of this one whose routes need the admin key (or a console session).
    func admin(key: String?, clock: WallClock) -> RouterGroup<Context> {
        group().add(middleware: AdminGuard<Context>(key: key, clock: clock))
    }
}
