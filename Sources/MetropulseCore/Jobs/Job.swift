public import Logging

/// What a job is, for the runner, the API and the console.
public struct JobDescription: Sendable, Hashable, Codable {
    public var id: String
    public var title: String
    /// What it does, in a sentence or two.
    public var summary: String
    /// Jobs that must succeed in the same cycle before this one runs.
    public var dependsOn: [String]
    /// Past this a run is abandoned and counts as failed.
    public var timeoutMillis: Int64
    /// Attempts per cycle (1 + retries).
    public var maxAttempts: Int
    /// The wait before the second attempt; it doubles before each further one.
    public var retryDelayMillis: Int64

    public init(
        id: String, title: String, summary: String, dependsOn: [String] = [], timeoutMillis: Int64 = 10 * 60_000,
        maxAttempts: Int = 3, retryDelayMillis: Int64 = 10_000
    ) {
        self.id = id
        self.title = title
        self.summary = summary
        self.dependsOn = dependsOn
        self.timeoutMillis = timeoutMillis
        self.maxAttempts = maxAttempts
        self.retryDelayMillis = retryDelayMillis
    }
}

/// What one run of a job sees: the store (never the feeds), the queue, its own watermark.
public struct JobContext: Sendable {
    public var jobID: String
    /// The cycle the run belongs to (its slot, or the request's time for a manual run).
    public var cycle: Int64
    public var now: Int64
    /// The watermark its last successful run saved.
    public var watermark: Int64?
    public var store: any Store
    public var queue: any WorkQueue
    public var logger: Logger

    /// `cycle` defaults to `now` (a run outside the runner's cycles).
    public init(
        jobID: String, cycle: Int64? = nil, now: Int64, watermark: Int64?, store: any Store, queue: any WorkQueue,
        logger: Logger
    ) {
        self.jobID = jobID
        self.cycle = cycle ?? now
        self.now = now
        self.watermark = watermark
        self.store = store
        self.queue = queue
        self.logger = logger
    }
}

/// What a successful run reports.
public struct JobResult: Sendable, Hashable {
    public var rowsRead: Int
    public var rowsWritten: Int
    public var detail: String?
    /// Saved as the job's watermark once the run succeeded (nil keeps the old one).
    public var watermark: Int64?

    public init(rowsRead: Int = 0, rowsWritten: Int = 0, detail: String? = nil, watermark: Int64? = nil) {
        self.rowsRead = rowsRead
        self.rowsWritten = rowsWritten
        self.detail = detail
        self.watermark = watermark
    }
}

/// Derived work on the store, run by the `JobRunner`: it reads only what is stored, and a run
/// repeated (a retry, a second cycle over the same input) gives the same result.
public protocol Job: Sendable {
    var description: JobDescription { get }
    func run(_ context: JobContext) async throws -> JobResult
}

/// Why a job cannot run: said in the run's `error`.
public struct JobFailure: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The jobs in an order where each comes after what it depends on.
public enum JobGraph {
    public enum GraphError: Error, CustomStringConvertible, Equatable {
        case duplicate(String)
        case unknownDependency(job: String, dependency: String)
        case cycle([String])

        public var description: String {
            switch self {
            case .duplicate(let id): "job '\(id)' is declared twice"
            case .unknownDependency(let job, let dependency): "job '\(job)' depends on unknown job '\(dependency)'"
            case .cycle(let ids): "jobs depend on each other in a cycle: \(ids.joined(separator: " → "))"
            }
        }
    }

    /// Sorts `jobs` so that each follows its dependencies, keeping the given order otherwise.
    public static func ordered(_ jobs: [JobDescription]) throws(GraphError) -> [JobDescription] {
        var byID: [String: JobDescription] = [:]
        for job in jobs {
            guard byID[job.id] == nil else { throw .duplicate(job.id) }
            byID[job.id] = job
        }
        for job in jobs {
            for dependency in job.dependsOn where byID[dependency] == nil {
                throw .unknownDependency(job: job.id, dependency: dependency)
            }
        }
        var done: Set<String> = []
        var visiting: [String] = []
        var order: [JobDescription] = []
        func visit(_ id: String) throws(GraphError) {
            if done.contains(id) { return }
            if let start = visiting.firstIndex(of: id) { throw .cycle(Array(visiting[start...]) + [id]) }
            visiting.append(id)
            for dependency in byID[id]?.dependsOn ?? [] { try visit(dependency) }
            visiting.removeLast()
            done.insert(id)
            if let job = byID[id] { order.append(job) }
        }
        for job in jobs { try visit(job.id) }
        return order
    }
}
