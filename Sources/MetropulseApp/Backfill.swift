import AsyncHTTPClient
import Foundation
import Hummingbird
public import Logging
import MetropulseConnectors
public import MetropulseCore
import MetropulseDemo
import Synchronization

/// `metropulse backfill`: the demo city's past days, fetched through the normal fetch path.
///
/// The demo city is a pure function of time, so its past can be asked for: a demo feed server of
/// this process runs on a clock set to each past moment in turn, and every demo source is fetched
/// from it by its connector, as a worker fetches (the same parsing, zones and limits), and written
/// with a run record. A real feed serves only its present: there is no past to ask it for.
public enum Backfill {
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
    }

    public struct Summary: Sendable {
        /// Fetches written, per source.
        public var runs: [String: Int] = [:]
        /// Observations written.
        public var observations = 0
        /// Fetches that failed, with why (the first few).
        public var failures: [String] = []
        /// Sources left out, with why.
        public var skipped: [String] = []
    }

    public enum Failure: Error, CustomStringConvertible {
        case noDemoSource

        public var description: String {
            switch self {
            case .noDemoSource:
                "no source of this configuration reads the demo city: backfill asks the demo city for its past, and a real feed serves only its present, so it has no past to ask for"
            }
        }
    }

    /// The demo sources `sourceIDs` names (all when nil).
    public static func sources(_ configuration: MetropulseConfiguration, sourceIDs: [String]?) -> [SourceDefinition] {
        configuration.sources.filter { source in
            source.enabled && source.urls.contains { $0.hasPrefix("demo:") }
                && (sourceIDs.map { $0.contains(source.id) } ?? true)
        }
    }

    /// Fetches every demo source at each `step` from `from` up to (not including) `until`, oldest
    /// first. A source whose stations already have history is left out for its stations' sake:
    /// the raw history only moves forward, so a past older than what is stored would be dropped.
    public static func run(
        _ configuration: MetropulseConfiguration, backend: StorageBackend, from: Int64, until: Int64, step: Int64,
        sourceIDs: [String]?, logger: Logger, progress: @Sendable (Progress) -> Void
    ) async throws -> Summary {
        var sources = Self.sources(configuration, sourceIDs: sourceIDs)
        guard !sources.isEmpty else { throw Failure.noDemoSource }
        var summary = Summary()
        var skippedIDs = Set<String>()
        for source in sources where source.kind == .gbfs || source.kind == .odsRecords {
            let stored = try await backend.store.stations(StationQuery(sourceID: source.id, limit: 1))
            if let first = stored.first {
                skippedIDs.insert(source.id)
                summary.skipped.append(
                    "\(source.id): it already has stations (latest \(Timestamp.iso8601(first.observation.observedAt))); the raw history only moves forward, so backfill an empty store"
                )
            }
        }
        sources.removeAll { skippedIDs.contains($0.id) }

        let simulated = Mutex(from)
        let clock = WallClock { simulated.withLock { $0 } }
        let endpoint = DemoEndpoint()
        var quiet = logger
        quiet.logLevel = .critical
        let server = Task { [quiet] in
            try await DemoFeedServer.application(
                city: DemoCity(), endpoint: endpoint, port: 0, clock: clock, logger: quiet
            )
            .runService(gracefulShutdownSignals: [])
        }
        defer { server.cancel() }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: FeedHTTPClient.clientConfiguration())
        let feeds = FeedHTTPClient(client: http, gate: HostGate(limit: 4)) { await endpoint.resolve($0) }
        let connectors = StandardConnectors.registry(http: feeds)
        let catalog = SourceCatalog(configuration.sources, cities: configuration.cities)
        let start = from - from % step
        let steps = stride(from: start, to: until, by: Int(step)).map { $0 }
        let total = steps.count * sources.count
        var done = 0
        do {
            for moment in steps {
                try Task.checkCancellation()
                simulated.withLock { $0 = moment }
                var results: [RunResult] = []
                for source in sources {
                    let fetchedAt = WallClock.system.nowMillis
                    let id = "backfill:\(source.id)@\(moment)"
                    var run = TaskRun(
                        id: id, jobID: id, taskID: nil, sourceID: source.id, attempt: 1, workerID: "backfill",
                        status: .succeeded, startedAt: fetchedAt, finishedAt: fetchedAt)
                    do {
                        let observations = try await Backfill.fetch(
                            source, connectors: connectors, catalog: catalog, moment: moment, logger: quiet, run: &run)
                        run.finishedAt = WallClock.system.nowMillis
                        summary.observations += observations.count
                        summary.runs[source.id, default: 0] += 1
                        results.append(RunResult(run: run, observations: observations, outcome: nil))
                    } catch {
                        if summary.failures.count < 10 {
                            summary.failures.append("\(source.id) at \(Timestamp.iso8601(moment)): \(error)")
                        }
                    }
                    done += 1
                }
                try await backend.store.write(results)
                progress(Progress(done: done, total: total))
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        return summary
    }

    private static func fetch(
        _ source: SourceDefinition, connectors: ConnectorRegistry, catalog: SourceCatalog, moment: Int64,
        logger: Logger, run: inout TaskRun
    ) async throws -> ObservationBatch {
        try await WorkerPool.fetch(
            source, connectors: connectors, catalog: catalog, context: FetchContext(now: moment, logger: logger),
            into: &run)
    }
}
