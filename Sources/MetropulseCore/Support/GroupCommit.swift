/// Coalesces concurrent write requests into one batch so they share one durable commit.
///
/// Callers `submit` an item and wait; a single flusher takes everything pending, hands it to
/// `flush` in one call (one transaction), and resumes every caller with the result. When a batch
/// fails, each item is retried alone so one bad item does not fail the others.
///
/// With a `timeout`, a flush that has not answered by then (a database call stuck on a connection
/// lost mid-transaction) fails its batch and is abandoned, so the next batches still go through;
/// use it where a late landing is harmless (writes are idempotent, outcomes fenced by attempt).
public actor GroupCommit<Item: Sendable> {
    public typealias Flush = @Sendable ([Item]) async throws -> Void

    private var pending: [(Item, CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private let maxBatch: Int
    private let flush: Flush

    public init(maxBatch: Int = 512, timeout: Duration? = nil, flush: @escaping Flush) {
        self.maxBatch = maxBatch
        if let timeout {
            self.flush = { items in try await withDeadline(timeout) { try await flush(items) } }
        } else {
            self.flush = flush
        }
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
                // One at a time finds a bad item; a flush that timed out says nothing about the items.
                if batch.count == 1 || error is DeadlineExceeded {
                    for (_, continuation) in batch { continuation.resume(throwing: error) }
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
