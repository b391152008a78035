/// Where observations, run history, source bookkeeping and heartbeats live: every role below.
/// A backend implements them all; a part of the system asks only for the roles it uses (the read
/// models take an `ObservationStore`, the operations board a `FleetStore & LeadershipStore &
/// RunLog`), so a role can be served from elsewhere without touching the rest.
///
/// Writes are idempotent on natural keys: raw station rows are unique on
/// (source, station, observed_at); the latest row per (source, station) only moves forward.
public protocol Store: ObservationStore, RunLog, FleetStore, LeadershipStore, RetentionStore, LogStore, CommandLog,
    SummaryStore, JobStore, AggregateStore, QualityStore, ExportStore, CityStore, WebhookStore
{}

/// Observations: written with their runs, read as latest values, near a point and as history
/// (`StoreConformanceTests`, `TransitConformanceTests`, `MeasurementConformanceTests`,
/// `ObservationKindConformanceTests`).
public protocol ObservationStore: Sendable {
    /// Writes runs and their observations; `RunResult.outcome` is applied by a `RunCommitter`,
    /// not here.
    func write(_ results: [RunResult]) async throws

    func stations(_ query: StationQuery) async throws -> [StoredStation]
    func station(sourceID: String, stationID: String) async throws -> StoredStation?
    func stationHistory(sourceID: String, stationID: String, since: Int64?, until: Int64?, limit: Int) async throws
        -> [StoredStation]
    /// Number of raw observation rows for a source (all sources when nil).
    func rawStationObservationCount(sourceID: String?) async throws -> Int

    /// Latest departures (the current prediction per trip and stop), soonest first.
    func departures(_ query: DepartureQuery) async throws -> [StoredValue<Departure>]
    /// Latest position per vehicle.
    func vehicles(sourceIDs: [String]?, routeID: String?) async throws -> [StoredValue<VehiclePosition>]
    /// Current disruptions (active or announced) per source.
    func disruptions(sourceIDs: [String]?) async throws -> [StoredValue<Disruption>]

    /// Latest value per (source, zone, metric) of these sources, optionally one zone.
    func latestMeasurements(sourceIDs: [String], zone: String?) async throws -> [StoredValue<CityMeasurement>]
    /// Raw readings of one zone, newest first.
    func measurementHistory(sourceIDs: [String], zone: String, metric: String?, since: Int64?, limit: Int)
        async throws -> [StoredValue<CityMeasurement>]
}

/// The fetch history and each source's bookkeeping (`StoreConformanceTests`: run records,
/// source states).
public protocol RunLog: Sendable {
    func taskRuns(_ query: TaskRunQuery) async throws -> [TaskRun]
    func taskRun(id: String) async throws -> TaskRun?

    func sourceStates() async throws -> [SourceState]
    /// Moves when this handle has written runs (by `write` or as a `RunCommitter`), at once and
    /// without a read; other processes' writes show only in `sourceStates()`.
    var runsWritten: UInt64 { get }
    /// Records enqueued slots in their sources' states (the last slot only moves forward).
    func recordScheduled(_ slots: [ScheduledSlot]) async throws
}

/// The worker fleet's heartbeats (`StoreConformanceTests`: heartbeats).
public protocol FleetStore: Sendable {
    func upsertHeartbeat(_ heartbeat: WorkerHeartbeat) async throws
    func heartbeats() async throws -> [WorkerHeartbeat]
}

/// The scheduler's leadership record (`StoreConformanceTests`: leadership).
public protocol LeadershipStore: Sendable {
    /// Replaces the leadership record (there is one, whoever leads).
    func recordLeadership(_ leadership: SchedulerLeadership) async throws
    func leadership() async throws -> SchedulerLeadership?
}

/// Retention of the history that grows without bound (`StoreConformanceTests`: pruning).
public protocol RetentionStore: Sendable {
    /// Deletes run records that finished before `runsBefore` and heartbeats of workers last seen
    /// before `heartbeatsBefore`. Observations are kept.
    @discardableResult
    func prune(runsBefore: Int64, heartbeatsBefore: Int64) async throws -> Int
}

/// The central log: every role's log lines, searchable from any process (`LogStoreConformanceTests`).
public protocol LogStore: Sendable {
    /// Appends lines; the store assigns their ids.
    func appendLogs(_ records: [LogRecord]) async throws
    /// Lines matching the query, newest first (by time, then id).
    func logs(_ query: LogQuery) async throws -> [LogRecord]
    /// Deletes lines logged before `before`; returns how many.
    @discardableResult
    func pruneLogs(before: Int64) async throws -> Int
}

