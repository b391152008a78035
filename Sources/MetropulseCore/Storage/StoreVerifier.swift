/// `metropulse verify`: the tiers of a store agree.
///
/// - The latest stations of each source equal the latest tier rebuilt from the raw history: the
///   raw blocks are read in fetch order (one page at a time) and merged as ingest merges them, so
///   a station missing from either side, or holding other values, is a difference.
/// - Each latest row names the run that wrote it; that run's record, when still kept, succeeded.
/// - Each latest city reading is the newest raw reading of its zone and metric.
/// - Each source's bookkeeping (last run, last success) matches its newest run records.
public struct StoreVerifier: Sendable {
    public let store: any Store
    /// Run records older than this are pruned (`retention.task_runs`): a latest row written
    /// before it is not asked for its run.
    public var runRetentionMillis: Int64

    public init(store: any Store, runRetentionMillis: Int64) {
        self.store = store
        self.runRetentionMillis = runRetentionMillis
    }

    public struct Report: Sendable {
        /// A line per source: what was compared.
        public var checked: [String] = []
        /// Every difference found, in words.
        public var differences: [String] = []
    }

    /// Raw blocks per read.
    static let pageSize = 200
    /// Differences listed per source and kind before the rest are counted.
    static let listLimit = 50

    public func verify(now: Int64) async throws -> Report {
        var report = Report()
        // The raw history, in fetch order, merged per source as ingest merges it.
        var rebuilt: [String: LatestStations] = [:]
        var blocks = 0
        var position = StationBlockPosition.start
        while true {
            try Task.checkCancellation()
            let page = try await store.stationBlocks(after: position, limit: Self.pageSize)
            for block in page {
                _ = rebuilt[block.sourceID, default: LatestStations()].merge(
                    block.observations, fetchedAt: block.position.fetchedAt, runID: "")
            }
            blocks += page.count
            guard let last = page.last, page.count == Self.pageSize else { break }
            position = last.position
        }

        let states = try await store.sourceStates()
        // The latest tier read once, by source.
        var latestBySource: [String: [StoredStation]] = [:]
        for station in try await store.stations(StationQuery(limit: 10_000_000)) {
            latestBySource[station.observation.sourceID, default: []].append(station)
        }
        let sources = Set(rebuilt.keys).union(states.map(\.sourceID)).union(latestBySource.keys)
        for source in sources.sorted() {
            var differences: [String] = []
            func note(_ text: String) { differences.append("\(source): \(text)") }

            // Stations: the latest tier against the rebuild.
            let latest = latestBySource[source] ?? []
            let raw = rebuilt[source]?.stations ?? []
            let rawByID = Dictionary(raw.map { ($0.observation.stationID, $0.observation) }) { first, _ in first }
            var stationProblems: [String] = []
            var seen = Set<String>()
            for stored in latest {
                let id = stored.observation.stationID
                seen.insert(id)
                guard let expected = rawByID[id] else {
                    stationProblems.append("station \(id) is in the latest tier but has no raw observation")
                    continue
                }
                if let difference = Self.difference(stored.observation, expected) {
                    stationProblems.append("station \(id): latest \(difference)")
                }
            }
            for observation in raw.map(\.observation) where !seen.contains(observation.stationID) {
                stationProblems.append(
                    "station \(observation.stationID) has raw observations (newest \(Timestamp.iso8601(observation.observedAt))) but no latest row"
                )
            }
            for problem in stationProblems.prefix(Self.listLimit) { note(problem) }
            if stationProblems.count > Self.listLimit {
                note("… and \(stationProblems.count - Self.listLimit) more station differences")
            }

            // Runs named by the latest rows.
            let cutoff = now - runRetentionMillis
            var runs: [String: Int64] = [:]
            for stored in latest where stored.fetchedAt >= cutoff { runs[stored.runID] = stored.fetchedAt }
            var runProblems: [String] = []
            for (runID, _) in runs.sorted(by: { $0.value < $1.value }) {
                guard let run = try await store.taskRun(id: runID) else {
                    runProblems.append("latest rows name run \(runID), which has no run record")
                    continue
                }
                if run.status != .succeeded {
                    runProblems.append("latest rows name run \(runID), whose record says \(run.status.rawValue)")
                }
            }
            for problem in runProblems.prefix(Self.listLimit) { note(problem) }

            // City readings: the latest of each zone and metric is the newest raw one.
            let readings = try await store.latestMeasurements(sourceIDs: [source], zone: nil)
            for reading in readings {
                let value = reading.value
                let newest = try await store.measurementHistory(
                    sourceIDs: [source], zone: value.zone, metric: value.metric, since: nil, limit: 1
                ).first?.value
                guard let newest else {
                    note("reading \(value.zone)/\(value.metric) is in the latest tier but has no raw reading")
                    continue
                }
                if newest.observedAt != value.observedAt || newest.value != value.value {
                    note(
                        "reading \(value.zone)/\(value.metric): latest \(value.value) at \(Timestamp.iso8601(value.observedAt)), newest raw \(newest.value) at \(Timestamp.iso8601(newest.observedAt))"
                    )
                }
            }

            // The source's bookkeeping against its run records.
            if let state = states.first(where: { $0.sourceID == source }) {
                if let newest = try await store.taskRuns(TaskRunQuery(sourceID: source, limit: 1)).first,
                    state.lastRunAt != newest.finishedAt
                {
                    note(
                        "last run at \(state.lastRunAt.map(Timestamp.iso8601) ?? "never") in its state, \(Timestamp.iso8601(newest.finishedAt)) in the run records"
                    )
                }
                var successes: [Int64] = []
                for status in [TaskRunStatus.succeeded, .unchanged] {
                    if let run = try await store.taskRuns(TaskRunQuery(status: status, sourceID: source, limit: 1))
                        .first
                    {
                        successes.append(run.finishedAt)
                    }
                }
                if let newest = successes.max(), state.lastSuccessAt != newest {
                    note(
                        "last success at \(state.lastSuccessAt.map(Timestamp.iso8601) ?? "never") in its state, \(Timestamp.iso8601(newest)) in the run records"
                    )
                }
            }
            var compared: [String] = []
            if !latest.isEmpty || !raw.isEmpty {
                compared.append("\(latest.count) latest stations against \(raw.count) rebuilt from the raw history")
            }
            if !runs.isEmpty { compared.append("\(plural(runs.count, "run")) they name") }
            if !readings.isEmpty { compared.append("\(plural(readings.count, "latest reading"))") }
            compared.append("its bookkeeping")
            report.checked.append(
                "\(source): \(compared.joined(separator: ", ")) — "
                    + (differences.isEmpty ? "agree" : plural(differences.count, "difference")))
            report.differences += differences
        }
        report.checked.append("\(blocks) raw station blocks read")
        return report
    }

    /// How a latest station differs from the newest raw observation, or nil when it does not.
    static func difference(_ latest: StationObservation, _ raw: StationObservation) -> String? {
        var parts: [String] = []
        func compare<T: Equatable>(_ name: String, _ a: T, _ b: T) {
            if a != b { parts.append("\(name) \(String(describing: a)) ≠ raw \(String(describing: b))") }
        }
        if latest.observedAt != raw.observedAt {
            parts.append(
                "observed \(Timestamp.iso8601(latest.observedAt)) ≠ raw \(Timestamp.iso8601(raw.observedAt))")
        }
        compare("bikes", latest.bikesAvailable, raw.bikesAvailable)
        compare("mechanical", latest.mechanicalAvailable, raw.mechanicalAvailable)
        compare("e-bikes", latest.ebikesAvailable, raw.ebikesAvailable)
        compare("docks", latest.docksAvailable, raw.docksAvailable)
        compare("capacity", latest.capacity, raw.capacity)
        compare("status", latest.status.rawValue, raw.status.rawValue)
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}
