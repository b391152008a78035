import Hummingbird
import Logging
import MetropulseCore

/// Liveness and readiness probes.
struct HealthController {
    let environment: APIEnvironment

    struct Status: ResponseCodable {
        var status: String
    }

    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("healthz") { _, _ in Status(status: "ok") }
        router.get("readyz") { _, _ -> Status in
            do {
                _ = try await environment.queue.stats(now: environment.clock.nowMillis)
                return Status(status: "ready")
            } catch {
                // The store's own error stays in the log: it can name hosts, users and statements.
                environment.logger.warning("readiness check failed", metadata: ["error": "\(loggable(error))"])
                throw HTTPError(.serviceUnavailable, message: "the store or queue is not reachable (see the log)")
            }
        }
    }
}