/// Control commands as they were sent, and the workers' acknowledgements
/// (`CommandLogConformanceTests`).
public protocol CommandLog: Sendable {
    /// Records a command when it is sent (again: nothing changes).
    func recordCommand(_ command: ControlCommand) async throws
    /// Records a worker's answer; a second answer of the same worker replaces the first.
    func acknowledge(_ ack: CommandAck) async throws
    /// The newest commands first, each with its acknowledgements.
    func commands(limit: Int) async throws -> [CommandRecord]
    /// Deletes commands sent before `before`, with their acknowledgements; returns how many.
    @discardableResult
    func pruneCommands(before: Int64) async throws -> Int
}

/// What the store holds: rows and size per table, observations per kind in the last hour and day
/// (`StoreSummaryConformanceTests`).
public protocol SummaryStore: Sendable {
    /// Counts relative to `now` (epoch ms).
    func summary(now: Int64) async throws -> DatabaseSummary
}

/// The job runner's bookkeeping: each run of each job, and per job whether it is paused, a
/// pending request to run it now and its watermark (`JobStoreConformanceTests`).
public protocol JobStore: Sendable {
    /// Inserts a run, or replaces the run of the same id (a running run when it ends).
    func recordJobRun(_ run: JobRun) async throws
    /// Runs matching the query, newest first (by start, then id).
    func jobRuns(_ query: JobRunQuery) async throws -> [JobRun]
    func jobRun(id: String) async throws -> JobRun?
    /// The state of every job that has one (a job never paused, asked for or run has none).
    func jobStates() async throws -> [JobState]
    func setJobPaused(_ jobID: String, paused: Bool) async throws
    /// Asks for a run now; a request already pending keeps its time.
    func requestJobRun(_ jobID: String, at: Int64, by: String?) async throws
    /// Clears a pending request made at or before `upTo` (a newer one stays).
    func clearJobRequest(_ jobID: String, upTo: Int64) async throws
    func setJobWatermark(_ jobID: String, to value: Int64?) async throws
    /// Deletes runs started before `before`; returns how many.
    @discardableResult
    func pruneJobRuns(before: Int64) async throws -> Int
}

/// The gold tier's station hours and what the jobs building them read
/// (`AggregateConformanceTests`).
public protocol AggregateStore: Sendable {
    /// Raw station blocks in fetch order, after `after` (fetch time, then block id), at most
    /// `limit`: the aggregates' incremental input.
    func stationBlocks(after: StationBlockPosition, limit: Int) async throws -> [StationBlockRead]
    /// The same blocks' spans (feed times of their first and last observation) without decoding them.
    func stationBlockSpans(after: StationBlockPosition, limit: Int) async throws -> [StationBlockSpan]
    /// One source's raw observations with `from <= observedAt < until`, in time order.
    func stationObservations(sourceID: String, from: Int64, until: Int64) async throws -> [StationObservation]
    /// Replaces one source's rows of these hours (hour starts, epoch ms) with `rows`, in one
    /// transaction, marking them written at `writtenAt`.
    func replaceStationHours(sourceID: String, hours: [Int64], rows: [StationHour], writtenAt: Int64) async throws
    /// Hourly rows, oldest first; one station's, or every station's of the source.
    func stationHours(sourceID: String, stationID: String?, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StationHour]
    /// The (source, hour) pairs whose rows were written at or after `since`, with when.
    func stationHoursWritten(since: Int64) async throws -> [StationHoursWritten]
    /// Replaces one source's daily rows of these days (day starts, epoch ms), in one transaction.
    func replaceStationDays(sourceID: String, days: [Int64], rows: [StationHour]) async throws
    /// Daily rows (`hour` is the day's start), oldest first.
    func stationDays(sourceID: String, stationID: String?, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StationHour]
    /// Replaces one source's ranking.
    func replaceStationRanking(sourceID: String, rows: [StationRank]) async throws
    /// One source's ranking, best first by `order`, at most `limit`.
    func stationRanking(sourceID: String, by order: StationRank.Order, limit: Int) async throws -> [StationRank]

