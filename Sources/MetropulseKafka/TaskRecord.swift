#if Kafka
    import Foundation
    public import MetropulseCore

    /// A fetch task as it travels on the task topics: a JSON value any Kafka tool can read and write,
    /// keyed by source id, with `job-id`, `source-id` and `not-before` headers.
    ///
    /// ```json
    /// {"job_id":"demo-bikes@1764070800000","source_id":"demo-bikes","priority":0,
    ///  "run_at":1764070800000,"max_attempts":5,"attempts":0,"enqueued_at":1764070799000}
    /// ```
    public struct TaskRecord: Sendable, Hashable, Codable {
        public var jobID: String
        public var sourceID: String
        public var priority: Int
        /// Not before this instant, epoch ms.
        public var runAt: Int64
        public var maxAttempts: Int
        /// Attempts already made (0 for a new task).
        public var attempts: Int
        public var enqueuedAt: Int64
        public var lastError: String?

        package enum CodingKeys: String, CodingKey {
            case jobID = "job_id"
            case sourceID = "source_id"
            case priority
            case runAt = "run_at"
            case maxAttempts = "max_attempts"
            case attempts
            case enqueuedAt = "enqueued_at"
            case lastError = "last_error"
        }

        public init(_ task: NewTask, enqueuedAt: Int64) {
            self.jobID = task.jobID
            self.sourceID = task.sourceID
            self.priority = task.priority
            self.runAt = task.runAt
            self.maxAttempts = task.maxAttempts
            self.attempts = 0
            self.enqueuedAt = enqueuedAt
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            jobID = try container.decode(String.self, forKey: .jobID)
            sourceID = try container.decode(String.self, forKey: .sourceID)
            priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0
            runAt = try container.decodeIfPresent(Int64.self, forKey: .runAt) ?? 0
            maxAttempts = try container.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 5
            attempts = try container.decodeIfPresent(Int.self, forKey: .attempts) ?? 0
            enqueuedAt = try container.decodeIfPresent(Int64.self, forKey: .enqueuedAt) ?? runAt
            lastError = try container.decodeIfPresent(String.self, forKey: .lastError)
        }

        package func encoded() -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return Array((try? encoder.encode(self)) ?? Data())
        }

        package var headers: [(String, String)] {
            [("job-id", jobID), ("source-id", sourceID), ("not-before", String(runAt))]
        }

        /// Reads a message value; `not-before` in the headers wins over `run_at` (a retry's time).
        package static func decode(_ message: KafkaMessage) throws -> TaskRecord {
            var record = try JSONDecoder().decode(TaskRecord.self, from: Data(message.value))
            if let notBefore = message.header("not-before").flatMap(Int64.init) { record.runAt = notBefore }
            return record
        }
    }
#endif
