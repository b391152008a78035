import Hummingbird

/// Admin routes need the configured key in `X-API-Key`: a middleware on the route group of the
/// admin endpoints, so no handler checks it by hand.
struct AdminGuard<Context: RequestContext>: RouterMiddleware {
    let key: String?

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let key else {
            throw HTTPError(
                .forbidden, message: "admin endpoints are disabled: set METROPULSE_API_ADMIN_KEY (or api.admin_key)")
        }
        guard let given = request.headers[.init("X-API-Key")!], given == key else {
            throw HTTPError(.unauthorized, message: "X-API-Key is missing or wrong")
        }
        return try await next(request, context)
    }
}

extension RouterGroup {
    /// A group of this one whose routes need the admin key.
    func admin(key: String?) -> RouterGroup<Context> {
        group().add(middleware: AdminGuard<Context>(key: key))
    }
}
