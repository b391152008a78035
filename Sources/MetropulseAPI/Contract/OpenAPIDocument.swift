package import Foundation
package import Hummingbird
import Logging
package import MetropulseCore

/// Who may call an operation: anyone, or a key of a scope (see `AccessGuard`).
package enum APIAccess: Sendable, Equatable {
    case open
    case key(APIKeyScope)
}

/// One operation of the API as `/openapi.json` describes it. The list is `OpenAPIDocument.operations`;
/// a test checks it names exactly the router's routes, and that each answers as its `access` says.
package struct APIOperation: Sendable {
    package enum Body: Sendable {
        /// JSON described by a `Decodable` type of the API.
        case json(any Decodable.Type)
        /// `text/event-stream`: server-sent events.
        case eventStream(String)
        /// Plain text (the Prometheus format).
        case text(String)
        /// Rows: CSV with a header row, or NDJSON (`format`).
        case rows(String)
    }

    package struct Parameter: Sendable {
        package enum Location: String, Sendable { case path, query, header }
        package var name: String
        package var location: Location
        package var description: String
        package var schema: [String: any Sendable]
        package var required: Bool

        package static func path(_ name: String, _ description: String) -> Parameter {
            Parameter(name: name, location: .path, description: description, schema: ["type": "string"], required: true)
        }

        package static func query(
            _ name: String, _ description: String, _ schema: [String: any Sendable] = ["type": "string"]
        )
            -> Parameter
        {
            Parameter(name: name, location: .query, description: description, schema: schema, required: false)
        }

        package static func limit(default value: Int, max: Int) -> Parameter {
            query(
                "limit", "At most this many items (default \(value)).",
                ["type": "integer", "minimum": 1, "maximum": max, "default": value])
        }

        /// An instant: ISO 8601 in UTC (`2025-10-18T09:00:00Z`) or epoch seconds (the server also
        /// takes offsets and fractions; the pattern is the plain form). Empty means not given.
        package static func time(_ name: String, _ description: String) -> Parameter {
            query(
                name, description + " An ISO 8601 time (2025-10-18T09:00:00Z) or epoch seconds.",
                [
                    "type": "string",
                    "pattern":
                        "^$|^[0-9]{1,11}(\\.[0-9]{1,3})?$|^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?Z$",
                ])
        }

        /// One of `values`; empty means not given (as a form's "any" choice sends it).
        package static func choice(_ name: String, _ description: String, _ values: [String]) -> Parameter {
            query(name, description, ["type": "string", "enum": [""] + values])
        }
    }

    package var method: HTTPRequest.Method
    /// The OpenAPI path, `{name}` for a parameter.
    package var path: String
    package var summary: String
    package var tag: String
    package var access: APIAccess
    package var parameters: [Parameter] = []
    package var requestBody: (type: any Decodable.Type, required: Bool)?
    package var success: (status: Int, body: Body) = (200, .text(""))
    /// Error statuses besides 400 (with parameters), 401 and 403 (with access), 404 (with path
    /// parameters).
    package var errors: [Int: String] = [:]

    /// The operation's id: method and path, e.g. `getApiStationsSourceId`.
    package var operationID: String {
        let words = path.split(whereSeparator: { "/{}-_".contains($0) }).map {
            $0.prefix(1).uppercased() + $0.dropFirst()
        }
        return method.rawValue.lowercased() + words.joined()
    }
}

