/// Coalesces concurrent write requests into one batch so they share one durable commit.
///
/// Callers `submit` an item and wait; a single flusher takes everything pending, hands it to
/// `flush` in one call (one transaction), and resumes every caller with the result. When a batch
/// fails, each item is retried alone so one bad item does not fail the others.
public actor GroupCommit<Item: Sendable> {
    public typealias Flush = @Sendable ([Item]) async throws -> Void

    private var pending: [(Item, CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private let maxBatch: Int
    private let flush: Flush

    public init(maxBatch: Int = 512, flush: @escaping Flush) {
        self.maxBatch = maxBatch
        self.flush = flush
    }

    public func submit(_ item: Item) async throws {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((item, continuation))
            if !flushing {
                flushing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            do {
                try await flush(batch.map(\.0))
                for (_, continuation) in batch { continuation.resume() }
            } catch {
                if batch.count == 1 {
                    batch[0].1.resume(throwing: error)
                    continue
                }
                for (item, continuation) in batch {
                    do {
                        try await flush([item])
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        }
        flushing = false
    }
}
