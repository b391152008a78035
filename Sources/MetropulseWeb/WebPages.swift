import Foundation
public import Hummingbird
import Logging
public import MetropulseAPI
import MetropulseCore
import NIOCore

/// The public pages (the live map, lines, a line, a station, cities), the console's pages
/// (`ConsolePages`), the sign-in, and the static assets, on the API's router.
public struct WebPages: Sendable {
    let site: WebSite
    let environment: APIEnvironment

    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self' https://cdnjs.cloudflare.com; "
        + "style-src 'self' 'unsafe-inline' https://cdnjs.cloudflare.com; img-src * data: blob:; "
        + "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

    public init(site: WebSite, environment: APIEnvironment) {
        self.site = site
        self.environment = environment
    }

    public func addRoutes(to router: Router<APIRequestContext>) {
        router.get("/", use: mapPage)
        router.get("lines", use: linesPage)
        router.get("lines/:network/:line", use: linePage)
        router.get("stations/:source/:id", use: stationPage)
        router.get("rankings", use: rankingsPage)
        router.get("cities", use: citiesPage)
        router.get("cities/:city", use: cityPage)
        router.get("static/**", use: asset)
        router.get("vendor/**", use: asset)
        router.get("favicon.ico") { _, _ in Response(status: .noContent) }
        ConsolePages(pages: self).addRoutes(to: router)
    }

    var now: Int64 { environment.clock.nowMillis }

    // MARK: Rendering

    /// The session of a signed-in console user, if the request has one.
    func session(_ request: Request) -> AdminSession.Session? {
        AdminSession(keys: environment.keys).session(of: request, now: now)
    }

    func frame(_ title: String, _ request: Request, bodyClass: String = "") -> PageFrame {
        let session = session(request)
        let csrf = session.map { AdminSession(keys: environment.keys).csrfToken(for: $0) }
        return PageFrame(title: title, path: request.uri.path, session: session, csrf: csrf, bodyClass: bodyClass)
    }

    /// Renders `template` in the layout; a read model's HTTPError becomes an error page with its
    /// status, anything else a 500 page (and a log line).
    func page(
        _ template: String, title: String, _ request: Request, bodyClass: String = "",
        headers: HTTPFields = [:], _ build: () async throws -> [String: Any]
    ) async -> Response {
        let frame = frame(title, request, bodyClass: bodyClass)
        do {
            let context = try await build()
            return render(template, frame: frame, context, request: request, headers: headers)
        } catch let error as HTTPError {
            return errorPage(error.status, error.body ?? "\(error.status)", request)
        } catch {
            environment.logger.error(
                "page failed", metadata: ["path": "\(request.uri.path)", "error": "\(loggable(error))"])
            return errorPage(.internalServerError, "The page could not be built: \(loggable(error))", request)
        }
    }

