import Logging
import MetropulseCore
import NIOCore
import PostgresNIO
import Synchronization

/// How a commit is written. Its run records, raw and latest station blocks and source states
/// always go in one statement (`CommitStatement`), which replaces a source's latest row only if
/// the row still has the token the blocks were merged against.
///
/// The one-statement commit bets that the latest blocks this process cached are still current and
/// that every outcome still applies: it merges against the cache and sends the outcomes too, with
/// no transaction around it. If a token changed (another process wrote the source) or a lease
/// passed, the statement raises `metropulse_stale_commit`, rolls back whole, and the locked commit
/// runs: `BEGIN`, the outcomes, the sources' latest rows locked and read, measurements and transit,
/// the same statement, `COMMIT`. A source found changed is written the locked way for a minute,
/// so writers sharing sources do not lose a round trip on every commit.
extension PostgresBackend {
    /// What the one-statement commits of this process know: sources found stale, until when, and
    /// how many commits went through in one statement or fell back to the locked commit.
    final class OneStatementCommits: Sendable {
        private struct State {
            var contended: [String: ContinuousClock.Instant] = [:]
            var window = Duration.seconds(60)
            var committed = 0
            var fellBack = 0
        }
        private let state = Mutex(State())

        var committed: Int { state.withLock { $0.committed } }
        var fellBack: Int { state.withLock { $0.fellBack } }

        func isContended(_ sourceID: String) -> Bool {
            state.withLock { state in
                guard let end = state.contended[sourceID] else { return false }
                if end > .now { return true }
                state.contended[sourceID] = nil
                return false
            }
        }

        /// How long a source found stale is committed the locked way (tests set zero, so every
        /// commit bets).
        var contentionWindow: Duration {
            get { state.withLock { $0.window } }
            set { state.withLock { $0.window = newValue } }
        }

        func fellBack(contended sourceIDs: [String]) {
            state.withLock { state in
                let end = ContinuousClock.now + state.window
                state.fellBack += 1
                for sourceID in sourceIDs { state.contended[sourceID] = end }
            }
        }

        func didCommit() {
            state.withLock { $0.committed += 1 }
        }
    }