    /// The (source, hour of departure) pairs of departures seen recorded at or after `since`.
    func departureHoursTouched(since: Int64) async throws -> [HourTouch]
    /// One source's departures seen with `from <= at < until`.
    func departuresSeen(sourceID: String, from: Int64, until: Int64) async throws -> [DepartureSeen]
    /// Replaces one source's line rows of these hours, in one transaction.
    func replaceLineHours(sourceID: String, hours: [Int64], rows: [LineHour], writtenAt: Int64) async throws
    /// Line rows of these sources (and line, when given), oldest first.
    func lineHours(sourceIDs: [String], routeID: String?, since: Int64?, until: Int64?, limit: Int) async throws
        -> [LineHour]
    /// The (source, hour of observation) pairs of readings fetched at or after `since`.
    func measurementHoursTouched(since: Int64) async throws -> [HourTouch]
    /// One source's readings with `from <= observedAt < until`.
    func measurements(sourceID: String, from: Int64, until: Int64) async throws -> [CityMeasurement]
    /// Replaces one source's zone rows of these hours, in one transaction.
    func replaceZoneHours(sourceID: String, hours: [Int64], rows: [ZoneHour], writtenAt: Int64) async throws
    /// Zone rows of these sources, one zone (and metric, when given), oldest first.
    func zoneHours(sourceIDs: [String], zone: String, metric: String?, since: Int64?, until: Int64?, limit: Int)
        async throws -> [ZoneHour]
}

/// The data-quality results (`data_quality_check`) and what the checks read of the run log
/// (`QualityConformanceTests`).
public protocol QualityStore: Sendable {
    /// Appends one run's results.
    func recordQualityResults(_ results: [QualityResult]) async throws
    /// Results matching the query, newest first.
    func qualityResults(_ query: QualityQuery) async throws -> [QualityResult]
    /// The newest result of each check and source.
    func latestQualityResults() async throws -> [QualityResult]
    /// Deletes results before `before`; returns how many.
    @discardableResult
    func pruneQualityResults(before: Int64) async throws -> Int
    /// Per source, the runs finished at or after `since`: how many, failed, entities kept and refused.
    func runTotals(since: Int64) async throws -> [SourceRunTotals]
    /// Runs finished at or after `since` that refused or dropped something, newest first, with
    /// their rejections.
    func runsWithRejections(since: Int64, limit: Int) async throws -> [TaskRun]
}

/// Hourly rows of one source and hour written at a time.
public struct StationHoursWritten: Sendable, Hashable {
    public var sourceID: String
    public var hour: Int64
    public var writtenAt: Int64

    public init(sourceID: String, hour: Int64, writtenAt: Int64) {
        self.sourceID = sourceID
        self.hour = hour
        self.writtenAt = writtenAt
    }
}

/// A place in the raw station blocks' fetch order.
public struct StationBlockPosition: Sendable, Hashable, Comparable {
    public var fetchedAt: Int64
    public var blockID: Int64

    public init(fetchedAt: Int64, blockID: Int64) {
        self.fetchedAt = fetchedAt
        self.blockID = blockID
    }

    public static let start = StationBlockPosition(fetchedAt: .min, blockID: .min)

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.fetchedAt, lhs.blockID) < (rhs.fetchedAt, rhs.blockID)
    }
}

/// A raw block's place, source and the feed times it spans.
public struct StationBlockSpan: Sendable, Hashable {
    public var position: StationBlockPosition
    public var sourceID: String
    public var firstObservedAt: Int64
    public var lastObservedAt: Int64
    public var count: Int

    public init(
        position: StationBlockPosition, sourceID: String, firstObservedAt: Int64, lastObservedAt: Int64, count: Int
    ) {
        self.position = position
        self.sourceID = sourceID
        self.firstObservedAt = firstObservedAt
        self.lastObservedAt = lastObservedAt
        self.count = count
    }
}

/// One raw block read back: a run's new observations of one source.
public struct StationBlockRead: Sendable, Hashable {
    public var position: StationBlockPosition
    public var sourceID: String
    public var observations: [StationObservation]

    public init(position: StationBlockPosition, sourceID: String, observations: [StationObservation]) {
        self.position = position
        self.sourceID = sourceID
        self.observations = observations
    }
}

/// Commits run results together with their task outcomes.
public protocol RunCommitter: Sendable {
    func commit(_ results: [RunResult]) async throws
}

/// For backends where the store and the queue are separate systems: write, then finish.
/// Safe because writes are idempotent: a crash between the two replays the task.
public struct SequentialRunCommitter: RunCommitter {
    let store: any Store
    let queue: any WorkQueue

    public init(store: any Store, queue: any WorkQueue) {
        self.store = store
        self.queue = queue
    }

    public func commit(_ results: [RunResult]) async throws {
        try await store.write(results)
        try await queue.finish(results.compactMap(\.outcome))
    }
}

