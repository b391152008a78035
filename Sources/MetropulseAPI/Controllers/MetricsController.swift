import Hummingbird
import Metrics
import MetropulseCore
import NIOCore
import Prometheus

/// `GET /metrics`: this process's metrics in the Prometheus text format. What the pipeline
/// records as it runs (task durations, fetch errors, commit durations, HTTP requests) comes from
/// swift-metrics' Prometheus backend; the state of the queue, the sources and the fleet is read
/// from the store at each scrape into a registry of that scrape, so a worker or source that is
/// gone leaves no frozen series behind.
struct MetricsController {
    let environment: APIEnvironment

    func addRoutes(to router: Router<APIRequestContext>) {
        if environment.metricsRequireKey {
            router.group().requiring(.read, environment).get("metrics", use: metrics)
        } else {
            router.get("metrics", use: metrics)
        }
    }

    @Sendable func metrics(_ request: Request, context: APIRequestContext) async throws -> Response {
        let registry = PrometheusCollectorRegistry()
        let now = environment.clock.nowMillis
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ value: Double) {
            registry.makeGauge(name: name, labels: labels, help: help).set(to: value)
        }
        let stats = try await environment.queue.stats(now: now)
        let states: [(String, Int)] = [
            ("queued", stats.queued), ("running", stats.running), ("retrying", stats.retrying),
            ("dead", stats.dead), ("succeeded", stats.succeeded),
        ]
        for (state, count) in states {
            gauge("metropulse_queue_tasks", "Tasks in the queue by state.", [("state", state)], Double(count))
        }
        gauge(
            "metropulse_queue_oldest_waiting_seconds", "Age of the oldest task ready to run (0 when none waits).",
            [], stats.oldestReadySince.map { Double(max(0, now - $0)) / 1000 } ?? 0)
        gauge(
            "metropulse_queue_finished_last_minute", "Tasks finished in the last minute.", [],
            Double(stats.finishedLastMinute))
        for p in stats.partitions ?? [] {
            let labels = [("topic", p.topic), ("partition", String(p.partition))]
            gauge(
                "metropulse_queue_partition_lag", "Messages not yet consumed, per Kafka partition.", labels,
                Double(p.lag))
            gauge(
                "metropulse_queue_partition_lag_seconds", "Age of the oldest unconsumed message, per Kafka partition.",
                labels, p.oldestAt.map { Double(max(0, now - $0)) / 1000 } ?? 0)
        }
        for state in try await environment.store.sourceStates() {
            guard environment.catalog.source(id: state.sourceID) != nil else { continue }
            if let success = state.lastSuccessAt {
                gauge(
                    "metropulse_feed_age_seconds", "Seconds since the source's last successful fetch.",
                    [("source", state.sourceID)], Double(max(0, now - success)) / 1000)
            }
            if let feed = state.lastFeedTimestamp {
                gauge(
                    "metropulse_feed_timestamp_age_seconds",
                    "Seconds since the feed's own timestamp (GBFS last_updated).",
                    [("source", state.sourceID)], Double(max(0, now - feed)) / 1000)
            }
        }
        for beat in try await environment.store.heartbeats() {
            let labels = [("worker", beat.workerID)]
            gauge("metropulse_worker_in_flight", "Tasks a worker is running.", labels, Double(beat.inFlight))
            gauge("metropulse_worker_concurrency", "A worker's slots.", labels, Double(beat.concurrency))
            gauge(
                "metropulse_worker_heartbeat_age_seconds", "Seconds since a worker's last heartbeat.", labels,
                Double(max(0, now - beat.lastSeenAt)) / 1000)
        }
        gauge(
            "metropulse_api_streams_open", "Live streams (server-sent events) open in this process.", [],
            Double(environment.streams.count))
        registry.makeCounter(
            name: "metropulse_api_stream_events_skipped_total",
            help: "Live stream events not sent to a subscriber that was not reading (it got the net changes later)."
        ).increment(by: Int64(environment.streamHub.skipped))
        var text = environment.metrics.emitToBuffer()
        registry.emit(into: &text)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
}

/// Records `metropulse_http_requests_total` and `metropulse_http_request_duration_seconds` by
/// route (the router's path template, not the raw path), method and status, from the request to
/// the answer's head.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        func record(_ status: HTTPResponse.Status) {
            Self.record(
                route: context.endpointPath ?? "unmatched", method: request.method, status: status, since: start)
        }
        do {
            // Measured to the answer's head: a handler's work, not the client's reading of a long
            // body or a live stream.
            let response = try await next(request, context)
            record(response.status)
            return response
        } catch {
            record((error as? any HTTPResponseError)?.status ?? .internalServerError)
            throw error
        }
    }

    static func record(
        route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, since start: ContinuousClock.Instant
    ) {
        let labels = [("route", route), ("method", method.rawValue), ("status", String(status.code))]
        Counter(label: "metropulse_http_requests_total", dimensions: labels).increment()
        Timer(label: "metropulse_http_request_duration_seconds", dimensions: labels)
            .record(duration: ContinuousClock.now - start)
    }
}
