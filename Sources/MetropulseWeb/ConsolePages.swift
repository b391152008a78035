import Foundation
import Hummingbird
import Logging
import MetropulseAPI
import MetropulseCore
import NIOCore

/// The operator console: sign-in, the orchestrator (queue, fleet, runs, controls, scheduler,
/// departures), a run's detail, and the feed health ledger. Every page needs the console
/// session; without it the browser is sent to the sign-in form. The controls POST to the admin
/// API with the session cookie and its CSRF token.
struct ConsolePages: Sendable {
    let pages: WebPages

    var environment: APIEnvironment { pages.environment }
    var now: Int64 { pages.now }

    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("admin") { _, _ in Response.seeOther("/admin/orchestrator") }
        router.get("admin/sign-in", use: signInForm)
        router.post("admin/sign-in", use: signIn)
        router.post("admin/sign-out", use: signOut)
        router.get("admin/orchestrator", use: orchestrator)
        router.get("admin/runs/:id", use: runDetail)
        router.get("admin/sources", use: sourcesPage)
        router.get("admin/logs", use: logsPage)
        router.get("admin/jobs", use: jobsPage)
        router.get("admin/jobs/:job/runs/:run", use: jobRunPage)
        router.get("admin/quality", use: qualityPage)
        router.get("admin/webhooks", use: webhooksPage)
    }

    // MARK: Sign-in

    /// The path to come back to after signing in: a console path of this site only.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/admin"), !next.hasPrefix("//"), !next.contains("\\"),
            !next.hasPrefix("/admin/sign-")
        else { return "/admin/orchestrator" }
        return next
    }

    enum SessionCheck {
        case signedIn(AdminSession.Session)
        case failure(Response)
    }

    /// The session, or the redirect to sign in.
    func requireSession(_ request: Request) -> SessionCheck {
        if let session = pages.session(request) { return .signedIn(session) }
        var next = request.uri.path
        if let query = request.uri.query, !query.isEmpty { next += "?" + query }
        let target = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return .failure(.seeOther("/admin/sign-in?next=\(target)"))
    }

    @Sendable func signInForm(_ request: Request, context: APIRequestContext) async throws -> Response {
        if pages.session(request) != nil {
            return .seeOther(Self.safeNext(request.uri.queryParameters.get("next").map { String($0) }))
        }
        return signInPage(request, next: request.uri.queryParameters.get("next").map { String($0) }, message: nil)
    }

    func signInPage(_ request: Request, next: String?, message: String?, status: HTTPResponse.Status = .ok) -> Response
    {
        pages.render(
            "sign-in", frame: pages.frame("Sign in", request),
            [
                "next": Self.safeNext(next), "message": message ?? "", "hasMessage": message != nil,
                "enabled": !environment.keys.isEmpty,
            ], request: request, status: status)
    }

    static func formFields(_ buffer: ByteBuffer) -> [String: String] {
        var fields: [String: String] = [:]
        let text = String(buffer: buffer)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    @Sendable func signIn(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 << 10)
        let fields = Self.formFields(body)
        guard AdminSession.isSameOrigin(request) else {
            return pages.errorPage(
                .forbidden, "Cross-site sign-in refused: the form must come from this server.", request)
        }
        let sessions = AdminSession(keys: environment.keys)
        guard !environment.keys.isEmpty else {
            return signInPage(
                request, next: fields["next"],
                message:
                    "The console is disabled: start Metropulse with an API key (METROPULSE_API_KEYS or METROPULSE_API_ADMIN_KEY).",
                status: .forbidden)
        }
        guard let given = fields["key"], !given.isEmpty, let key = sessions.matches(given) else {
            // A wrong key costs the caller a moment, so guessing is slow.
            try? await Task.sleep(for: .milliseconds(400))
            environment.logger.notice("console sign-in refused: wrong key")
            return signInPage(
                request, next: fields["next"], message: "That key is not one of this server's API keys.",
                status: .unauthorized)
        }
        environment.logger.notice("console sign-in", metadata: ["key": "\(key.name)"])
        let token = sessions.issue(for: key, now: now)
        return .seeOther(
            Self.safeNext(fields["next"]),
            headers: [.setCookie: AdminSession.setCookie(token, secure: pages.site.settings.secureCookies)])
    }

    @Sendable func signOut(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 << 10)
        let fields = Self.formFields(body)
        guard let session = pages.session(request) else {
            return .seeOther("/", headers: [.setCookie: AdminSession.clearCookie])
        }
        guard AdminSession.isSameOrigin(request), let token = fields["csrf_token"],
            AdminSession(keys: environment.keys).isValidCSRF(token, session: session)
        else {
            return pages.errorPage(
                .forbidden, "Sign-out refused: the form's token does not match this session.", request)
        }
        return .seeOther("/", headers: [.setCookie: AdminSession.clearCookie])
    }

    // MARK: The orchestrator

    static let windows: [(String, String, Int64)] = [
        ("15m", "15 minutes", 15 * 60_000), ("1h", "1 hour", 3_600_000), ("6h", "6 hours", 6 * 3_600_000),
        ("24h", "24 hours", 86_400_000),
    ]

    @Sendable func orchestrator(_ request: Request, context: APIRequestContext) async throws -> Response {
        if case .failure(let redirect) = requireSession(request) { return redirect }
        let part = request.uri.queryParameters.get("part").map { String($0) }
        let filters = try RunFilters(request, catalog: environment.catalog)
        let board = OperationsBoard(environment)
        let now = self.now
        func queue() async throws -> [String: Any] {
            let q = try await board.queue(now: now)
            let partitions: [[String: Any]] = (q.partitions ?? []).map { p in
                [
                    "name": "\(p.topic)/\(p.partition)", "committed": p.committed.map { String($0) } ?? "—",
                    "high": p.highWatermark, "lag": p.lag,
                    "lagAge": p.lagSeconds.map { Format.duration(seconds: $0) } ?? "—", "readBy": p.readBy ?? "—",
                ]
            }
            return [
                "queued": Format.count(q.queued), "running": Format.count(q.running),
                "retrying": Format.count(q.retrying), "dead": Format.count(q.dead),
                "succeeded": Format.count(q.succeeded), "deadCount": q.dead,
                "zeroQueued": q.queued == 0, "zeroRetrying": q.retrying == 0, "zeroDead": q.dead == 0,
                "zeroRunning": q.running == 0,
                "oldest": q.oldestWaitingAgeSeconds.map { Format.duration(seconds: $0) } ?? "none waiting",
                "throughput": String(format: "%.2f", q.throughputPerSecond), "lastMinute": q.finishedLastMinute,
                "partitions": partitions, "hasPartitions": !partitions.isEmpty,
            ]
        }
        func fleet() async throws -> [String: Any] {
            let workers = try await board.workers(now: now).workers.sorted { a, b in
                let rank = ["down": 0, "behind": 1, "healthy": 2]
                return (rank[a.health] ?? 3, a.workerId) < (rank[b.health] ?? 3, b.workerId)
            }
            let rows: [[String: Any]] = workers.map { w in
                [
                    "id": w.workerId, "health": w.health, "healthLabel": w.health.capitalized, "status": w.status,
                    "healthReason": w.healthReason ?? "",
                    "host": w.host, "pid": w.pid, "inFlight": w.inFlight, "concurrency": w.concurrency,
                    "utilisation": w.concurrency > 0 ? Int(Double(w.inFlight) / Double(w.concurrency) * 100) : 0,
                    "processed": Format.count(w.processed), "failed": Format.count(w.failed),
                    "fetchRate": String(format: "%.2f", w.fetchRate), "errors": w.errorsLastMinute,
                    "cpu": String(format: "%.1f s", w.cpuSeconds), "memory": Format.bytes(w.memoryBytes),
                    "heartbeat": Format.millis(w.lastSeenAt) ?? 0, "partitions": w.partitions.joined(separator: ", "),
                    "hasPartitions": !w.partitions.isEmpty, "paused": w.status == "paused",
                    "down": w.health == "down",
                ]
            }
            let down = workers.filter { $0.health != "healthy" }.count
            let running = workers.filter { $0.health != "down" }
            return [
                "workers": rows, "hasWorkers": !rows.isEmpty, "workerCount": rows.count, "unhealthy": down > 0,
                "pools": running.count, "slots": running.reduce(0) { $0 + $1.concurrency },
            ]
        }
        func commands() async throws -> [String: Any] {
            let list = try await FleetControl(environment).commands(limit: 8)
            let rows: [[String: Any]] = list.commands.map { c in
                var what = c.kind
                if let slots = c.slots {
                    what += " " + slots.keys.sorted().map { "\($0)=\(slots[$0] ?? 0)" }.joined(separator: ", ")
                }
                return [
                    "id": c.id, "kind": c.kind, "what": what, "to": c.target ?? "every worker",
                    "by": c.issuedBy ?? "—", "clock": Format.millis(c.issuedAt).map(Format.clock) ?? c.issuedAt,
                    "time": c.issuedAt,
                    "state": c.state, "stateLabel": Self.commandStates[c.state] ?? c.state,
                    "acks": c.acks.map { a in
                        ["worker": a.workerId, "result": a.result, "ok": a.ok] as [String: Any]
                    },
                    "pending": c.pending.joined(separator: ", "), "hasPending": !c.pending.isEmpty,
                ]
            }
            return ["commands": rows, "hasCommands": !rows.isEmpty]
        }
        func runs() async throws -> [String: Any] {
            let list = try await board.taskRuns(
                TaskRunQuery(
                    status: filters.status, sourceID: filters.source, since: now - filters.windowMillis,
                    limit: filters.limit + 1))
            let shown = list.runs.prefix(filters.limit)
            let timeline = try await board.taskRuns(
                TaskRunQuery(
                    status: filters.status, sourceID: filters.source, since: now - filters.windowMillis,
                    limit: 120))
            let rows: [[String: Any]] = shown.map { r in
                [
                    "id": r.id, "href": "/admin/runs/\(pathPart(r.id))", "source": r.source, "status": r.status,
                    "attempt": r.attempt, "worker": r.workerId, "finished": Format.millis(r.finishedAt) ?? 0,
                    "finishedAt": r.finishedAt, "clock": Format.millis(r.finishedAt).map(Format.clock) ?? "",
                    "duration": "\(r.durationMs) ms", "entities": r.entityCount, "rejected": r.rejectedCount,
                    "http": r.httpStatus.map(String.init) ?? "—", "error": r.errorMessage ?? "",
                ]
            }
            let bars: [[String: Any]] = timeline.runs.reversed().map { r in
                let height = max(12, min(42, Int(log2(Double(max(2, r.durationMs)))) * 3))
                return [
                    "href": "/admin/runs/\(pathPart(r.id))", "status": r.status, "height": height,
                    "label": "\(r.source) \(r.status) at \(r.finishedAt) (\(r.durationMs) ms)",
                ]
            }
            var more = filters
            more.limit = min(200, filters.limit + 20)
            return [
                "runs": rows, "hasRuns": !rows.isEmpty, "bars": bars,
                "moreURL": list.runs.count > filters.limit && filters.limit < 200 ? more.query(part: nil) : "",
                "atCap": list.runs.count > filters.limit && filters.limit >= 200,
                "filterSummary": filters.summary,
            ]
        }
        func scheduler() async throws -> [String: Any] {
            let s = try await board.scheduler(now: now)
            let states = Dictionary(
                try await environment.store.sourceStates().map { ($0.sourceID, $0) },
                uniquingKeysWith: { a, _ in a })
            let sources: [[String: Any]] = environment.catalog.all.map { source in
                let state = states[source.id]
                return [
                    "id": source.id, "enabled": source.enabled,
                    "interval": Format.duration(seconds: Double(source.intervalMillis) / 1000),
                    "next": state?.nextRunAt ?? 0, "hasNext": state?.nextRunAt != nil,
                    "nextClock": state?.nextRunAt.map(Format.clock) ?? "",
                    "last": state?.lastRunAt ?? 0, "hasLast": state?.lastRunAt != nil,
                    "lastStatus": state?.lastRunStatus?.rawValue ?? "never",
                ]
            }
            let lastTick = states.values.compactMap(\.lastSlotAt).max()
            return [
                "schedulerState": s.state, "leading": s.state == "leading",
                "leader": s.leader.map { l in
                    [
                        "id": l.schedulerId, "host": l.host, "pid": l.pid, "since": Format.millis(l.since) ?? 0,
                        "sinceText": l.since, "renewed": Format.millis(l.renewedAt) ?? 0,
                    ] as [String: Any]
                } as Any,
                "hasLeader": s.leader != nil, "lastTick": lastTick ?? 0, "hasLastTick": lastTick != nil,
                "sources": sources,
            ]
        }
        func departures() async throws -> [String: Any] {
            let transit = TransitBoard(environment)
            let lines = try await transit.lines(now: now).lines.filter { $0.departures > 0 }
                .sorted { ($0.departures, $1.line) > ($1.departures, $0.line) }.prefix(4)
            var boards: [[String: Any]] = []
            for line in lines {
                let snapshot = try await transit.snapshot(network: line.network, line: line.line, perStop: 2, now: now)
                let next = snapshot.stops.flatMap { stop in
                    stop.departures.map { d -> (Int64, [String: Any]) in
                        var row = WebPages.departure(d)
                        row["stopName"] = stop.stopName ?? stop.stopId
                        return ((row["at"] as? Int64) ?? 0, row)
                    }
                }.filter { $0.0 >= now - 60_000 }.sorted { $0.0 < $1.0 }.prefix(5).map(\.1)
                boards.append([
                    "line": line.name ?? line.line, "network": line.network,
                    "href": "/lines/\(pathPart(line.network))/\(pathPart(line.line))",
                    "chipStyle": WebPages.chipStyle(line.color) ?? "", "status": line.status,
                    "departures": Array(next), "hasDepartures": !next.isEmpty,
                ])
            }
            return ["boards": boards, "hasBoards": !boards.isEmpty]
        }

        func database() async throws -> [String: Any] {
            let summary = try await DatabaseBoard(environment).summary(now: now)
            let tables: [[String: Any]] = summary.tables.sorted { ($0.bytes ?? 0, $1.name) > ($1.bytes ?? 0, $0.name) }
                .map { t in
                    [
                        "name": t.name, "rows": (t.rowsEstimated ? "≈ " : "") + Format.count(Int(t.rows)),
                        "bytes": t.bytes.map(Format.bytes) ?? "—",
                    ]
                }
            let observations: [[String: Any]] = summary.observations.map { o in
                [
                    "kind": o.kind, "hour": Format.count(Int(o.lastHour)), "day": Format.count(Int(o.lastDay)),
                    "current": o.basis == "current",
                ]
            }
            return [
                "databaseSize": Format.bytes(summary.databaseBytes), "hasWal": summary.walBytes != nil,
                "walSize": summary.walBytes.map(Format.bytes) ?? "", "backend": summary.backend,
                "tables": tables, "observations": observations,
            ]
        }

        let sections: [String: () async throws -> [String: Any]] = [
            "queue": queue, "fleet": fleet, "runs": runs, "scheduler": scheduler, "departures": departures,
            "commands": commands, "database": database,
        ]
        if let part {
            guard let build = sections[part] else {
                throw HTTPError(
                    .badRequest, message: "part must be one of: \(sections.keys.sorted().joined(separator: ", "))")
            }
            var context = try await build()
            context["filters"] = filters.context(environment.catalog)
            return pages.fragment("orchestrator-\(part)", context, request: request)
        }
        return await pages.page("orchestrator", title: "Orchestrator", request) {
            var context: [String: Any] = [:]
            for build in [queue, fleet, runs, scheduler, departures, commands, database] {
                context.merge(try await build()) { a, _ in a }
            }
            context["filters"] = filters.context(environment.catalog)
            context["runsURL"] = filters.query(part: "runs")
            context["sourceIds"] = environment.catalog.all.map(\.id)
            context["canRunNow"] = environment.runNow != nil
            // A spike on demand in the demo city (POST /api/demo/incidents).
            let demoZones = environment.demoEnabled ? environment.catalog.city(id: "demo")?.zones.map(\.id) ?? [] : []
            context["hasDemo"] = !demoZones.isEmpty
            context["demoZones"] = demoZones
            context["demoMetrics"] = DemoIncident.metrics
            // Under `metropulse supervise` the buttons start and stop worker processes.
            context["scaleLabel"] = environment.scaleProcesses == nil ? "Worker slots" : "Worker processes"
            return context
        }
    }

    static let commandStates = [
        "done": "done", "failed": "refused", "waiting": "waiting", "unaddressed": "no worker running",
    ]

    /// The recent runs' filters, from and back to the query string (so a view can be shared).
    struct RunFilters {
        var source: String?
        var status: TaskRunStatus?
        var window: String
        var windowMillis: Int64
        var limit: Int

        init(_ request: Request, catalog: SourceCatalog) throws {
            source = request.query("source")
            if let source, catalog.source(id: source) == nil {
                throw HTTPError(.badRequest, message: "source: unknown source '\(source)'")
            }
            status = try request.enumQuery("status", as: TaskRunStatus.self)
            let window = request.query("window") ?? "1h"
            self.window = window
            guard let match = ConsolePages.windows.first(where: { $0.0 == window }) else {
                throw HTTPError(.badRequest, message: "window must be one of: 15m, 1h, 6h, 24h")
            }
            windowMillis = match.2
            limit = try request.intQuery("limit", default: 20, range: 1...200)
        }

        func query(part: String?) -> String {
            var items: [String] = []
            if let part { items.append("part=\(part)") }
            if let source {
                items.append("source=\(source.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? source)")
            }
            if let status { items.append("status=\(status.rawValue)") }
            items.append("window=\(window)")
            items.append("limit=\(limit)")
            return "/admin/orchestrator?" + items.joined(separator: "&")
        }

        var summary: String {
            var parts = ["the last \(ConsolePages.windows.first { $0.0 == window }?.1 ?? window)"]
            if let source { parts.append("source \(source)") }
            if let status { parts.append("status \(status.rawValue)") }
            return parts.joined(separator: ", ")
        }

        func context(_ catalog: SourceCatalog) -> [String: Any] {
            [
                "sources": catalog.all.map { ["id": $0.id, "selected": $0.id == source] },
                "statuses": TaskRunStatus.allCases.map { ["name": $0.rawValue, "selected": $0 == status] },
                "windows": ConsolePages.windows.map { ["name": $0.0, "label": $0.1, "selected": $0.0 == window] },
            ]
        }
    }

    // MARK: A run

    @Sendable func runDetail(_ request: Request, context: APIRequestContext) async throws -> Response {
        if case .failure(let redirect) = requireSession(request) { return redirect }
        let raw = try context.parameters.require("id")
        let id = raw.removingPercentEncoding ?? raw
        return await pages.page("run", title: "Run", request) {
            guard let run = try await environment.store.taskRun(id: id) else {
                throw HTTPError(.notFound, message: "no task run '\(id)' (runs are kept for the retention period)")
            }
            let dto = try await OperationsBoard(environment).taskRuns(TaskRunQuery(jobID: run.jobID, limit: 50))
            let attempts: [[String: Any]] = dto.runs.sorted { $0.attempt < $1.attempt }.map { r in
                [
                    "id": r.id, "href": "/admin/runs/\(pathPart(r.id))", "attempt": r.attempt, "status": r.status,
                    "finishedAt": r.finishedAt, "error": r.errorMessage ?? "", "current": r.id == run.id,
                ]
            }
            let maxAttempts = environment.catalog.source(id: run.sourceID)?.maxAttempts
            let json = String(
                decoding: try APIRequestContext.jsonEncoder().encode(
                    try await OperationsBoard(environment).taskRun(id: id)),
                as: UTF8.self)
            let rejections: [[String: Any]] = run.rejections.map {
                ["entity": $0.entity, "reason": $0.reason, "kept": !$0.isEntityRejected, "field": $0.field ?? ""]
            }
            return [
                "id": run.id, "job": run.jobID, "task": run.taskID.map(String.init) ?? "—", "source": run.sourceID,
                "status": run.status.rawValue, "attempt": run.attempt,
                "maxAttempts": maxAttempts.map(String.init) ?? "—", "worker": run.workerID,
                "started": Timestamp.iso8601(run.startedAt), "finished": Timestamp.iso8601(run.finishedAt),
                "duration": "\(run.durationMillis) ms", "url": run.url ?? "—", "hasURL": run.url != nil,
                "http": run.httpStatus.map(String.init) ?? "—",
                "bytes": run.bytes.map { Format.bytes(Int64($0)) } ?? "—",
                "entities": run.entityCount, "rejected": run.rejectedCount, "hash": run.contentHash ?? "—",
                "feedTimestamp": run.feedTimestamp.map(Timestamp.iso8601) ?? "—",
                "errorKind": run.errorKind?.rawValue ?? "", "errorMessage": run.errorMessage ?? "",
                "hasError": run.errorMessage != nil || run.errorKind != nil, "attempts": attempts,
                "json": json, "sourceRunsURL": "/admin/orchestrator?source=\(pathPart(run.sourceID))&window=24h",
                "rejections": rejections, "hasRejections": !rejections.isEmpty, "rejectionsShown": rejections.count,
            ]
        }
    }

    // MARK: Sources (the feed health ledger)

    @Sendable func sourcesPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        if case .failure(let redirect) = requireSession(request) { return redirect }
        let part = request.uri.queryParameters.get("part")
        let build = { () async throws -> [String: Any] in
            let now = self.now
            var rows: [[String: Any]] = []
            for source in environment.catalog.all {
                let (h, runs) = try await FeedHealth.assess(
                    source, store: environment.store, activity: environment.activity, now: now)
                // 24 hourly buckets, oldest first: all good, some failed, all failed, or no run.
                var buckets = [(runs: Int, good: Int)](repeating: (0, 0), count: 24)
                for run in runs {
                    let index = 23 - Int((now - run.finishedAt) / FeedHealth.hourMillis)
                    guard (0..<24).contains(index) else { continue }
                    buckets[index].runs += 1
                    if run.status.isSuccess { buckets[index].good += 1 }
                }
                let bars: [[String: Any]] = buckets.enumerated().map { index, b in
                    let kind = b.runs == 0 ? "none" : b.good == b.runs ? "good" : b.good == 0 ? "bad" : "mixed"
                    let hoursAgo = 23 - index
                    return [
                        "kind": kind, "label": "\(hoursAgo)–\(hoursAgo + 1) h ago: \(b.good)/\(b.runs) runs succeeded",
                    ]
                }
                let lastGood = runs.filter { $0.status.isSuccess }.max { $0.finishedAt < $1.finishedAt }
                let endpoint = lastGood?.url
                rows.append([
                    "id": source.id, "kind": source.kind.rawValue, "state": h.state.rawValue, "reason": h.reason,
                    "bars": bars, "uptimeHour": Format.percent(h.lastHour.uptime),
                    "uptimeDay": Format.percent(h.lastDay.uptime), "runsDay": h.lastDay.runs,
                    "p50": h.latency.map { "\($0.p50Millis) ms" } ?? "—",
                    "p95": h.latency.map { "\($0.p95Millis) ms" } ?? "—",
                    "p99": h.latency.map { "\($0.p99Millis) ms" } ?? "—",
                    "hasError": h.lastError != nil, "errorAt": h.lastError?.at ?? 0,
                    "errorText": h.lastError.map { e in
                        [e.httpStatus.map { "HTTP \($0)" }, e.kind?.rawValue, e.message].compactMap { $0 }.joined(
                            separator: ": ")
                    } ?? "",
                    "contentSince": h.contentSince ?? 0, "hasContentSince": h.contentSince != nil,
                    "frozen": h.contentSince.map { now - $0 > h.staleAfterMillis } ?? false,
                    "endpoint": endpoint ?? "—", "fallback": source.isFallback(servedBy: endpoint),
                    "lastSuccess": h.lastSuccessAt ?? 0, "hasLastSuccess": h.lastSuccessAt != nil,
                    "feedTimestamp": h.feedTimestamp ?? 0, "hasFeedTimestamp": h.feedTimestamp != nil,
                    "failures": h.consecutiveFailures,
                    "runsHref": "/admin/orchestrator?source=\(pathPart(source.id))&window=24h",
                    "staleAfter": Format.duration(seconds: Double(h.staleAfterMillis) / 1000),
                ])
            }
            let rank = ["down": 0, "stale": 1, "degraded": 2, "unknown": 3, "live": 4]
            rows.sort {
                ((rank[$0["state"] as! String] ?? 5), $0["id"] as! String) < (
                    (rank[$1["state"] as! String] ?? 5), $1["id"] as! String
                )
            }
            let problems = rows.filter { ($0["state"] as? String) != "live" }.count
            return ["sources": rows, "hasSources": !rows.isEmpty, "problems": problems, "allLive": problems == 0]
        }
        if part == "ledger" { return pages.fragment("sources-ledger", try await build(), request: request) }
        return await pages.page("sources", title: "Sources", request, build)
    }

    // MARK: Jobs

    @Sendable func jobsPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        if case .failure(let redirect) = requireSession(request) { return redirect }
        let build = { () async throws -> [String: Any] in
            let list = try await JobBoard(environment).jobs(recent: 30)
            let jobs: [[String: Any]] = list.jobs.map { job in
                let last = job.lastRun
                // Oldest first, so time runs left to right.
                let runs: [[String: Any]] = job.recentRuns.reversed().map { run in
                    let duration = run.durationMs.map(Format.elapsed) ?? "running"
                    return [
                        "status": run.status,
                        "href": "/admin/jobs/\(pathPart(job.id))/runs/\(pathPart(run.id))",
                        "label":
                            "\(run.status), \(run.trigger), attempt \(run.attempt), \(duration), started \(run.startedAt)"
                            + (run.error.map { ": \($0)" } ?? ""),
                    ]
                }
                return [
                    "id": job.id, "title": job.title, "summary": job.summary,
                    "dependsOn": job.dependsOn.joined(separator: ", "), "hasDependencies": !job.dependsOn.isEmpty,
                    "paused": job.paused, "requested": job.requestedAt != nil,
                    "lastStatus": last?.status ?? "never", "hasLast": last != nil,
                    "lastStarted": last.map { Timestamp.parse($0.startedAt) ?? 0 } ?? 0,
                    "lastDuration": last?.durationMs.map(Format.elapsed) ?? "—",
                    "lastDetail": last?.error ?? last?.detail ?? "",
                    "lastHref": last.map { "/admin/jobs/\(pathPart(job.id))/runs/\(pathPart($0.id))" } ?? "",
                    "next": job.nextRunAt.flatMap(Timestamp.parse) ?? 0, "hasNext": job.nextRunAt != nil && !job.paused,
                    "watermark": job.watermark ?? "", "hasWatermark": job.watermark != nil, "runs": runs,
                    "hasRuns": !runs.isEmpty,
                    "timeout": Format.duration(seconds: Double(job.timeoutMs) / 1000), "attempts": job.maxAttempts,
                ]
            }
            return [
                "jobs": jobs, "enabled": list.enabled,
                "interval": Format.duration(seconds: Double(list.intervalMs) / 1000),
            ]
        }
        if request.uri.queryParameters.get("part") == "grid" {
            // A fragment has no page frame: it says itself whether the session may use the controls.
            var grid = try await build()
            if case .signedIn(let session) = requireSession(request) {
                grid["canControl"] = session.key.scope >= .admin
            }
            return pages.fragment("jobs-grid", grid, request: request)
        }
        return await pages.page("jobs", title: "Jobs", request, build)
    }

    // MARK: Webhooks

    static let eventLabels: [WebhookEventType: String] = [
        .stationEmpty: "a station's bikes fall to the threshold",
        .stationFull: "a station's free docks fall to the threshold",
        .disruptionStarted: "a disruption appears", .disruptionEnded: "a disruption leaves the feed",
        .alertOpened: "a City Live alert opens", .alertResolved: "a City Live alert resolves",
        .sourceStale: "a source goes stale", .sourceDown: "a source goes down",
        .sourceLive: "a stale or down source is live again",
    ]

    @Sendable func webhooksPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        guard case .signedIn(let session) = requireSession(request) else {
            if case .failure(let redirect) = requireSession(request) { return redirect }
            return .seeOther("/admin/sign-in")
        }
        let canControl = session.key.scope >= .admin
        let selected = request.uri.queryParameters.get("endpoint").map { String($0) }
        let build = { () async throws -> [String: Any] in
            guard canControl else { return ["canControl": false] }
            let board = WebhookBoard(environment)
            let list = try await board.endpoints().endpoints
            let endpoints: [[String: Any]] = list.map { e in
                let filters =
                    [
                        ("sources", e.sources), ("stations", e.stations), ("lines", e.lines), ("cities", e.cities),
                        ("zones", e.zones),
                    ].compactMap { name, values in values.map { "\(name) \($0.joined(separator: ", "))" } }
                    + (e.emptyAtMost > 0 ? ["empty at \(e.emptyAtMost) bikes"] : [])
                    + (e.fullAtMost > 0 ? ["full at \(e.fullAtMost) docks"] : [])
                return [
                    "id": e.id, "url": e.url, "description": e.description ?? "",
                    "events": e.events.joined(separator: ", "),
                    "filters": filters.joined(separator: " · "), "enabled": e.enabled,
                    "disabledReason": e.disabledReason ?? "", "failing": e.failingSince != nil,
                    "failingSince": e.failingSince.flatMap(Timestamp.parse) ?? 0, "pending": e.pending ?? 0,
                    "secretHint": e.secretHint, "selected": e.id == selected,
                ]
            }
            var page: [String: Any] = [
                "canControl": true, "endpoints": endpoints, "hasEndpoints": !endpoints.isEmpty,
                "selected": selected.map(pathPart) ?? "",
                "sourceHint": environment.catalog.all.prefix(3).map(\.id).joined(separator: ", "),
                "eventTypes": WebhookEventType.allCases.filter { $0 != .test }.map {
                    ["name": $0.rawValue, "label": Self.eventLabels[$0] ?? "", "checked": $0 == .stationEmpty]
                },
            ]
            if let selected, let endpoint = list.first(where: { $0.id == selected }) {
                let deliveries = try await board.deliveries(endpoint: selected, status: nil, limit: 100).deliveries
                func answer(_ code: Int?, _ error: String?) -> String {
                    code.map { "HTTP \($0)" } ?? error ?? "no answer"
                }
                page["hasSelected"] = true
                page["selectedURL"] = endpoint.url
                page["hasDeliveries"] = !deliveries.isEmpty
                page["deliveries"] = deliveries.map { d -> [String: Any] in
                    [
                        "id": d.id, "endpoint": d.endpointId, "type": d.type, "status": d.status,
                        "created": Timestamp.parse(d.createdAt) ?? 0, "hasNext": d.nextAttemptAt != nil,
                        "next": d.nextAttemptAt.flatMap(Timestamp.parse) ?? 0, "attempts": d.attempts,
                        "hasLast": !d.history.isEmpty,
                        "lastAnswer": answer(d.lastStatusCode, d.lastError),
                        "lastLatency": d.lastLatencyMs.map(Format.elapsed) ?? "",
                        "history": d.history.map {
                            [
                                "at": $0.at, "answer": answer($0.statusCode, $0.error),
                                "latency": Format.elapsed($0.latencyMs),
                            ]
                        },
                        "payload": d.payload,
                    ]
                }
            }
            return page
        }
        if request.uri.queryParameters.get("part") == "list" {
            return pages.fragment("webhooks-list", try await build(), request: request)
        }
        return await pages.page("webhooks", title: "Webhooks", request, build)
    }

    // MARK: Quality

    @Sendable func qualityPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        if case .failure(let redirect) = requireSession(request) { return redirect }
        let check = request.uri.queryParameters.get("check").map { String($0) }
        let source = request.uri.queryParameters.get("source").map { String($0) }
        return await pages.page("quality", title: "Data quality", request) {
            let board = QualityBoard(environment)
            let overview = try await board.overview(source: nil)
            let titles = Dictionary(uniqueKeysWithValues: overview.checks.map { ($0.id, $0.title) })
            let results: [[String: Any]] = overview.latest.map { r in
                [
                    "check": r.check, "title": titles[r.check] ?? r.check, "source": r.source,
                    "status": r.status, "failed": r.status == "failed", "severity": r.severity,
                    "badge": r.status == "passed"
                        ? "succeeded"
                        : (r.severity == "info" ? "info" : (r.severity == "critical" ? "failed" : "retrying")),
                    "label": r.status == "passed" ? "passed" : r.severity, "count": r.count, "total": r.total,
                    "detail": r.detail, "samples": r.samples, "hasSamples": !r.samples.isEmpty,
                    "historyHref": "/admin/quality?check=\(pathPart(r.check))&source=\(pathPart(r.source))#history",
                    "at": Timestamp.parse(r.at) ?? 0,
                ]
            }
            let reasons: [[String: Any]] = overview.rejections.map {
                [
                    "source": $0.source, "reason": $0.reason, "kept": $0.outcome == "kept", "count": $0.count,
                    "examples": $0.examples.joined(separator: ", "),
                ]
            }
            var page: [String: Any] = [
                "results": results, "hasResults": !results.isEmpty, "reasons": reasons,
                "failing": results.filter { $0["failed"] as? Bool == true },
                "passing": results.filter { $0["failed"] as? Bool != true },
                "hasFailing": results.contains { $0["failed"] as? Bool == true },
                "hasPassing": overview.passed > 0, "hasReasons": !reasons.isEmpty,
                "critical": overview.failing["critical"] ?? 0, "warning": overview.failing["warning"] ?? 0,
                "info": overview.failing["info"] ?? 0, "passed": overview.passed,
                "checkedAt": overview.checkedAt.flatMap(Timestamp.parse) ?? 0, "hasChecked": overview.checkedAt != nil,
            ]
            if let check, let source {
                let history = try await board.history(QualityQuery(check: check, sourceID: source, limit: 288))
                page["history"] = history.results.map { r -> [String: Any] in
                    [
                        "at": Timestamp.parse(r.at) ?? 0, "status": r.status,
                        "badge": r.status == "passed" ? "succeeded" : "retrying", "count": r.count, "total": r.total,
                        "detail": r.detail,
                    ]
                }
                page["hasHistory"] = true
                page["historyTitle"] = "\(titles[check] ?? check) · \(source)"
            }
            return page
        }
    }

    @Sendable func jobRunPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        if case .failure(let redirect) = requireSession(request) { return redirect }
        let job = try context.parameters.require("job")
        let raw = try context.parameters.require("run")
        let id = raw.removingPercentEncoding ?? raw
        return await pages.page("job-run", title: "Job run", request) {
            let detail = try await JobBoard(environment).run(jobID: job, runID: id).run
            let attempts = try await environment.store.jobRuns(JobRunQuery(jobID: job, limit: 200))
                .filter { $0.cycle == Timestamp.parse(detail.cycle) && $0.trigger.rawValue == detail.trigger }
                .sorted { $0.attempt < $1.attempt }
                .map { run -> [String: Any] in
                    [
                        "href": "/admin/jobs/\(pathPart(job))/runs/\(pathPart(run.id))", "attempt": run.attempt,
                        "status": run.status.rawValue, "current": run.id == detail.id, "error": run.error ?? "",
                    ]
                }
            let json = String(decoding: try APIRequestContext.jsonEncoder().encode(detail), as: UTF8.self)
            return [
                "id": detail.id, "job": detail.jobId, "status": detail.status, "trigger": detail.trigger,
                "cycle": detail.cycle, "attempt": detail.attempt, "started": detail.startedAt,
                "finished": detail.finishedAt ?? "—",
                "duration": detail.durationMs.map(Format.elapsed) ?? "—",
                "rowsRead": detail.rowsRead, "rowsWritten": detail.rowsWritten, "detail": detail.detail ?? "—",
                "error": detail.error ?? "", "hasError": detail.error != nil, "requestedBy": detail.requestedBy ?? "—",
                "attempts": attempts, "json": json,
            ]
        }
    }

    // MARK: Logs (the central log)

    static let logWindows: [(String, String, Int64?)] = [
        ("15m", "15 minutes", 15 * 60_000), ("1h", "1 hour", 3_600_000), ("6h", "6 hours", 6 * 3_600_000),
        ("24h", "24 hours", 86_400_000), ("7d", "7 days", 7 * 86_400_000), ("all", "all kept", nil),
    ]

    @Sendable func logsPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        if case .failure(let redirect) = requireSession(request) { return redirect }
        let service = request.query("service")
        let level = try request.enumQuery("level", as: Logger.Level.self)
        let text = request.query("q")
        let window = request.query("window") ?? "1h"
        guard let span = Self.logWindows.first(where: { $0.0 == window }) else {
            throw HTTPError(
                .badRequest, message: "window must be one of: \(Self.logWindows.map(\.0).joined(separator: ", "))")
        }
        let limit = try request.intQuery("limit", default: 200, range: 1...1_000)
        let query = LogQuery(
            service: service, minimumLevel: level, text: text, since: span.2.map { now - $0 }, limit: limit)
        if text != nil, query.terms.isEmpty {
            throw HTTPError(.badRequest, message: "q must hold a word (letters or digits) to search for")
        }
        return await pages.page("logs", title: "Logs", request) {
            let list = try await LogBoard(store: environment.store).lines(query)
            // Oldest first, as a terminal shows them; the page follows the bottom.
            let lines: [[String: Any]] = list.logs.reversed().map(Self.logLine)
            var apiQuery: [String] = []
            func add(_ name: String, _ value: String?) {
                if let value {
                    apiQuery.append(
                        "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)")
                }
            }
            add("service", service)
            add("level", level?.rawValue)
            add("q", text)
            let services = ["serve", "scheduler", "worker", "api", "sink"]
            return [
                "lines": lines, "hasLines": !lines.isEmpty, "count": lines.count, "limit": limit,
                "atLimit": lines.count >= limit, "centralized": list.centralized,
                "dropped": list.droppedByThisProcess, "hasDropped": list.droppedByThisProcess > 0,
                "apiQuery": apiQuery.joined(separator: "&"), "q": text ?? "",
                "services": [["name": "", "label": "every role", "selected": service == nil]]
                    + services.map { ["name": $0, "label": $0, "selected": $0 == service] }
                    + (service.map { s in services.contains(s) ? [] : [["name": s, "label": s, "selected": true]] }
                        ?? []),
                "levels": [["name": "", "label": "every level", "selected": level == nil]]
                    + Logger.Level.allCases.map {
                        ["name": $0.rawValue, "label": "\($0.rawValue) and above", "selected": $0 == level]
                    },
                "windows": Self.logWindows.map { ["name": $0.0, "label": $0.1, "selected": $0.0 == window] },
                "windowLabel": span.1,
            ]
        }
    }

    static func logLine(_ line: LogBoard.LogLineDTO) -> [String: Any] {
        let metadata = line.metadata.keys.sorted().map { "\($0)=\(line.metadata[$0] ?? "")" }.joined(separator: " ")
        return [
            "id": line.id, "time": line.time, "clock": Format.millis(line.time).map(Format.clock) ?? line.time,
            "service": line.service, "instance": line.instance, "level": line.level, "logger": line.logger,
            "message": line.message, "metadata": metadata, "hasMetadata": !metadata.isEmpty,
        ]
    }
}
