package import Foundation
package import Hummingbird
package import MetropulseCore

/// Bike-share stations as the pages and endpoints show them, read from the store: latest values
/// (of one source, or near a point), one station with the run that produced its value, and its
/// raw history.
package struct StationBoard: Sendable {
    package let store: any ObservationStore & RunLog
    package let catalog: SourceCatalog

    package init(store: any ObservationStore & RunLog, catalog: SourceCatalog) {
        self.store = store
        self.catalog = catalog
    }

    package init(_ environment: APIEnvironment) {
        self.init(store: environment.store, catalog: environment.catalog)
    }

    package struct StationDTO: Codable, Sendable {
        package var source: String
        package var id: String
        package var code: String?
        package var name: String?
        package var lat: Double?
        package var lon: Double?
        package var capacity: Int?
        package var bikesAvailable: Int
        package var mechanicalAvailable: Int?
        package var ebikesAvailable: Int?
        package var docksAvailable: Int?
        package var isInstalled: Bool
        package var isRenting: Bool
        package var isReturning: Bool
        package var status: String
        package var occupancyRate: Double?
        package var observedAt: String
        package var fetchedAt: String
        /// Seconds since the feed reported this value.
        package var ageSeconds: Double
        package var runId: String
        package var distanceM: Double?

        package init(_ stored: StoredStation, now: Int64, from point: GeoPoint? = nil) {
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

    package struct StationList: ResponseCodable, Sendable {
        package var source: String?
        package var count: Int
        package var generatedAt: String
        package var stations: [StationDTO]
    }

    package struct RunDTO: Codable, Sendable {
        package var id: String
        package var jobId: String
        package var workerId: String
        package var url: String?
        package var httpStatus: Int?
        package var finishedAt: String
        package var feedTimestamp: String?
    }

    package struct StationDetail: ResponseCodable, Sendable {
        package var station: StationDTO
        /// The fetch run that produced the value, when it is still in the run history.
        package var run: RunDTO?
        package var fetchAgeSeconds: Double
    }

    package struct StationHistory: ResponseCodable, Sendable {
        package var source: String
        package var id: String
        package var count: Int
        package var observations: [StationDTO]
    }

    /// Latest values, nearest first when `near` is given (within `radiusMeters`, 1 km by default).
    package func stations(source: String?, near: GeoPoint?, radiusMeters: Double?, limit: Int, now: Int64) async throws
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
    package func station(source: String, id: String, now: Int64) async throws -> StationDetail {
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
    package func history(source: String, id: String, since: Int64?, until: Int64?, limit: Int, now: Int64) async throws
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

    package struct StationHourDTO: Codable, Sendable {
        /// The period's start (UTC): the hour's, or the day's.
        package var hour: String
        package var observations: Int
        package var bikesMean: Double
        package var bikesMin: Int
        package var bikesMax: Int
        package var ebikesMean: Double?
        package var ebikesMin: Int?
        package var ebikesMax: Int?
        package var docksMean: Double?
        package var docksMin: Int?
        package var docksMax: Int?
        package var occupancyMean: Double?
        package var minutesEmpty: Double
        package var minutesFull: Double
        package var minutesClosed: Double
        package var bikesTaken: Int
        package var bikesReturned: Int

        init(_ row: StationHour) {
            hour = Timestamp.iso8601(row.hour)
            observations = row.observations
            bikesMean = row.bikesMean
            bikesMin = row.bikesMin
            bikesMax = row.bikesMax
            ebikesMean = row.ebikesMean
            ebikesMin = row.ebikesMin
            ebikesMax = row.ebikesMax
            docksMean = row.docksMean
            docksMin = row.docksMin
            docksMax = row.docksMax
            occupancyMean = row.occupancyMean
            minutesEmpty = row.minutesEmpty
            minutesFull = row.minutesFull
            minutesClosed = row.minutesClosed
            bikesTaken = row.bikesTaken
            bikesReturned = row.bikesReturned
        }
    }

    package struct StationStats: ResponseCodable, Sendable {
        package var source: String
        package var id: String
        package var granularity: String
        package var count: Int
        /// Oldest first. Built by the `refresh_hourly` and `refresh_daily` jobs: an hour appears
        /// after it ended and the next run.
        package var stats: [StationHourDTO]
    }

    package enum Granularity: String, CaseIterable, Sendable {
        case hour, day
    }

    /// One station's hourly (the last 24 hours unless `since` says) or daily (the last 30 days)
    /// statistics from the gold tier.
    package func stats(
        source: String, id: String, granularity: Granularity, since: Int64?, until: Int64?, limit: Int,
        aggregates: any AggregateStore, now: Int64
    ) async throws -> StationStats {
        try requireKnownSource(source)
        guard let latest = try await store.station(sourceID: source, stationID: id) else {
            throw HTTPError(.notFound, message: "station '\(id)' not found in source '\(source)'")
        }
        let station = latest.observation.stationID
        let rows: [StationHour]
        switch granularity {
        case .hour:
            let from = since ?? StationHours.hour(of: now - 23 * StationHours.hourMillis)
            rows = try await aggregates.stationHours(
                sourceID: source, stationID: station, since: from, until: until, limit: limit)
        case .day:
            let from = since ?? StationDays.day(of: now - 29 * StationDays.dayMillis)
            rows = try await aggregates.stationDays(
                sourceID: source, stationID: station, since: from, until: until, limit: limit)
        }
        return StationStats(
            source: source, id: station, granularity: granularity.rawValue, count: rows.count,
            stats: rows.map(StationHourDTO.init))
    }

    package struct ForecastPointDTO: Codable, Sendable {
        package var at: String
        package var value: Double
        /// What the seasonal profile alone says; absent without history.
        package var profile: Double?

        init(_ point: Forecasting.Point) {
            at = Timestamp.iso8601(point.at)
            value = point.value
            profile = point.profile
        }
    }

    package struct StationForecast: ResponseCodable, Sendable {
        package var source: String
        package var id: String
        package var metric: String
        /// `profile+level` (docs/city-live.md), or `persistence` without hourly history.
        package var method: String
        /// The latest observation the forecast starts from, its age and the run that fetched it.
        package var origin: String
        package var bikes: Int
        package var capacity: Int?
        package var inputAgeSeconds: Double
        package var runId: String
        /// Past days (or weeks) of hourly means the profile was built from.
        package var samples: Int
        package var points: [ForecastPointDTO]
    }

    /// Bikes at one station for the next 60 minutes, from its latest observation and its hourly
    /// means of the last 15 days (`Forecasting.bikes`).
    package func forecast(source: String, id: String, aggregates: any AggregateStore, now: Int64) async throws
        -> StationForecast
    {
        try requireKnownSource(source)
        guard let latest = try await store.station(sourceID: source, stationID: id) else {
            throw HTTPError(.notFound, message: "station '\(id)' not found in source '\(source)'")
        }
        let observation = latest.observation
        let rows = try await aggregates.stationHours(
            sourceID: source, stationID: observation.stationID, since: now - 15 * Forecasting.day, until: now,
            limit: 1_000)
        let means = Dictionary(rows.map { ($0.hour, $0.bikesMean) }) { first, _ in first }
        // From the observation's time: a station that has not reported for a while starts there.
        let origin = min(now, max(observation.observedAt, latest.fetchedAt))
        let forecast = Forecasting.bikes(
            hourlyMeans: means, bikes: observation.bikesAvailable, origin: origin, capacity: observation.capacity)
        return StationForecast(
            source: source, id: observation.stationID, metric: forecast.metric, method: forecast.method,
            origin: Timestamp.iso8601(origin), bikes: observation.bikesAvailable, capacity: observation.capacity,
            inputAgeSeconds: Double(max(0, now - latest.fetchedAt)) / 1000, runId: latest.runID,
            samples: forecast.samples, points: forecast.points.map(ForecastPointDTO.init))
    }

    package struct RankedStationDTO: Codable, Sendable {
        package var rank: Int
        package var id: String
        package var name: String?
        package var minutesEmpty: Double
        package var minutesFull: Double
        package var turnover: Int
        package var rankEmpty: Int
        package var rankFull: Int
        package var rankTurnover: Int
    }

    package struct Ranking: ResponseCodable, Sendable {
        package var source: String
        /// empty, full or turnover.
        package var by: String
        /// When the `compute_station_ranking` job computed it, and the 24 hours it covers.
        package var computedAt: String?
        package var since: String?
        package var count: Int
        package var stations: [RankedStationDTO]
    }

    /// A source's stations ranked over the last 24 hours, as the last `compute_station_ranking` run left them.
    package func ranking(source: String, by order: StationRank.Order, limit: Int, aggregates: any AggregateStore)
        async throws -> Ranking
    {
        try requireKnownSource(source)
        let ranks = try await aggregates.stationRanking(sourceID: source, by: order, limit: limit)
        let names = Dictionary(
            try await store.stations(StationQuery(sourceID: source, limit: 100_000)).map {
                ($0.observation.stationID, $0.observation.name)
            }, uniquingKeysWith: { first, _ in first })
        let stations = ranks.map { r in
            RankedStationDTO(
                rank: order == .empty ? r.rankEmpty : order == .full ? r.rankFull : r.rankTurnover, id: r.stationID,
                name: names[r.stationID] ?? nil, minutesEmpty: r.minutesEmpty, minutesFull: r.minutesFull,
                turnover: r.turnover, rankEmpty: r.rankEmpty, rankFull: r.rankFull, rankTurnover: r.rankTurnover)
        }
        return Ranking(
            source: source, by: order.rawValue, computedAt: ranks.first.map { Timestamp.iso8601($0.computedAt) },
            since: ranks.first.map { Timestamp.iso8601($0.since) }, count: stations.count, stations: stations)
    }

    private func requireKnownSource(_ source: String) throws {
        guard catalog.source(id: source) != nil else {
            throw HTTPError(.notFound, message: "unknown source '\(source)'")
        }
    }
}