/// Commits through another committer, then wakes `signal`: the live feed of a process whose
/// workers commit reads the change at once instead of at its next interval.
public struct SignallingRunCommitter: RunCommitter {
    let base: any RunCommitter
    let signal: AsyncSignal

    public init(_ base: any RunCommitter, signal: AsyncSignal) {
        self.base = base
        self.signal = signal
    }

    public func commit(_ results: [RunResult]) async throws {
        try await base.commit(results)
        signal.notify()
    }
}

public struct StationQuery: Sendable, Hashable {
    public var sourceID: String?
    public var near: GeoPoint?
    public var radiusMeters: Double?
    public var limit: Int

    public init(sourceID: String? = nil, near: GeoPoint? = nil, radiusMeters: Double? = nil, limit: Int = 5000) {
        self.sourceID = sourceID
        self.near = near
        self.radiusMeters = radiusMeters
        self.limit = limit
    }
}

extension StationQuery {
    /// The part of a station query every backend does the same way after its bounding-box
    /// pre-filter: exact great-circle radius, nearest first, then the limit.
    public func refine(_ stations: [StoredStation]) -> [StoredStation] {
        guard let near else { return Array(stations.prefix(limit)) }
        let measured = stations.compactMap { station -> (StoredStation, Double)? in
            guard let lat = station.observation.latitude, let lon = station.observation.longitude else { return nil }
            let distance = near.distance(to: GeoPoint(latitude: lat, longitude: lon))
            if let radiusMeters, distance > radiusMeters { return nil }
            return (station, distance)
        }
        return measured.sorted { $0.1 < $1.1 }.prefix(limit).map(\.0)
    }
}

public struct TaskRunQuery: Sendable, Hashable {
    public var status: TaskRunStatus?
    public var sourceID: String?
    /// Only runs that finished at or after this time, epoch ms.
    public var since: Int64?
    /// Only the runs of this job.
    public var jobID: String?
    public var limit: Int

    public init(
        status: TaskRunStatus? = nil, sourceID: String? = nil, since: Int64? = nil, jobID: String? = nil,
        limit: Int = 100
    ) {
        self.status = status
        self.sourceID = sourceID
        self.since = since
        self.jobID = jobID
        self.limit = limit
    }
}

/// A station observation as stored, with where and when it was fetched.
public struct StoredStation: Sendable, Hashable {
    public var observation: StationObservation
    public var fetchedAt: Int64
    /// The task run that produced this row.
    public var runID: String

    public init(observation: StationObservation, fetchedAt: Int64, runID: String) {
        self.observation = observation
        self.fetchedAt = fetchedAt
        self.runID = runID
    }
}

/// Webhook endpoints, the conditions their events are detected from, and the deliveries with
/// their attempts (`WebhookConformanceTests`).
public protocol WebhookStore: Sendable {
    /// Inserts or replaces.
    func putWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws
    func webhookEndpoints() async throws -> [WebhookEndpoint]
    func webhookEndpoint(id: String) async throws -> WebhookEndpoint?
    /// Removes the endpoint, its conditions and its deliveries; false when there was none.
    func deleteWebhookEndpoint(id: String) async throws -> Bool

    /// The conditions recorded for an endpoint, by key.
    func webhookConditions(endpointID: String) async throws -> [String: String]
    /// Writes the conditions and inserts the deliveries, in one transaction.
    func recordWebhookChanges(_ changes: WebhookChanges) async throws

    /// Up to `limit` pending deliveries due at `now` of enabled endpoints that no one holds,
    /// oldest due first, each held for `leaseMillis` (a process that dies holding one lets it go
    /// at the lease's end: delivered at least once).
    func claimWebhookDeliveries(now: Int64, leaseMillis: Int64, limit: Int) async throws -> [WebhookDelivery]
    /// Stores deliveries after an attempt (or a redelivery), releasing their leases, in one
    /// transaction.
    func updateWebhookDeliveries(_ deliveries: [WebhookDelivery]) async throws
    func webhookDelivery(id: String) async throws -> WebhookDelivery?
    /// An endpoint's deliveries, newest first, optionally of one status.
    func webhookDeliveries(endpointID: String, status: WebhookDelivery.Status?, limit: Int) async throws
        -> [WebhookDelivery]
    /// Removes finished deliveries created before `before`; returns how many.
    func pruneWebhookDeliveries(before: Int64) async throws -> Int
    /// How many deliveries wait for an attempt, by endpoint (endpoints with none are left out):
    /// one count for the endpoint list, whatever the backlog.
    func pendingWebhookDeliveryCounts() async throws -> [String: Int]
}
