public import Hummingbird
import Logging
import MetropulseCore

/// Builds the HTTP API's router.
public enum APIRouter {
    public static func build(_ environment: APIEnvironment) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: LogRequestsMiddleware(.debug))
        HealthController(environment: environment).addRoutes(to: router)
        let api = router.group("api")
        SourcesController(environment: environment).addRoutes(to: api)
        StationsController(environment: environment).addRoutes(to: api)
        TransitController(environment: environment).addRoutes(to: api)
        CitiesController(environment: environment).addRoutes(to: api)
        SystemController(environment: environment).addRoutes(to: api)
        return router
    }
}