    func render(
        _ template: String, frame: PageFrame, _ context: [String: Any], request: Request,
        status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:]
    ) -> Response {
        guard let html = site.render(template, frame.context(site, context)) else {
            return Response(
                status: .internalServerError, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "template \(template) is missing")))
        }
        return .html(html, status: status, request: request, headers: headers)
    }

    /// A fragment of a page (one section), for the sections that refresh themselves.
    func fragment(_ template: String, _ context: [String: Any], request: Request) -> Response {
        let html = site.render(template, context) ?? ""
        return .html(html, request: request)
    }

    func errorPage(_ status: HTTPResponse.Status, _ message: String, _ request: Request) -> Response {
        render(
            "error", frame: frame("\(status.code) \(status.reasonPhrase)", request),
            ["status": status.code, "reason": status.reasonPhrase, "message": message], request: request,
            status: status)
    }

    // MARK: Assets

    @Sendable func asset(_ request: Request, context: APIRequestContext) async throws -> Response {
        guard let asset = site.assets[request.uri.path] else {
            throw HTTPError(.notFound, message: "no such file: \(request.uri.path)")
        }
        let versioned = request.uri.queryParameters.get("v") != nil
        var headers: HTTPFields = [
            .contentType: asset.contentType, .eTag: asset.etag, .vary: "Accept-Encoding",
            .cacheControl: versioned ? "public, max-age=31536000, immutable" : "public, max-age=300",
        ]
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: {
                $0.trimmingCharacters(in: .whitespaces) == asset.etag || $0.trimmingCharacters(in: .whitespaces) == "*"
            })
        {
            return Response(status: .notModified, headers: headers)
        }
        if let gzipped = asset.gzipped, acceptsGzip(request) {
            headers[.contentEncoding] = "gzip"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: gzipped)))
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.body)))
    }

    // MARK: The live map

    @Sendable func mapPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        await page("map", title: "Live map", request, bodyClass: "map-body") {
            let connectors = environment.connectors
            let sources: [[String: Any]] = environment.catalog.all.map { source in
                let produces = connectors[source.kind]?.produces.sorted().map(\.rawValue) ?? []
                var label = produces.joined(separator: ", ")
                if produces.contains("transit"), let network = source.tags["network"], network != source.id {
                    label += " · \(network)"
                }
                return ["id": source.id, "kindLabel": label.isEmpty ? source.kind.rawValue : label]
            }
            let transit = connectors.kinds(producing: .transit)
            // Transit networks with more than one source get a toggle of their own.
            var members: [String: [String]] = [:]
            for source in environment.catalog.all where transit.contains(source.kind) {
                members[source.tags["network"] ?? source.id, default: []].append(source.id)
            }
            let networks: [[String: Any]] = members.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }.map {
                ["network": $0.key, "sources": $0.value.joined(separator: ","), "count": $0.value.count]
            }
            return [
                "sources": sources, "networks": networks, "hasNetworks": !networks.isEmpty,
                "hasTransit": environment.catalog.all.contains { transit.contains($0.kind) },
                "tileURL": site.settings.tileURL, "tileAttribution": site.settings.tileAttribution,
                "center": site.settings.mapCenter, "staleSeconds": 3600,
            ]
        }
    }

    // MARK: Lines

    static func chipStyle(_ color: String?) -> String? {
        guard let color, color.count == 6, color.allSatisfy(\.isHexDigit) else { return nil }
        // Dark text on light line colours, white on the others.
        let value = Int(color, radix: 16) ?? 0
        let (r, g, b) = (Double((value >> 16) & 255), Double((value >> 8) & 255), Double(value & 255))
        let light = (0.299 * r + 0.587 * g + 0.114 * b) > 160
        return "background:#\(color);color:\(light ? "#111" : "#fff")"
    }

    static func periods(_ d: TransitBoard.DisruptionDTO) -> String {
        let parts = d.activePeriods.map { p -> String in
            switch (p.start, p.end) {
            case let (start?, end?): "\(start) – \(end)"
            case let (start?, nil): "from \(start)"
            case let (nil, end?): "until \(end)"
            case (nil, nil): "open-ended"
            }
        }
        return parts.isEmpty ? "no period given (active until withdrawn)" : parts.joined(separator: "; ")
    }

    static func disruption(_ d: TransitBoard.DisruptionDTO) -> [String: Any] {
        [
            "id": d.id, "header": d.header ?? d.effect ?? d.cause ?? "Disruption", "details": d.details ?? "",
            "effect": d.effect ?? "", "cause": d.cause ?? "", "severity": d.severity ?? "", "url": d.url ?? "",
            "periods": periods(d), "active": d.active, "source": d.source,
        ]
    }

    @Sendable func linesPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        await page("lines", title: "Lines", request) {
            let board = TransitBoard(environment)
            let now = self.now
            let lines = try await board.lines(now: now)
            let traffic = try await board.traffic(network: nil, now: now)
            var byLine: [String: [TransitBoard.DisruptionDTO]] = [:]
            for line in traffic.lines { byLine["\(line.network)/\(line.line)"] = line.disruptions }
            let rows: [[String: Any]] = lines.lines.map { l in
                [
                    "network": l.network, "line": l.line, "name": l.name ?? l.line, "longName": l.longName ?? "",
                    "chipStyle": Self.chipStyle(l.color) ?? "", "status": l.status, "effect": l.effect ?? "",
                    "disrupted": l.status != "normal", "departures": l.departures, "vehicles": l.vehicles,
                    "href": "/lines/\(pathPart(l.network))/\(pathPart(l.line))",
                    "disruptions": (byLine["\(l.network)/\(l.line)"] ?? []).map(Self.disruption),
                ]
            }
            return [
                "lines": rows, "hasLines": !rows.isEmpty, "count": rows.count,
                "disrupted": rows.filter { $0["disrupted"] as? Bool == true }.count,
                "other": traffic.other.map(Self.disruption), "hasOther": !traffic.other.isEmpty,
                "generatedAt": now,
            ]
        }
    }

    static func departure(_ d: TransitBoard.DepartureDTO) -> [String: Any] {
        let expected = Format.millis(d.expectedAt)
        let scheduled = Format.millis(d.scheduledAt)
        let at = expected ?? scheduled ?? 0
        let realtime = expected != nil && d.relationship != "scheduled_only"
        var delay = ""
        var delayClass = "ontime"
        if let seconds = d.delaySeconds, realtime {
            let minutes = Int((Double(abs(seconds)) / 60).rounded(.down))
            if minutes == 0 {
                delay = "on time"
            } else {
                delay = seconds > 0 ? "+\(minutes) min late" : "\(minutes) min early"
                delayClass = seconds > 0 ? "late" : "early"
            }
        }
        let minutes = Int(((d.inMinutes ?? 0)).rounded())
        return [
            "at": at, "minutes": minutes == 0 ? "Now" : "\(minutes) min", "realtime": realtime,
            "scheduledClock": scheduled.map(Format.clock) ?? "", "expectedClock": expected.map(Format.clock) ?? "",
            "showScheduled": realtime && scheduled != nil && scheduled != expected, "delay": delay,
            "delayClass": delayClass, "line": d.lineName ?? d.line ?? "", "trip": d.tripId ?? "",
            "stop": d.stopId, "vehicle": d.vehicleId ?? "",
        ]
    }

    @Sendable func linePage(_ request: Request, context: APIRequestContext) async throws -> Response {
        let network = try context.parameters.require("network")
        let line = try context.parameters.require("line")
        let part = request.uri.queryParameters.get("part")
        let build = { () async throws -> [String: Any] in
            let board = TransitBoard(environment)
            let now = self.now
            let snapshot = try await board.snapshot(network: network, line: line, perStop: 4, now: now)
            let vehicles = try await board.vehicles(network: network, line: line, now: now)
            let traffic = try await board.traffic(network: network, now: now)
            let disruptions = traffic.lines.filter { $0.line == line }.flatMap(\.disruptions)
            let names = environment.transitNames
            let sources = environment.catalog.all.filter { ($0.tags["network"] ?? $0.id) == network }.map(\.id)
            let route = names.route(sources: sources, route: line)
            let stops: [[String: Any]] = snapshot.stops.map { stop in
                [
                    "stopId": stop.stopId, "stopName": stop.stopName ?? stop.stopId,
                    "departures": stop.departures.map(Self.departure),
                    "hasScheduledOnly": stop.departures.contains { $0.expectedAt == nil },
                ]
            }
            let observed = snapshot.dataAgeSeconds.map { now - Int64($0 * 1000) }
            let mapVehicles = vehicles.vehicles.map {
                MiniMapPoint(
                    lat: $0.lat, lon: $0.lon, label: "\($0.label ?? $0.vehicleId)", bearing: $0.bearing,
                    observed: Format.millis($0.observedAt))
            }
            return [
                "network": network, "line": line, "name": snapshot.name ?? line, "longName": route?.longName ?? "",
                "chipStyle": Self.chipStyle(route?.color) ?? "", "status": snapshot.status,
                "disrupted": snapshot.status != "normal", "stops": stops, "hasStops": !stops.isEmpty,
                "observed": observed ?? 0, "hasObserved": observed != nil,
                "anyScheduledOnly": stops.contains { $0["hasScheduledOnly"] as? Bool == true },
                "vehiclesJSON": jsonText(mapVehicles), "vehicleCount": vehicles.count,
                "hasVehicles": vehicles.count > 0,
                "disruptions": disruptions.map(Self.disruption), "hasDisruptions": !disruptions.isEmpty,
                "fragmentURL": "/lines/\(pathPart(network))/\(pathPart(line))?part=stops",
                "tileURL": site.settings.tileURL, "tileAttribution": site.settings.tileAttribution,
            ]
        }
        if part == "stops" {
            do { return fragment("line-stops", try await build(), request: request) } catch let error as HTTPError {
                return Response(status: error.status)
            }
        }
        // The punctuality is the page's only: the stops' refresh above does not read it again.
        return await page("line", title: "Line \(line)", request) {
            try await build().merging(try await punctualityContext(network: network, line: line)) { a, _ in a }
        }
    }

    /// The line page's punctuality section: the last 24 hours of `refresh_line_hours`.
    func punctualityContext(network: String, line: String) async throws -> [String: Any] {
        let punctuality = try await TrendBoard(environment).punctuality(
            network: network, line: line, since: nil, until: nil, now: now)
        let hours: [[String: Any]] = punctuality.hours.suffix(12).reversed().map { h in
            [
                "hour": String(h.hour.dropFirst(11).prefix(5)), "departures": h.departures, "cancelled": h.cancelled,
                "onTime": h.onTimeShare.map { "\(Int(($0 * 100).rounded())) %" } ?? "—",
                "mean": h.delayMeanSeconds.map { Self.seconds($0) } ?? "—",
                "p90": h.delayP90Seconds.map { Self.seconds($0) } ?? "—",
            ]
        }
        return [
            "punctualHours": hours, "hasPunctuality": punctuality.departures > 0,
            "punctualDepartures": punctuality.departures, "punctualCancelled": punctuality.cancelled,
            "hasCancelled": punctuality.cancelled > 0,
            "punctualOnTime": punctuality.onTimeShare.map { "\(Int(($0 * 100).rounded())) %" } ?? "—",
            "punctualMean": punctuality.delayMeanSeconds.map { Self.seconds($0) } ?? "—",
        ]
    }

    /// A delay in seconds as a rider reads it: "+45 s", "+3 min 20 s", "−30 s".
    static func seconds(_ value: Double) -> String {
        let total = Int(value.rounded())
        let sign = total < 0 ? "−" : "+"
        let magnitude = abs(total)
        if magnitude < 60 { return "\(sign)\(magnitude) s" }
        return "\(sign)\(magnitude / 60) min" + (magnitude % 60 == 0 ? "" : " \(magnitude % 60) s")
    }

    struct MiniMapPoint: Encodable {
        var lat: Double
        var lon: Double
        var label: String
        var bearing: Double?
        var observed: Int64?
    }

    // MARK: Stations

    @Sendable func stationPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        let source = try context.parameters.require("source")
        let id = try context.parameters.require("id")
        let rows = try request.intQuery("rows", default: 50, range: 1...1000)
        return await page("station", title: "Station", request) {
            let board = StationBoard(environment)
            let now = self.now
            let detail = try await board.station(source: source, id: id, now: now)
            let history = try await board.history(
                source: source, id: id, since: now - 86_400_000, until: nil, limit: 5000, now: now)
            let s = detail.station
            let points = history.observations.reversed().map {
                ChartPoint(
                    t: Format.millis($0.observedAt) ?? 0, bikes: $0.bikesAvailable, ebikes: $0.ebikesAvailable,
                    docks: $0.docksAvailable)
            }
            let table: [[String: Any]] = history.observations.prefix(rows).map { o in
                var row: [String: Any] = ["observedAt": o.observedAt, "bikes": o.bikesAvailable]
                row["observedClock"] = Format.millis(o.observedAt).map(Format.clock) ?? ""
                row["ebikes"] = o.ebikesAvailable.map { String($0) } ?? "—"
                row["mechanical"] = o.mechanicalAvailable.map { String($0) } ?? "—"
                row["docks"] = o.docksAvailable.map { String($0) } ?? "—"
                row["status"] = o.status
                row["runId"] = o.runId
                row["fetchedAt"] = o.fetchedAt
                return row
            }
            let hourly = try await board.stats(
                source: source, id: id, granularity: .hour, since: nil, until: nil, limit: 48,
                aggregates: environment.store, now: now)
            let hours: [[String: Any]] = hourly.stats.reversed().map { h in
                [
                    "hour": Format.millis(h.hour).map(Format.clock) ?? h.hour, "hourISO": h.hour,
                    "mean": String(format: "%.1f", h.bikesMean), "range": "\(h.bikesMin)–\(h.bikesMax)",
                    "empty": Int(h.minutesEmpty.rounded()), "full": Int(h.minutesFull.rounded()),
                    "closed": Int(h.minutesClosed.rounded()), "taken": h.bikesTaken, "returned": h.bikesReturned,
                    "observations": h.observations,
                ]
            }
            let hourPoints = hourly.stats.map {
                HourPoint(
                    t: Format.millis($0.hour) ?? 0, mean: $0.bikesMean, min: $0.bikesMin, max: $0.bikesMax,
                    empty: $0.minutesEmpty)
            }
            let observed = Format.millis(s.observedAt) ?? 0
            let forecast = try await board.forecast(
                source: source, id: id, aggregates: environment.store, now: now)
            let ahead: [[String: Any]] =
                forecast.method == "persistence"
                ? []
                : [3, 6, 12].compactMap { step in
                    guard step <= forecast.points.count else { return nil }
                    let point = forecast.points[step - 1]
                    return ["minutes": step * 5, "bikes": String(Int(point.value.rounded()))]
                }
            return [
                "forecast": ahead, "hasForecast": !ahead.isEmpty, "forecastSamples": forecast.samples,
                "hours": hours, "hasHours": !hours.isEmpty, "hourJSON": jsonText(hourPoints),
                "hasHourChart": hourPoints.count >= 2,
                "source": s.source, "id": s.id, "name": s.name ?? s.id, "code": s.code ?? "",
                "bikes": s.bikesAvailable, "ebikes": s.ebikesAvailable.map(String.init) ?? "—",
                "mechanical": s.mechanicalAvailable.map(String.init) ?? "—",
                "docks": s.docksAvailable.map(String.init) ?? "—", "capacity": s.capacity.map(String.init) ?? "—",
                "status": s.status, "statusLabel": s.status.replacingOccurrences(of: "_", with: " "),
                "occupancy": Format.percent(s.occupancyRate), "observed": observed,
                "fetched": Format.millis(s.fetchedAt) ?? 0, "lat": s.lat.map { String(format: "%.5f", $0) } ?? "—",
                "lon": s.lon.map { String(format: "%.5f", $0) } ?? "—",
                "runId": detail.run?.id ?? s.runId, "runURL": detail.run?.url ?? "",
                "httpStatus": detail.run?.httpStatus.map(String.init) ?? "—",
                "chartJSON": jsonText(points), "hasChart": points.count >= 2, "points": points.count,
                "rows": table, "rowCount": table.count, "total": history.count,
                "moreURL": history.count > rows ? "?rows=\(min(1000, rows + 50))" : "",
            ]
        }
    }

    struct HourPoint: Encodable {
        var t: Int64
        var mean: Double
        var min: Int
        var max: Int
        var empty: Double
    }

    struct ChartPoint: Encodable {
        var t: Int64
        var bikes: Int
        var ebikes: Int?
        var docks: Int?
    }

    // MARK: Rankings

    @Sendable func rankingsPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        let order = try request.enumQuery("by", as: StationRank.Order.self) ?? .empty
        let stationKinds = environment.connectors.kinds(producing: .stations)
        let sources = environment.catalog.all.filter { stationKinds.contains($0.kind) }
        let chosen = request.query("source") ?? sources.first?.id
        return await page("rankings", title: "Rankings", request) {
            var context: [String: Any] = [
                "sources": sources.map { ["id": $0.id, "selected": $0.id == chosen] },
                "orders": StationRank.Order.allCases.map { o in
                    [
                        "value": o.rawValue, "selected": o == order,
                        "label": o == .empty ? "Minutes empty" : o == .full ? "Minutes full" : "Turnover",
                    ]
                },
                "hasSources": !sources.isEmpty,
            ]
            guard let chosen else { return context }
            let ranking = try await StationBoard(environment).ranking(
                source: chosen, by: order, limit: 50, aggregates: environment.store)
            context["stations"] = ranking.stations.map { r -> [String: Any] in
                [
                    "rank": r.rank, "id": r.id, "name": r.name ?? r.id,
                    "href": "/stations/\(pathPart(chosen))/\(pathPart(r.id))",
                    "empty": Int(r.minutesEmpty.rounded()), "full": Int(r.minutesFull.rounded()),
                    "turnover": r.turnover,
                ]
            }
            context["hasStations"] = !ranking.stations.isEmpty
            context["computed"] = ranking.computedAt.flatMap(Format.millis) ?? 0
            context["hasComputed"] = ranking.computedAt != nil
            context["source"] = chosen
            return context
        }
    }

    // MARK: Cities

    @Sendable func citiesPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        await page("cities", title: "Cities", request) {
            let list = try await CityBoard(environment).cities()
            return [
                "cities": list.cities.map {
                    [
                        "city": $0.city, "zones": $0.zones.count, "sources": $0.sources.count,
                        "href": "/cities/\(pathPart($0.city))",
                    ]
                },
                "hasCities": list.count > 0,
            ]
        }
    }

    struct ZonePoint: Encodable {
        var zone: String
        var lat: Double?
        var lon: Double?
        var polygon: [[Double]]?
        var summary: String
        /// low, elevated or high (process_city's risk), when computed.
        var risk: String?
    }

    @Sendable func cityPage(_ request: Request, context: APIRequestContext) async throws -> Response {
        let city = try context.parameters.require("city")
        return await page("city", title: "City \(city)", request) {
            let board = CityBoard(environment)
            let now = self.now
            let zones = try await board.zones(city: city, now: now)
            let declared = environment.catalog.city(id: city)
            var cards: [[String: Any]] = []
            var points: [ZonePoint] = []
            let trends = TrendBoard(environment)
            let snapshots = try await environment.store.zoneSnapshots(city: city)
            let riskByZone = Dictionary(snapshots.map { ($0.zone, $0.risk) }) { a, _ in a }
            // Critical first, then warnings; each the most recently updated first.
            let active = try await CityLiveBoard(environment).alerts(city: city, state: "active", limit: 50).alerts
            let openAlerts = active.filter { $0.severity == "critical" } + active.filter { $0.severity != "critical" }
            for zone in zones.zones {
                let stats = try await trends.zoneStats(
                    city: city, zone: zone.zone, metric: nil, since: nil, until: nil, now: now)
                var ranges: [String: (min: Double, max: Double, sum: Double, count: Int)] = [:]
                for h in stats.hours {
                    var r = ranges[h.metric] ?? (h.min, h.max, 0, 0)
                    r = (
                        Swift.min(r.min, h.min), Swift.max(r.max, h.max), r.sum + h.mean * Double(h.readings),
                        r.count + h.readings
                    )
                    ranges[h.metric] = r
                }
                let history = try await board.history(
                    city: city, zone: zone.zone, metric: nil, since: now - 86_400_000, limit: 5000, now: now)
                var series: [String: [(Int64, Double)]] = [:]
                for r in history.readings {
                    series[r.metric, default: []].append((Format.millis(r.observedAt) ?? 0, r.value))
                }
                // 311 categories in one line, and the AQI's dominant pollutant beside the AQI.
                let categories = zone.metrics.filter { $0.metric.hasPrefix(CityLive.requestCategoryPrefix) }
                    .filter { $0.value > 0 }.sorted { ($0.value, $1.metric) > ($1.value, $0.metric) }
                let dominant = snapshots.first { $0.zone == zone.zone }?.features
                    .first { $0.name == ObservationBatch.usAQIMetric }?.detail
                let shown = zone.metrics.filter {
                    !$0.metric.hasPrefix(CityLive.requestCategoryPrefix)
                        && !$0.metric.hasPrefix(ObservationBatch.usAQIMetric + ".")
                }
                let metrics: [[String: Any]] = shown.sorted { $0.metric < $1.metric }.map { m in
                    let observed = Format.millis(m.observedAt) ?? 0
                    let label = m.metric.replacingOccurrences(of: "_", with: " ")
                    let range = ranges[m.metric].map { r in
                        "24 h: \(Self.number(r.min))–\(Self.number(r.max)), mean \(Self.number(r.sum / Double(Swift.max(1, r.count))))"
                    }
                    return [
                        "metric": label, "value": Self.number(m.value), "unit": m.unit ?? "", "observed": observed,
                        "source": m.metric == ObservationBatch.usAQIMetric && dominant != nil
                            ? "\(m.source) · dominant \(dominant!.replacingOccurrences(of: "_", with: "."))" : m.source,
                        "range": range ?? "",
                        "spark": Sparkline.svg(
                            series[m.metric] ?? [], from: now - 86_400_000, to: now,
                            label: "\(label) over the last 24 hours"),
                    ]
                }
                let risk = riskByZone[zone.zone]
                cards.append([
                    "zone": zone.zone, "metrics": metrics, "hasMetrics": !metrics.isEmpty,
                    "requestCategories": categories.map {
                        "\($0.metric.dropFirst(CityLive.requestCategoryPrefix.count).replacingOccurrences(of: "_", with: " ")) \(Self.number($0.value))"
                    }.joined(separator: " · "),
                    "observed": zone.dataAgeSeconds.map { now - Int64($0 * 1000) } ?? 0,
                    "hasRisk": risk != nil, "risk": risk.map { Self.number($0.score) } ?? "",
                    "riskLevel": risk?.level ?? "",
                    "riskParts": risk?.components.filter { $0.points > 0 }.map {
                        "\($0.name) \(Self.number($0.points))"
                    }
                    .joined(separator: ", ") ?? "",
                ])
                let geometry = declared?.zones.first { $0.id == zone.zone }
                let summary = zone.metrics.prefix(3).map {
                    "\($0.metric) \(Self.number($0.value))\($0.unit.map { " \($0)" } ?? "")"
                }
                .joined(separator: ", ")
                points.append(
                    ZonePoint(
                        zone: zone.zone, lat: geometry?.center?.latitude, lon: geometry?.center?.longitude,
                        polygon: geometry?.polygon?.map { [$0.latitude, $0.longitude] }, summary: summary,
                        risk: risk?.level))
            }
            let mapped = points.filter { $0.lat != nil }
            let forecasts = CityLiveBoard.zoneForecasts(snapshots, now: now).filter { $0.metric == "power_demand" }
            return [
                "forecastJSON": jsonText(forecasts), "hasForecast": !forecasts.isEmpty,
                "forecastOrigin": snapshots.flatMap { $0.forecasts ?? [] }.map(\.origin).max() ?? 0,
                "city": city, "zones": cards, "hasZones": !cards.isEmpty, "count": cards.count,
                "alerts": openAlerts.map { a -> [String: Any] in
                    [
                        "zone": a.zone, "kind": a.kind.replacingOccurrences(of: "_", with: " "), "severity": a.severity,
                        "critical": a.severity == "critical",
                        "state": a.state, "message": a.message, "recommendation": a.recommendation,
                        "opened": a.openedAt.flatMap(Timestamp.parse) ?? 0,
                    ]
                }, "hasAlerts": !openAlerts.isEmpty,
                "processedAt": snapshots.map(\.computedAt).max() ?? 0, "hasProcessed": !snapshots.isEmpty,
                "zonesJSON": jsonText(mapped), "hasMap": !mapped.isEmpty,
                "tileURL": site.settings.tileURL, "tileAttribution": site.settings.tileAttribution,
            ]
        }
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e9 { return String(Int(value)) }
        return String(format: abs(value) >= 100 ? "%.0f" : "%.1f", value)
    }
}

/// A path segment with `/`, `?`, `#` and spaces escaped.
func pathPart(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#")))
        ?? text
}
