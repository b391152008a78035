import Foundation
import Hummingbird
import MetropulseCore

/// Bike-share stations as the pages and endpoints show them, read from the store: latest values
/// (of one source, or near a point), one station with the run that produced its value, and its
/// raw history.
struct StationBoard: Sendable {
    let store: any ObservationStore & RunLog
    let catalog: SourceCatalog

    init(store: any ObservationStore & RunLog, catalog: SourceCatalog) {
        self.store = store
        self.catalog = catalog
    }

    init(_ environment: APIEnvironment) {
        self.init(store: environment.store, catalog: environment.catalog)
    }

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

    struct StationList: ResponseCodable, Sendable {
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

    struct StationDetail: ResponseCodable, Sendable {
        var station: StationDTO
        /// The fetch run that produced the value, when it is still in the run history.
        var run: RunDTO?
        var fetchAgeSeconds: Double
    }

    struct StationHistory: ResponseCodable, Sendable {
        var source: String
        var id: String
        var count: Int
        var observations: [StationDTO]
    }

    /// Latest values, nearest first when `near` is given (within `radiusMeters`, 1 km by default).
    func stations(source: String?, near: GeoPoint?, radiusMeters: Double?, limit: Int, now: Int64) async throws
        -> StationList
    {
        if let source { try requireKnownSource(source) }
        let rows = try await store.stations(
            StationQuery(
                sourceID: source, near: near, radiusMeters: near == nil ? nil : (radiusMeters ?? 1000), limit: limit))
        let stations = rows.map { StationDTO($0, now: now, from: near) }
        return StationList(
            source: source, count: stations.count, generatedAt: Timestamp.iso8601(now), stations: stations)
    }

    /// One station's latest value and the run that fetched it.
    func station(source: String, id: String, now: Int64) async throws -> StationDetail {
        try requireKnownSource(source)
        guard let stored = try await store.station(sourceID: source, stationID: id) else {
            throw HTTPError(.notFound, message: "station '\(id)' not found in source '\(source)'")
        }
        let run = try await store.taskRun(id: stored.runID).map {
            RunDTO(
                id: $0.id, jobId: $0.jobID, workerId: $0.workerID, url: $0.url, httpStatus: $0.httpStatus,
                finishedAt: Timestamp.iso8601($0.finishedAt), feedTimestamp: $0.feedTimestamp.map(Timestamp.iso8601))
        }
        return StationDetail(
            station: StationDTO(stored, now: now), run: run, fetchAgeSeconds: Double(now - stored.fetchedAt) / 1000)
    }

    /// A station's raw observations between two times, newest first.
    func history(source: String, id: String, since: Int64?, until: Int64?, limit: Int, now: Int64) async throws
        -> StationHistory
    {
        try requireKnownSource(source)
        guard let latest = try await store.station(sourceID: source, stationID: id) else {
            throw HTTPError(.notFound, message: "station '\(id)' not found in source '\(source)'")
        }
        let rows = try await store.stationHistory(
            sourceID: source, stationID: latest.observation.stationID, since: since, until: until, limit: limit)
        return StationHistory(
            source: source, id: latest.observation.stationID, count: rows.count,
            observations: rows.map { StationDTO($0, now: now) })
    }

    private func requireKnownSource(_ source: String) throws {
        guard catalog.source(id: source) != nil else {
            throw HTTPError(.notFound, message: "unknown source '\(source)'")
        }
    }
}
