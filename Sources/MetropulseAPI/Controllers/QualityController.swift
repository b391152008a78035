import Hummingbird
import MetropulseCore

/// `/api/quality`: the data-quality checks' latest results, their history, and recent
/// rejections grouped by reason.
struct QualityController {
    let environment: APIEnvironment

    private var board: QualityBoard { QualityBoard(environment) }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        let read = group.requiring(.read, environment)
        read.get("quality", use: overview)
        read.get("quality/history", use: history)
    }

    @Sendable func overview(_ request: Request, context: APIRequestContext) async throws -> QualityBoard.Overview {
        try await board.overview(source: request.query("source"))
    }

    @Sendable func history(_ request: Request, context: APIRequestContext) async throws -> QualityBoard.History {
        let query = QualityQuery(
            check: request.query("check"), sourceID: request.query("source"), since: try request.timeQuery("since"),
            until: try request.timeQuery("until"), limit: try request.intQuery("limit", default: 500, range: 1...10_000)
        )
        if let since = query.since, let until = query.until, since > until {
            throw HTTPError(.badRequest, message: "since must not be after until")
        }
        return try await board.history(query)
    }
}
