import Hummingbird

/// Admin endpoints need the configured key in `X-API-Key`.
struct AdminGuard {
    let key: String?

    func check(_ request: Request) throws {
        guard let key else {
            throw HTTPError(
                .forbidden, message: "admin endpoints are disabled: set METROPULSE_API_ADMIN_KEY (or api.admin_key)")
        }
        guard let given = request.headers[.init("X-API-Key")!], given == key else {
            throw HTTPError(.unauthorized, message: "X-API-Key is missing or wrong")
        }
    }
}
