import Foundation
import Hummingbird
import MetropulseCore

/// Bike-share stations: latest values, one station with provenance, and raw history.
struct StationsController {
    let environment: APIEnvironment

    struct StationDTO: Codable, Sendable {
        var source: String
        var id: String
        var code: String?
        var name: String?
        var lat: Double?
        var lon: Double?
        var capacity: Int?
        var bikesAvailable: Int
        var mechanicalAvailable: Int?
        var ebikesAvailable: Int?
        var docksAvailable: Int?
        var isInstalled: Bool
        var isRenting: Bool
        var isReturning: Bool
        var status: String
        var occupancyRate: Double?
        var observedAt: String
        var fetchedAt: String
        /// Seconds since the feed reported this value.
        var ageSeconds: Double
        var runId: String
        var distanceM: Double?

        init(_ stored: StoredStation, now: Int64, from point: GeoPoint? = nil) {
            let o = stored.observation
            source = o.sourceID
            id = o.stationID
            code = o.code
            name = o.name
            lat = o.latitude
            lon = o.longitude
            capacity = o.capacity
            bikesAvailable = o.bikesAvailable
            mechanicalAvailable = o.mechanicalAvailable
            ebikesAvailable = o.ebikesAvailable
            docksAvailable = o.docksAvailable
            isInstalled = o.isInstalled
            isRenting = o.isRenting
            isReturning = o.isReturning
            status = o.status.rawValue
            occupancyRate = o.occupancyRate.map { ($0 * 1000).rounded() / 1000 }
            observedAt = Timestamp.iso8601(o.observedAt)
            fetchedAt = Timestamp.iso8601(stored.fetchedAt)
            ageSeconds = Double(max(0, now - o.observedAt)) / 1000
            runId = stored.runID
            if let point, let lat = o.latitude, let lon = o.longitude {
                distanceM = (point.distance(to: GeoPoint(latitude: lat, longitude: lon)) * 10).rounded() / 10
            }
        }
    }

    struct StationList: ResponseEncodable {
        var source: String?
        var count: Int
        var generatedAt: String
        var stations: [StationDTO]
    }

    struct RunDTO: Codable, Sendable {
        var id: String
        var jobId: String
        var workerId: String
        var url: String?
        var httpStatus: Int?
        var finishedAt: String
        var feedTimestamp: String?
    }

    struct StationDetail: ResponseEncodable {
        var station: StationDTO
        /// The fetch run that produced the value, when it is still in the run history.
        var run: RunDTO?
        var fetchAgeSeconds: Double
    }

    struct StationHistory: ResponseEncodable {
        var source: String
        var id: String
        var count: Int
        var observations: [StationDTO]
    }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("stations", use: list)
        group.get("stations/:source/:id", use: detail)
        group.get("stations/:source/:id/history", use: history)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> StationList {
        let source = request.query("source")
        if let source { try requireKnownSource(source) }
        var near: GeoPoint?
        if let text = request.query("near") {
            let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let lat = parts[0], let lon = parts[1], (-90...90).contains(lat),
                (-180...180).contains(lon)
            else {
                throw HTTPError(.badRequest, message: "near must be 'lat,lon' in degrees, e.g. near=48.8566,2.3522")
            }
            near = GeoPoint(latitude: lat, longitude: lon)
        }
        let radius = try request.doubleQuery("radius_m")
        if let radius {
            guard near != nil else { throw HTTPError(.badRequest, message: "radius_m needs near=lat,lon") }
            guard radius > 0, radius <= 200_000 else {
                throw HTTPError(.badRequest, message: "radius_m must be between 0 and 200000 meters")
            }
        }
        let limit = try request.intQuery("limit", default: 5000, range: 1...50_000)
        let rows = try await environment.store.stations(
            StationQuery(sourceID: source, near: near, radiusMeters: near == nil ? nil : (radius ?? 1000), limit: limit)
        )
        let now = environment.clock.nowMillis
        let stations = rows.map { StationDTO($0, now: now, from: near) }
        return StationList(
            source: source, count: stations.count, generatedAt: Timestamp.iso8601(now), stations: stations)
    }

    @Sendable func detail(_ request: Request, context: APIRequestContext) async throws -> StationDetail {
        let source = try context.parameters.require("source")
        let id = try context.parameters.require("id")
        try requireKnownSource(source)
        guard let stored = try await environment.store.station(sourceID: source, stationID: id) else {
            throw HTTPError(.notFound, message: "station '\(id)' not found in source '\(source)'")
        }
        let now = environment.clock.nowMillis
        let run = try await environment.store.taskRun(id: stored.runID).map {
            RunDTO(
                id: $0.id, jobId: $0.jobID, workerId: $0.workerID, url: $0.url, httpStatus: $0.httpStatus,
                finishedAt: Timestamp.iso8601($0.finishedAt), feedTimestamp: $0.feedTimestamp.map(Timestamp.iso8601))
        }
        return StationDetail(
            station: StationDTO(stored, now: now), run: run, fetchAgeSeconds: Double(now - stored.fetchedAt) / 1000)
    }

    @Sendable func history(_ request: Request, context: APIRequestContext) async throws -> StationHistory {
        let source = try context.parameters.require("source")
        let id = try context.parameters.require("id")
        try requireKnownSource(source)
        let since = try request.timeQuery("since")
        let until = try request.timeQuery("until")
        if let since, let until, since > until {
            throw HTTPError(.badRequest, message: "since must not be after until")
        }
        let limit = try request.intQuery("limit", default: 1000, range: 1...100_000)
        guard let latest = try await environment.store.station(sourceID: source, stationID: id) else {
            throw HTTPError(.notFound, message: "station '\(id)' not found in source '\(source)'")
        }
        let rows = try await environment.store.stationHistory(
            sourceID: source, stationID: latest.observation.stationID, since: since, until: until, limit: limit)
        let now = environment.clock.nowMillis
        return StationHistory(
            source: source, id: latest.observation.stationID, count: rows.count,
            observations: rows.map { StationDTO($0, now: now) })
    }

    private func requireKnownSource(_ source: String) throws {
        guard environment.catalog.source(id: source) != nil else {
            throw HTTPError(.notFound, message: "unknown source '\(source)'")
        }
    }
}
