import Hummingbird
import MetropulseCore

/// Liveness and readiness probes.
struct HealthController {
    let environment: APIEnvironment

    struct Status: ResponseEncodable {
        var status: String
    }

    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("healthz") { _, _ in Status(status: "ok") }
        router.get("readyz") { _, _ -> Status in
            do {
                _ = try await environment.queue.stats(now: environment.clock.nowMillis)
                return Status(status: "ready")
            } catch {
                throw HTTPError(.serviceUnavailable, message: "store not reachable: \(error)")
            }
        }
    }
}
