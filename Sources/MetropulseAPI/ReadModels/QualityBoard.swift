package import Hummingbird
package import MetropulseCore

/// The data-quality results as `/api/quality` and the console's quality page show them: the
/// latest result of every check and source, their history, and the recent rejections grouped
/// by reason.
package struct QualityBoard: Sendable {
    package let environment: APIEnvironment

    package init(_ environment: APIEnvironment) {
        self.environment = environment
    }

    package struct CheckDTO: Codable, Sendable {
        package var id: String
        package var title: String
    }

    package struct ResultDTO: Codable, Sendable {
        package var check: String
        package var source: String
        /// info, warning or critical: how bad a finding is.
        package var severity: String
        /// passed (nothing found) or failed.
        package var status: String
        /// Items found wrong.
        package var count: Int
        /// Items examined.
        package var total: Int
        package var detail: String
        package var samples: [String]
        package var at: String

        init(_ result: QualityResult) {
            check = result.check
            source = result.sourceID
            severity = result.severity.rawValue
            status = result.passed ? "passed" : "failed"
            count = result.count
            total = result.total
            detail = result.detail
            samples = result.samples
            at = Timestamp.iso8601(result.at)
        }
    }

    package struct ReasonDTO: Codable, Sendable {
        package var source: String
        /// The reason with its numbers replaced by `#`.
        package var reason: String
        /// rejected (the entity was refused) or kept (kept without a field).
        package var outcome: String
        package var count: Int
        package var examples: [String]
    }

    package struct Overview: ResponseCodable, Sendable {
        package var generatedAt: String
        /// When data_quality_check last recorded results; absent before its first run.
        package var checkedAt: String?
        package var checks: [CheckDTO]
        /// Results that found something, by severity.
        package var failing: [String: Int]
        package var passed: Int
        /// The newest result of each check and source, worst first.
        package var latest: [ResultDTO]
        /// Rejections of the runs of the last 24 hours (up to 2,000 runs), grouped by reason.
        package var rejections: [ReasonDTO]
    }

    package struct History: ResponseCodable, Sendable {
        package var count: Int
        package var results: [ResultDTO]
    }

    package func overview(source: String?) async throws -> Overview {
        let now = environment.clock.nowMillis
        var latest = try await environment.store.latestQualityResults()
        if let source { latest = latest.filter { $0.sourceID == source } }
        latest.sort { a, b in
            if a.passed != b.passed { return !a.passed }
            if a.severity != b.severity { return a.severity > b.severity }
            return (a.check, a.sourceID) < (b.check, b.sourceID)
        }
        var failing: [String: Int] = [:]
        for result in latest where !result.passed { failing[result.severity.rawValue, default: 0] += 1 }
        let runs = try await environment.store.runsWithRejections(
            since: now - DataQualityJob.windowMillis, limit: DataQualityJob.rejectionRunsLimit)
        let groups = RejectionGroups(runs).all.filter { source == nil || $0.sourceID == source }
        return Overview(
            generatedAt: Timestamp.iso8601(now), checkedAt: latest.map(\.at).max().map(Timestamp.iso8601),
            checks: DataQualityJob.Check.allCases.map { CheckDTO(id: $0.rawValue, title: $0.title) },
            failing: failing, passed: latest.count(where: \.passed), latest: latest.map(ResultDTO.init),
            rejections: groups.map {
                ReasonDTO(
                    source: $0.sourceID, reason: $0.reason, outcome: $0.kept ? "kept" : "rejected", count: $0.count,
                    examples: $0.examples)
            })
    }

    package func history(_ query: QualityQuery) async throws -> History {
        if let check = query.check, DataQualityJob.Check(rawValue: check) == nil {
            let names = DataQualityJob.Check.allCases.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.badRequest, message: "check must be one of \(names)")
        }
        let results = try await environment.store.qualityResults(query).map(ResultDTO.init)
        return History(count: results.count, results: results)
    }
}