    /// Commits `results` in one statement if it can; false when the locked commit must run (the
    /// results hold more than station observations, a source's block is not cached or was found
    /// stale, or an outcome no longer applies), with nothing written.
    static func commitOptimistically(
        _ results: [RunResult], finishingTasks: Bool, cache: LatestStationCache, commits: OneStatementCommits,
        client: PostgresClient, logger: Logger
    ) async throws -> Bool {
        guard results.allSatisfy({ $0.observations.families.allSatisfy(CommitWrite.families.contains) }) else {
            return false
        }
        let groups = stationGroups(results)
        let sources = Set(groups.map(\.sourceID)).sorted()
        guard !sources.contains(where: commits.isContended) else { return false }
        var tokens: [String: Int64] = [:]
        var latest: [String: LatestStations] = [:]
        for sourceID in sources {
            guard let entry = cache.takeAny(sourceID: sourceID) else {
                for (taken, token) in tokens { cache.store(latest[taken]!, sourceID: taken, token: token) }
                return false
            }
            tokens[sourceID] = entry.token
            latest[sourceID] = entry.stations
        }
        let write = CommitWrite(
            results, groups: groups, applyingOutcomes: finishingTasks, tokens: tokens, latest: latest)
        do {
            for try await _ in try await client.execute(write.statement, logger: logger) {}
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "MP001" {
            // Nothing was written. The blocks taken from the cache may be stale: the locked commit
            // reads them again.
            commits.fellBack(contended: error.serverInfo?[.message]?.contains("latest") == true ? sources : [])
            logger.debug(
                "one-statement commit fell back to the locked one",
                metadata: ["reason": "\(error.serverInfo?[.message] ?? "")"])
            return false
        }
        commits.didCommit()
        write.storeLatest(in: cache)
        return true
    }

    /// A commit's statement, with the merged latest blocks to cache once it landed.
    struct CommitWrite {
        /// The families the one statement writes; results with any other go the locked way.
        static let families: Set<ObservationFamily> = [.stations]

        let statement: CommitStatement
        private let latest: [String: LatestStations]
        private let tokens: [String: Int64]

        /// `tokens` and `latest`: the blocks of the sources in `groups`, which are merged into them.
        /// With `applyingOutcomes`, the statement applies the results' outcomes and writes each run
        /// record only if its outcome applied; otherwise the outcomes were applied already.
        init(
            _ results: [RunResult], groups: [StationGroup], applyingOutcomes: Bool, tokens: [String: Int64],
            latest: [String: LatestStations]
        ) {
            var latest = latest
            let merged = MergedStations(groups, into: &latest)
            // Every source with something to write is checked; unchanged ones keep their token and
            // block (placeholders the statement ignores).
            var checked = CheckedLatestColumns()
            for sourceID in Set(merged.raw.sourceIDs).union(merged.updatedAt.keys).sorted() {
                checked.expected.append(tokens[sourceID]!)
                if let updatedAt = merged.updatedAt[sourceID] {
                    checked.changed.append(true)
                    checked.blocks.append(
                        latest[sourceID]!, sourceID: sourceID, updatedAt: updatedAt,
                        withDetails: merged.detailsChanged.contains(sourceID))
                } else {
                    checked.changed.append(false)
                    checked.blocks.appendUnchanged(sourceID: sourceID, token: tokens[sourceID]!)
                }
            }
            statement = CommitStatement(
                outcomes: OutcomeColumns(applyingOutcomes ? results.compactMap(\.outcome) : []), latest: checked,
                raw: merged.raw, runs: RunColumns(results, fenced: applyingOutcomes), states: StateColumns(results))
            self.latest = latest
            self.tokens = tokens
        }

        /// Whether the statement has nothing to do.
        var isEmpty: Bool {
            statement.outcomes.ids.isEmpty && statement.latest.expected.isEmpty && statement.raw.sourceIDs.isEmpty
                && statement.runs.runs.isEmpty
        }

        /// Caches every source's merged block under the token its row now has.
        func storeLatest(in cache: LatestStationCache) {
            let blocks = statement.latest.blocks
            for (sourceID, stations) in latest {
                let token = blocks.sourceIDs.firstIndex(of: sourceID).map { blocks.tokens[$0] }
                cache.store(stations, sourceID: sourceID, token: token ?? tokens[sourceID]!)
            }
        }
    }

    /// The sources whose latest row the statement checks (expected token) and, where `changed`,
    /// replaces.
    struct CheckedLatestColumns: ArrayColumns {
        static let types: [PostgresDataType] = [.int8Array, .boolArray] + LatestBlockColumns.types

        var expected: [Int64] = []
        var changed: [Bool] = []
        var blocks = LatestBlockColumns()

        func append(to bindings: inout PostgresBindings) throws {
            try bindings.append(expected)
            try bindings.append(changed)
            try blocks.append(to: &bindings)
        }
    }

    /// Outcomes, checked latest rows, raw blocks, run records (fenced by their outcomes) and
    /// source states; raises `metropulse_stale_commit` unless every checked row and every outcome
    /// applied, so it writes all of it or nothing. The latest rows are locked in source order first,
    /// as `lockLatest` does, so concurrent commits cannot deadlock on them.
    struct CommitStatement: ArrayColumnsStatement {
        typealias Row = Int

        private static let latestFrom = 1 + OutcomeColumns.types.count
        private static let rawFrom = latestFrom + CheckedLatestColumns.types.count
        private static let runsFrom = rawFrom + RawBlockColumns.types.count
        private static let statesFrom = runsFrom + RunColumns.types.count

        static let sql = """
            WITH applied AS (\(OutcomeColumns.update(from: 1)) RETURNING t.id, t.attempts),
            locked AS (
                SELECT source_id, token FROM station_latest WHERE source_id = ANY($\(latestFrom + 2)::text[])
                ORDER BY source_id FOR UPDATE
            ), checked AS (
                UPDATE station_latest AS l SET
                    token = CASE WHEN t.changed THEN t.token ELSE l.token END,
                    updated_at = CASE WHEN t.changed THEN GREATEST(l.updated_at, t.updated_at) ELSE l.updated_at END,
                    count = CASE WHEN t.changed THEN t.count ELSE l.count END,
                    payload = CASE WHEN t.changed THEN t.payload ELSE l.payload END,
                    details = CASE WHEN t.changed AND t.with_details THEN t.details ELSE l.details END
                FROM UNNEST(\(unnestParameters(CheckedLatestColumns.types, from: latestFrom)))
                    AS t(expected, changed, source_id, token, updated_at, count, payload, with_details, details)
                    JOIN locked ON locked.source_id = t.source_id
                WHERE l.source_id = t.source_id AND locked.token = t.expected
                RETURNING l.source_id
            ), blocks AS (
                INSERT INTO station_blocks (source_id, run_id, fetched_at, first_observed_at, last_observed_at,
                    count, payload)
                SELECT * FROM UNNEST(\(unnestParameters(RawBlockColumns.types, from: rawFrom)))
            ), recorded AS (
                \(RunColumns.insert(from: runsFrom))
            ), states AS (
                \(StateColumns.upsert(from: statesFrom))
            ), stale AS (
                SELECT metropulse_stale_commit(
                    CASE WHEN (SELECT count(*) FROM checked) <> cardinality($\(latestFrom)::bigint[])
                        THEN 'latest block changed' ELSE 'lease passed' END)
                WHERE (SELECT count(*) FROM checked) <> cardinality($\(latestFrom)::bigint[])
                    OR (SELECT count(*) FROM applied) <> cardinality($1::bigint[])
            )
            SELECT count(*)::bigint FROM stale
            """
        static let bindingDataTypes =
            OutcomeColumns.types + CheckedLatestColumns.types + RawBlockColumns.types + RunColumns.types
            + StateColumns.types

        var outcomes: OutcomeColumns
        var latest: CheckedLatestColumns
        var raw: RawBlockColumns
        var runs: RunColumns
        var states: StateColumns

        var parameters: [any ArrayColumns] { [outcomes, latest, raw, runs, states] }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Int.self)
        }
    }
}
