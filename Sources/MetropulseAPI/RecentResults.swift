import Synchronization

/// Answers computed in the last `ttlMillis`, per key, shared by concurrent requests: an expensive
/// open endpoint costs one computation per key and period however many clients ask.
final class RecentResults<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: (at: Int64, task: Task<Value, any Error>)]>([:])
    let ttlMillis: Int64

    init(ttlMillis: Int64) {
        self.ttlMillis = ttlMillis
    }

    func value(
        for key: String, now: Int64, compute: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let task = entries.withLock { entries in
            if let entry = entries[key], now - entry.at < ttlMillis, now >= entry.at { return entry.task }
            let task = Task { try await compute() }
            entries[key] = (now, task)
            if entries.count > 4_096 { entries = entries.filter { now - $0.value.at < ttlMillis } }
            return task
        }
        return try await task.value
    }
}