/// The API contract served at `/openapi.json` (OpenAPI 3.1) and rendered at `/docs`.
package enum OpenAPIDocument {
    typealias Op = APIOperation

    static let stationsSource = Op.Parameter.path("source", "The source's id (e.g. demo-bikes).")
    static let sourceID = Op.Parameter.path("id", "The source's id.")

    package static let operations: [APIOperation] = [
        Op(
            method: .get, path: "/healthz", summary: "Liveness: the process answers.", tag: "probes", access: .open,
            success: (200, .json(HealthController.Status.self))),
        Op(
            method: .get, path: "/readyz", summary: "Readiness: the store and the queue answer.", tag: "probes",
            access: .open, success: (200, .json(HealthController.Status.self)),
            errors: [503: "The store or the queue is not reachable."]),
        Op(
            method: .get, path: "/metrics",
            summary:
                "This process's metrics in the Prometheus text format (a read key unless metrics.require_key is false).",
            tag: "operations", access: .key(.read), success: (200, .text("Prometheus text format 0.0.4"))),
        Op(
            method: .get, path: "/openapi.json", summary: "This document.", tag: "meta", access: .open,
            success: (200, .text("OpenAPI 3.1 JSON"))),
        Op(
            method: .get, path: "/docs", summary: "This document, rendered.", tag: "meta", access: .open,
            success: (200, .text("HTML"))),
        // Sources
        Op(
            method: .get, path: "/api/connectors", summary: "The source kinds, what each reads and produces.",
            tag: "sources", access: .open, success: (200, .json(SourcesController.ConnectorList.self))),
        Op(
            method: .get, path: "/api/sources", summary: "Every source: schedule, last run, freshness.",
            tag: "sources", access: .open, success: (200, .json(SourcesController.SourceList.self))),
        Op(
            method: .get, path: "/api/sources/{id}", summary: "One source.", tag: "sources", access: .open,
            parameters: [sourceID], success: (200, .json(SourcesController.SourceDTO.self))),
        Op(
            method: .get, path: "/api/sources/{id}/health",
            summary: "The feed health ledger of a source: state, uptime, latency percentiles, last change.",
            tag: "sources", access: .open, parameters: [sourceID],
            success: (200, .json(SourcesController.HealthDTO.self))),
        Op(
            method: .post, path: "/api/sources/{id}/run", summary: "Run a source now (a task of high priority).",
            tag: "sources", access: .key(.admin), parameters: [sourceID],
            success: (202, .json(SourcesController.RunNowResponse.self)),
            errors: [409: "Run now is not available in this process."]),
        // Stations
        Op(
            method: .get, path: "/api/stations", summary: "Latest value of every station; nearest first with near.",
            tag: "stations", access: .open,
            parameters: [
                .query("source", "Only this source's stations."),
                .query(
                    "near", "lat,lon in degrees: nearest first, with distance_m.",
                    [
                        "type": "string",
                        "pattern":
                            "^$|^-?([0-8]?[0-9](\\.[0-9]{1,6})?|90),-?((1[0-7][0-9]|[0-9]?[0-9])(\\.[0-9]{1,6})?|180)$",
                    ]),
                .query(
                    "radius_m", "With near: only stations within this many meters (needs near).",
                    ["type": "number", "exclusiveMinimum": 0, "maximum": 200_000]),
                .limit(default: 5000, max: 50_000),
            ], success: (200, .json(StationBoard.StationList.self)), errors: [404: "Unknown source."]),
        Op(
            method: .get, path: "/api/stations/{source}/{id}",
            summary: "A station's latest value, its age and the run that fetched it.", tag: "stations",
            access: .open, parameters: [stationsSource, .path("id", "The station's id in its feed.")],
            success: (200, .json(StationBoard.StationDetail.self))),
        Op(
            method: .get, path: "/api/stations/{source}/{id}/history", summary: "A station's raw observations.",
            tag: "stations", access: .open,
            parameters: [
                stationsSource, .path("id", "The station's id in its feed."), .time("since", "From this time."),
                .time("until", "Up to this time."), .limit(default: 1000, max: 100_000),
            ], success: (200, .json(StationBoard.StationHistory.self))),
        Op(
            method: .get, path: "/api/stations/{source}/{id}/stats",
            summary:
                "A station's hourly statistics (the gold tier, built by the refresh_hourly job): mean, min and max of bikes, e-bikes and docks, occupancy, minutes empty, full and closed.",
            tag: "stations", access: .open,
            parameters: [
                stationsSource, .path("id", "The station's id in its feed."),
                .choice("granularity", "hour (the default) or day.", ["hour", "day"]),
                .time("since", "From this hour or day (default: the last 24 hours, or 30 days)."),
                .time("until", "Up to this hour or day."),
                .limit(default: 1000, max: 100_000),
            ], success: (200, .json(StationBoard.StationStats.self))),
        Op(
            method: .get, path: "/api/stations/{source}/{id}/forecast",
            summary:
                "Bikes at a station for the next 60 minutes, 5 minutes apart: its hourly profile of the last 15 days blended with its latest observation (docs/city-live.md), with the observation's age and run.",
            tag: "stations", access: .open,
            parameters: [stationsSource, .path("id", "The station's id in its feed.")],
            success: (200, .json(StationBoard.StationForecast.self)),
            errors: [404: "Unknown source or station."]),
        Op(
            method: .get, path: "/api/rankings/stations",
            summary:
                "A source's stations over the last 24 hours ranked by minutes empty, minutes full or turnover (bikes taken and returned), as the compute_station_ranking job left them.",
            tag: "stations", access: .open,
            parameters: [
                Op.Parameter(
                    name: "source", location: .query, description: "The source whose stations to rank.",
                    schema: ["type": "string", "minLength": 1], required: true),
                .choice("by", "empty (the default), full or turnover.", StationRank.Order.allCases.map(\.rawValue)),
                .limit(default: 20, max: 10_000),
            ], success: (200, .json(StationBoard.Ranking.self)), errors: [404: "Unknown source."]),
        // Transit
        Op(
            method: .get, path: "/api/lines", summary: "Every line with its traffic status.", tag: "transit",
            access: .open, success: (200, .json(TransitBoard.LineList.self))),
        Op(
            method: .get, path: "/api/snapshots/{network}/{line}",
            summary: "A line's stops with their next departures, its vehicles and disruptions.", tag: "transit",
            access: .open,
            parameters: [
                .path("network", "The transit network (a source's network)."), .path("line", "The line's id."),
                .query(
                    "per_stop", "Departures per stop (default 3).",
                    ["type": "integer", "minimum": 1, "maximum": 50, "default": 3]),
            ], success: (200, .json(TransitBoard.LineSnapshot.self)), errors: [404: "Unknown network."]),
        Op(
            method: .get, path: "/api/traffic/status", summary: "Disruptions per line.", tag: "transit",
            access: .open, parameters: [.query("network", "Only this network.")],
            success: (200, .json(TransitBoard.TrafficStatus.self)), errors: [404: "Unknown network."]),
        Op(
            method: .get, path: "/api/stops/{id}/departures", summary: "A stop's next departures.", tag: "transit",
            access: .open,
            parameters: [
                .path("id", "The stop's id."), .query("network", "Only this network."),
                .limit(default: 20, max: 500),
            ], success: (200, .json(TransitBoard.DepartureList.self))),
        Op(
            method: .get, path: "/api/vehicles", summary: "Where the vehicles are.", tag: "transit", access: .open,
            parameters: [.query("network", "Only this network."), .query("line", "Only this line.")],
            success: (200, .json(TransitBoard.VehicleList.self)), errors: [404: "Unknown network."]),
        // Cities
        Op(
            method: .get, path: "/api/cities", summary: "The cities and their zones.", tag: "cities", access: .open,
            success: (200, .json(CityBoard.CityList.self))),
        Op(
            method: .get, path: "/api/cities/{city}/zones",
            summary: "Latest weather, air quality, traffic and power readings per zone.", tag: "cities",
            access: .open, parameters: [.path("city", "The city's id.")],
            success: (200, .json(CityBoard.ZoneList.self))),
        Op(
            method: .get, path: "/api/cities/{city}/zones/{zone}/history", summary: "A zone's readings over time.",
            tag: "cities", access: .open,
            parameters: [
                .path("city", "The city's id."), .path("zone", "The zone's id."),
                .query("metric", "Only this metric (e.g. temperature_c)."), .time("since", "From this time."),
                .limit(default: 1000, max: 100_000),
            ], success: (200, .json(CityBoard.History.self))),
        Op(
            method: .get, path: "/api/cities/{city}/zones/{zone}/stats",
            summary:
                "A zone's hourly statistics per metric (readings, mean, min, max) from the refresh_zone_hours job; the last 24 hours by default.",
            tag: "cities", access: .open,
            parameters: [
                .path("city", "The city's id."), .path("zone", "The zone's id."), .query("metric", "Only this metric."),
                .time("since", "From this time (default: 24 hours before until)."),
                .time("until", "Up to this time (default: now)."),
            ], success: (200, .json(TrendBoard.ZoneStats.self)), errors: [404: "Unknown city or zone."]),
        Op(
            method: .get, path: "/api/cities/{city}/zones/{zone}/features",
            summary:
                "A zone's features as process_city left them: the latest reading behind each (its age, source and run), anomalies of the last complete hour against its seasonal baseline, and the risk score with its components.",
            tag: "cities", access: .open,
            parameters: [.path("city", "The city's id."), .path("zone", "The zone's id.")],
            success: (200, .json(CityLiveBoard.Features.self)), errors: [404: "Unknown city or zone."]),
        Op(
            method: .get, path: "/api/cities/{city}/risk",
            summary: "Each zone's risk score (0–100), highest first, with its components and the age of its inputs.",
            tag: "cities", access: .open, parameters: [.path("city", "The city's id.")],
            success: (200, .json(CityLiveBoard.RiskList.self)), errors: [404: "Unknown city."]),
        Op(
            method: .get, path: "/api/cities/{city}/forecast",
            summary:
                "Each zone's power demand for the next 24 hours, as process_city last computed it: the seasonal profile blended with the recent level, the profile beside each point, the input's age and run.",
            tag: "cities", access: .open, parameters: [.path("city", "The city's id.")],
            success: (200, .json(CityLiveBoard.ForecastList.self)), errors: [404: "Unknown city."]),
        Op(
            method: .get, path: "/api/cities/{city}/alerts",
            summary: "A city's alerts with their recommendations, the most recently updated first.",
            tag: "cities", access: .open,
            parameters: [
                .path("city", "The city's id."),
                .choice(
                    "state",
                    "active (open or acknowledged; the default), open, acknowledged, resolved, pending or all.",
                    ["active", "open", "acknowledged", "resolved", "pending", "all"]),
                .limit(default: 100, max: 10_000),
            ], success: (200, .json(CityLiveBoard.AlertList.self)), errors: [404: "Unknown city."]),
        Op(
            method: .get, path: "/api/cities/{city}/stream",
            summary:
                "Server-sent events of the city's readings as they are stored: a snapshot of the latest, then each batch fetched since (id: the newest fetch time; Last-Event-ID resumes).",
            tag: "cities", access: .open, parameters: [.path("city", "The city's id.")],
            success: (200, .eventStream("event: snapshot, then event: readings, each with {city, count, readings}")),
            errors: [404: "Unknown city."]),
        Op(
            method: .post, path: "/api/cities/{city}/alerts/{id}/ack",
            summary:
                "Acknowledge an open alert: it stays until its condition clears, marked as seen (by the key's name).",
            tag: "cities", access: .key(.admin),
            parameters: [.path("city", "The city's id."), .path("id", "The alert's id.")],
            success: (200, .json(CityLiveBoard.AlertDTO.self)),
            errors: [404: "Unknown city or alert.", 409: "The alert is pending or resolved."]),
        Op(
            method: .post, path: "/api/cities/{city}/process",
            summary:
                "Run process_city now (features, anomalies, risk, alerts): the scheduler's leader starts it within a few seconds.",
            tag: "cities", access: .key(.admin), parameters: [.path("city", "The city's id.")],
            success: (202, .json(JobBoard.JobAction.self)),
            errors: [404: "Unknown city.", 409: "Jobs are off in this deployment."]),
        Op(
            method: .get, path: "/api/lines/{network}/{line}/punctuality",
            summary:
                "A line's punctuality per hour (departures seen, cancelled, mean and 90th-percentile delay, share on time) from the refresh_line_hours job, and over the window; the last 24 hours by default.",
            tag: "transit", access: .open,
            parameters: [
                .path("network", "The transit network (a source's network)."), .path("line", "The line's id."),
                .time("since", "From this time (default: 24 hours before until)."),
                .time("until", "Up to this time (default: now)."),
            ], success: (200, .json(TrendBoard.Punctuality.self)), errors: [404: "Unknown network."]),
        // Live
        Op(
            method: .get, path: "/api/stream",
            summary:
                "Server-sent events of the live map: a snapshot, then what changed (stations, vehicles, stops, sources).",
            tag: "live", access: .open,
            parameters: [
                .query(
                    "topics", "Comma-separated: stations, vehicles, stops, sources (default all).",
                    ["type": "string"]),
                .query("source", "Comma-separated source ids."),
                Op.Parameter(
                    name: "Last-Event-ID", location: .header, description: "Resume after this event id (a version).",
                    schema: ["type": "string", "pattern": "^[0-9]+$"], required: false),
            ], success: (200, .eventStream("event: snapshot | update; data: JSON")),
            errors: [503: "Too many streams are open."]),
        // Operations
        Op(
            method: .get, path: "/api/system/queue", summary: "Queue depth by state, oldest waiting age, throughput.",
            tag: "operations", access: .key(.read), success: (200, .json(OperationsBoard.QueueDTO.self))),
        Op(
            method: .get, path: "/api/system/workers", summary: "The worker fleet: status, heartbeat, load.",
            tag: "operations", access: .key(.read), success: (200, .json(OperationsBoard.WorkerList.self))),
        Op(
            method: .get, path: "/api/system/workers/stream", summary: "Server-sent events of worker heartbeats.",
            tag: "operations", access: .key(.read), success: (200, .eventStream("event: heartbeat; data: a worker")),
            errors: [503: "Too many streams are open."]),
        Op(
            method: .get, path: "/api/system/scheduler", summary: "Who leads, the last tick, the next run per source.",
            tag: "operations", access: .key(.read), success: (200, .json(OperationsBoard.SchedulerDTO.self))),
        Op(
            method: .get, path: "/api/system/task-runs", summary: "Task runs, newest first, with their errors.",
            tag: "operations", access: .key(.read),
            parameters: [
                .choice("status", "Only runs of this outcome.", TaskRunStatus.allCases.map(\.rawValue)),
                .query("source", "Only this source's runs."), .limit(default: 100, max: 10_000),
            ], success: (200, .json(OperationsBoard.TaskRunList.self))),
        Op(
            method: .get, path: "/api/system/task-runs/{id}",
            summary:
                "One task run with its rejections: each entity refused (or kept without a field) and why, the first 50.",
            tag: "operations", access: .key(.read), parameters: [.path("id", "The run's id.")],
            success: (200, .json(OperationsBoard.TaskRunDTO.self)), errors: [404: "No such run (or pruned)."]),
        Op(
            method: .get, path: "/api/system/tasks", summary: "Tasks in the queue.", tag: "operations",
            access: .key(.read),
            parameters: [
                .choice("state", "Only tasks in this state.", TaskState.allCases.map(\.rawValue)),
                .limit(default: 100, max: 10_000),
            ], success: (200, .json(OperationsBoard.TaskList.self))),
        Op(
            method: .get, path: "/api/system/logs",
            summary: "The central log: every role's lines, newest first, searched by role, level, words and time.",
            tag: "operations", access: .key(.read),
            parameters: [
                .query(
                    "service",
                    "Only this role's lines (serve, scheduler, worker, api, sink), or one process's (host-pid)."),
                .choice("level", "Only lines at this level or above.", Logger.Level.allCases.map(\.rawValue)),
                .query(
                    "q", "Words that must all occur in the message or the metadata (a word matches words it begins)."),
                .time("since", "Only lines logged at or after this time."),
                .time("until", "Only lines logged at or before this time."), .limit(default: 100, max: 1_000),
            ], success: (200, .json(LogBoard.LogList.self))),
        Op(
            method: .get, path: "/api/system/db/summary",
            summary:
                "The store at a glance: tasks by state, workers by health and status, rows and size per table, observations per kind in the last hour and day, database and WAL size (computed at most every 10 s).",
            tag: "operations", access: .key(.read), success: (200, .json(DatabaseBoard.SummaryDTO.self))),
        Op(
            method: .get, path: "/api/system/commands",
            summary: "Control commands sent, newest first: who sent them, to which workers, and each worker's answer.",
            tag: "operations", access: .key(.read), parameters: [.limit(default: 50, max: 1_000)],
            success: (200, .json(FleetControl.CommandList.self))),
        Op(
            method: .post, path: "/api/system/commands",
            summary:
                "Send a control command to the workers (all, or one with target); it is recorded with the key's name and each worker acknowledges it.",
            tag: "operations", access: .key(.admin), requestBody: (SystemController.CommandRequest.self, true),
            success: (202, .json(FleetControl.CommandDTO.self))),
        Op(
            method: .post, path: "/api/system/workers/scale",
            summary:
                "Change the running worker pools' slots (concurrent tasks) without a restart: {\"count\": N} slots in all, or {\"delta\": N}; in-flight tasks finish.",
            tag: "operations", access: .key(.admin), requestBody: (SystemController.ScaleRequest.self, true),
            success: (202, .json(FleetControl.ScaleDTO.self)),
            errors: [409: "No worker pool is running (or none of that target)."]),
        Op(
            method: .post, path: "/api/demo/incidents",
            summary:
                "The demo city's sensors in a zone report a value for a while: {\"zone\": \"sud\", \"metric\": \"pm2_5\", \"value\": 300, \"minutes\": 30} (metric: an Open-Meteo variable of the demo; minutes 1–240, default 30). Every process serving the demo answers the command; City Live then sees a spike.",
            tag: "operations", access: .key(.admin), requestBody: (SystemController.IncidentRequest.self, true),
            success: (202, .json(FleetControl.CommandDTO.self)),
            errors: [409: "The demo city is not enabled in this deployment."]),
        Op(
            method: .post, path: "/api/system/queue/requeue-dead",
            summary: "Requeue dead tasks (all, or those of task_ids).", tag: "operations", access: .key(.admin),
            requestBody: (SystemController.RequeueRequest.self, false),
            success: (200, .json(SystemController.RequeueResponse.self))),
        // Webhooks
        Op(
            method: .get, path: "/api/webhooks",
            summary: "The webhook endpoints (secrets hidden), with their pending deliveries, and every event type.",
            tag: "webhooks", access: .key(.admin), success: (200, .json(WebhookBoard.EndpointList.self))),
        Op(
            method: .post, path: "/api/webhooks",
            summary:
                "Creates an endpoint: {\"url\": \"https://example.org/hook\", \"events\": [\"station.empty\", \"alert.opened\"]} with optional sources, stations, lines, cities, zones, empty_at_most and full_at_most (0–1000), description, enabled. The answer holds the signing secret (whsec_…), shown only here. Private, loopback and link-local targets are refused unless webhooks.allow_private_addresses.",
            tag: "webhooks", access: .key(.admin), requestBody: (WebhookBoard.EndpointRequest.self, true),
            success: (201, .json(WebhookBoard.EndpointDTO.self))),
        Op(
            method: .get, path: "/api/webhooks/{id}", summary: "One endpoint.", tag: "webhooks", access: .key(.admin),
            parameters: [.path("id", "The endpoint's id (ep_…).")],
            success: (200, .json(WebhookBoard.EndpointDTO.self)),
            errors: [404: "No such endpoint."]),
        Op(
            method: .patch, path: "/api/webhooks/{id}",
            summary:
                "Changes an endpoint: any field of the creation; enabled: true re-enables one that was disabled (and forgets its failures); rotate_secret: true makes a new secret, shown in the answer.",
            tag: "webhooks", access: .key(.admin), parameters: [.path("id", "The endpoint's id (ep_…).")],
            requestBody: (WebhookBoard.EndpointRequest.self, true),
            success: (200, .json(WebhookBoard.EndpointDTO.self)),
            errors: [404: "No such endpoint."]),
        Op(
            method: .delete, path: "/api/webhooks/{id}",
            summary: "Deletes an endpoint with its deliveries.", tag: "webhooks", access: .key(.admin),
            parameters: [.path("id", "The endpoint's id (ep_…).")], success: (200, .json(WebhookBoard.Deleted.self)),
            errors: [404: "No such endpoint."]),
        Op(
            method: .post, path: "/api/webhooks/{id}/test",
            summary: "Queues a webhook.test delivery to the endpoint, sent within a second.", tag: "webhooks",
            access: .key(.admin), parameters: [.path("id", "The endpoint's id (ep_…).")],
            success: (202, .json(WebhookBoard.DeliveryDTO.self)), errors: [404: "No such endpoint."]),
        Op(
            method: .get, path: "/api/webhooks/{id}/deliveries",
            summary:
                "The endpoint's deliveries, newest first: status, attempts (time, latency, response code, error) and the body as signed.",
            tag: "webhooks", access: .key(.admin),
            parameters: [
                .path("id", "The endpoint's id (ep_…)."),
                .choice("status", "Only deliveries in this state.", WebhookDelivery.Status.allCases.map(\.rawValue)),
                .limit(default: 100, max: 1_000),
            ], success: (200, .json(WebhookBoard.DeliveryList.self)), errors: [404: "No such endpoint."]),
        Op(
            method: .post, path: "/api/webhooks/{id}/deliveries/{delivery}/redeliver",
            summary: "Sends a delivery again (same webhook-id and body), with a new day of retries.",
            tag: "webhooks", access: .key(.admin),
            parameters: [.path("id", "The endpoint's id (ep_…)."), .path("delivery", "The delivery's id (msg_…).")],
            success: (202, .json(WebhookBoard.DeliveryDTO.self)), errors: [404: "No such endpoint or delivery."]),
        // Jobs
        Op(
            method: .get, path: "/api/jobs",
            summary:
                "The job runner's jobs (aggregates, checks): dependencies, paused or not, watermark, next cycle, last run and recent runs.",
            tag: "jobs", access: .key(.read),
            parameters: [
                .query(
                    "recent", "Recent runs per job (0–200, default 20).",
                    ["type": "integer", "minimum": 0, "maximum": 200])
            ],
            success: (200, .json(JobBoard.JobList.self))),
        Op(
            method: .get, path: "/api/jobs/{job}", summary: "One job, with its state and recent runs.", tag: "jobs",
            access: .key(.read),
            parameters: [
                .path("job", "The job's id (refresh_hourly, check_store_health, ...)."),
                .query(
                    "recent", "Recent runs (0–200, default 20).", ["type": "integer", "minimum": 0, "maximum": 200]),
            ], success: (200, .json(JobBoard.JobDTO.self)), errors: [404: "No such job."]),
        Op(
            method: .get, path: "/api/jobs/{job}/runs",
            summary: "A job's runs, newest first: status, duration, rows read and written, error.", tag: "jobs",
            access: .key(.read),
            parameters: [
                .path("job", "The job's id."),
                .choice("status", "Only runs that ended so.", JobRunStatus.allCases.map(\.rawValue)),
                .time("since", "Only runs started at or after this time."), .limit(default: 100, max: 10_000),
            ], success: (200, .json(JobBoard.JobRunList.self)), errors: [404: "No such job."]),
        Op(
            method: .get, path: "/api/jobs/{job}/runs/{run}", summary: "One run of a job.", tag: "jobs",
            access: .key(.read), parameters: [.path("job", "The job's id."), .path("run", "The run's id.")],
            success: (200, .json(JobBoard.RunDetail.self)), errors: [404: "No such job or run."]),
        Op(
            method: .get, path: "/api/quality",
            summary:
                "The data-quality checks (data_quality_check): the newest result of each check and source, worst first, and the rejections of the last 24 hours grouped by reason.",
            tag: "jobs", access: .key(.read), parameters: [.query("source", "Only this source's results.")],
            success: (200, .json(QualityBoard.Overview.self))),
        Op(
            method: .get, path: "/api/quality/history",
            summary: "Past results of the data-quality checks, newest first.",
            tag: "jobs", access: .key(.read),
            parameters: [
                .choice("check", "Only this check's results.", DataQualityJob.Check.allCases.map(\.rawValue)),
                .query("source", "Only this source's results."), .time("since", "Only results at or after this time."),
                .time("until", "Only results at or before this time."), .limit(default: 500, max: 10_000),
            ], success: (200, .json(QualityBoard.History.self))),
        Op(
            method: .get, path: "/api/export/{dataset}",
            summary:
                "A dataset streamed as CSV (a header row) or NDJSON: station_observations, departures, vehicle_positions, zone_readings (the raw history), station_hours, station_days, station_rankings, quality_results; times as ISO 8601.",
            tag: "jobs", access: .key(.read),
            parameters: [
                .path("dataset", "The dataset's name."),
                .choice("format", "csv (the default) or ndjson.", ExportFormat.allCases.map(\.rawValue)),
                .query("source", "Only this source's rows."),
                .time("since", "Only rows at or after this time (the dataset's time column)."),
                .time("until", "Only rows before this time."),
            ], success: (200, .rows("The rows, streamed.")), errors: [404: "No such dataset or source."]),
        Op(
            method: .post, path: "/api/jobs/{job}/run",
            summary:
                "Run the job now, alone (paused or not, whatever its upstream did): the scheduler's leader starts it within a few seconds.",
            tag: "jobs", access: .key(.admin), parameters: [.path("job", "The job's id.")],
            success: (202, .json(JobBoard.JobAction.self)),
            errors: [404: "No such job.", 409: "Jobs are off in this deployment."]),
        Op(
            method: .post, path: "/api/jobs/{job}/pause",
            summary: "Pause the job: its scheduled runs are skipped (and so are the jobs that need it) until resumed.",
            tag: "jobs", access: .key(.admin), parameters: [.path("job", "The job's id.")],
            success: (200, .json(JobBoard.JobAction.self)), errors: [404: "No such job."]),
        Op(
            method: .post, path: "/api/jobs/{job}/resume", summary: "Resume a paused job.", tag: "jobs",
            access: .key(.admin), parameters: [.path("job", "The job's id.")],
            success: (200, .json(JobBoard.JobAction.self)), errors: [404: "No such job."]),
    ]

    static var errorSchema: [String: Any] {
        [
            "type": "object", "required": ["error"],
            "properties": [
                "error": [
                    "type": "object", "required": ["message"],
                    "properties": [
                        "message": ["type": "string", "description": "What is wrong; names the parameter."]
                    ],
                ]
            ],
        ]
    }

    /// The document as JSON-compatible values.
    package static func document(version: String = "1.0") -> [String: Any] {
        var components: [String: Any] = ["Error": errorSchema]
        var paths: [String: [String: Any]] = [:]
        for operation in operations {
            var entry: [String: Any] = [
                "operationId": operation.operationID, "summary": operation.summary, "tags": [operation.tag],
            ]
            if !operation.parameters.isEmpty {
                entry["parameters"] = operation.parameters.map { p -> [String: Any] in
                    [
                        "name": p.name, "in": p.location.rawValue, "description": p.description,
                        "required": p.required, "schema": p.schema as [String: Any],
                    ]
                }
            }
            if let body = operation.requestBody {
                let schema = schemaOf(body.type, &components)
                constrainCommandKinds(&components)
                entry["requestBody"] = [
                    "required": body.required, "content": ["application/json": ["schema": schema]],
                ]
            }
            var responses: [String: Any] = [:]
            let description = operation.success.status == 202 ? "Accepted." : "OK."
            switch operation.success.body {
            case .json(let type):
                responses[String(operation.success.status)] = [
                    "description": description,
                    "content": ["application/json": ["schema": schemaOf(type, &components)]],
                ]
            case .eventStream(let text):
                responses[String(operation.success.status)] = [
                    "description": text, "content": ["text/event-stream": ["schema": ["type": "string"]]],
                ]
            case .rows(let text):
                responses[String(operation.success.status)] = [
                    "description": text,
                    "content": [
                        "text/csv": ["schema": ["type": "string"]],
                        "application/x-ndjson": ["schema": ["type": "string"]],
                    ],
                ]
            case .text(let text):
                let type =
                    operation.path == "/openapi.json"
                    ? "application/json" : operation.path == "/docs" ? "text/html" : "text/plain"
                responses[String(operation.success.status)] = [
                    "description": text.isEmpty ? description : text,
                    "content": [type: ["schema": type == "application/json" ? ["type": "object"] : ["type": "string"]]],
                ]
            }
            func error(_ status: Int, _ text: String) {
                responses[String(status)] = [
                    "description": text,
                    "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]],
                ]
            }
            if !operation.parameters.filter({ $0.location != .path }).isEmpty || operation.requestBody != nil {
                error(400, "A parameter or the body is not valid; the message names it.")
            }
            if operation.parameters.contains(where: { $0.location == .path }) { error(404, "Not found.") }
            if case .key(let scope) = operation.access {
                error(401, "No key, or a wrong one.")
                error(403, "A key of too small a scope (this needs \(scope.rawValue)), or no key is configured.")
                entry["security"] = [
                    ["apiKey": [] as [String]], ["bearer": [] as [String]], ["session": [] as [String]],
                ]
            } else {
                entry["security"] = [] as [Any]
            }
            for (status, text) in operation.errors { error(status, text) }
            entry["responses"] = responses
            paths[operation.path, default: [:]][operation.method.rawValue.lowercased()] = entry
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Metropulse API", "version": version,
                "description":
                    "A city's live data: stations, transit, city readings, and the operator endpoints. Errors are {\"error\": {\"message\": ...}} naming the bad parameter. Operator endpoints need a key (X-API-Key, or Authorization: Bearer) of the read or the admin scope.",
            ],
            "paths": paths,
            "components": [
                "schemas": components,
                "securitySchemes": [
                    "apiKey": ["type": "apiKey", "in": "header", "name": "X-API-Key"],
                    "bearer": ["type": "http", "scheme": "bearer"],
                    "session": ["type": "apiKey", "in": "cookie", "name": AdminSession.cookieName],
                ],
            ],
        ]
    }

    /// The command's `kind` is a string the handler checks (to name the allowed values in its
    /// error); the document lists them.
    private static func constrainCommandKinds(_ components: inout [String: Any]) {
        guard var request = components["CommandRequest"] as? [String: Any],
            var properties = request["properties"] as? [String: Any]
        else { return }
        properties["kind"] = ["type": "string", "enum": ControlCommand.Kind.plain.map(\.rawValue)]
        request["properties"] = properties
        components["CommandRequest"] = request
    }

    /// The operations whose path is `path` (`{name}` segments match any one segment).
    package static func operations(matching path: String) -> [APIOperation] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return operations.filter { operation in
            let template = operation.path.split(separator: "/", omittingEmptySubsequences: false)
            guard template.count == parts.count else { return false }
            return zip(template, parts).allSatisfy { t, p in
                (t.hasPrefix("{") && t.hasSuffix("}") && !p.isEmpty) || t == p
            }
        }
    }

    private static func schemaOf(_ type: any Decodable.Type, _ components: inout [String: Any]) -> [String: Any] {
        func open<T: Decodable>(_ t: T.Type) -> [String: Any] {
            JSONSchemaReflection.schema(of: t, components: &components)
        }
        return open(type)
    }

    /// The document, encoded once.
    package static let json: Data = {
        (try? JSONSerialization.data(withJSONObject: document(), options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }()
}
