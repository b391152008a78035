import MetropulseCore

/// Manners towards each publisher host: at most `limit` requests in flight per host, and no
/// request at all while the host has asked us to wait (`429`/`503` with `Retry-After`).
public actor HostGate {
    public let limit: Int
    private var active: [String: Int] = [:]
    private var waiters: [String: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)]] = [:]
    private var pausedUntil: [String: Int64] = [:]
    private var nextWaiter: UInt64 = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes one of the host's slots if one is free now.
    func tryAcquire(_ host: String) -> Bool {
        guard active[host, default: 0] < limit, waiters[host] == nil else { return false }
        active[host, default: 0] += 1
        return true
    }

    /// Takes one of the host's slots, waiting for a free one.
    func acquire(_ host: String) async throws {
        if active[host, default: 0] < limit {
            active[host, default: 0] += 1
            return
        }
        let id = nextWaiter
        nextWaiter += 1
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters[host, default: []].append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(host, id) }
        }
    }

    /// Gives the slot back; the oldest waiter, if any, takes it over.
    func release(_ host: String) {
        if var queue = waiters[host], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[host] = queue.isEmpty ? nil : queue
            next.continuation.resume()
        } else {
            let count = active[host, default: 1] - 1
            active[host] = count > 0 ? count : nil
        }
    }

    private func cancelWaiter(_ host: String, _ id: UInt64) {
        guard let index = waiters[host]?.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters[host]!.remove(at: index)
        if waiters[host]?.isEmpty == true { waiters[host] = nil }
        waiter.continuation.resume(throwing: CancellationError())
    }

    /// Milliseconds the host still wants us to wait, or nil.
    func pause(for host: String, now: Int64) -> Int64? {
        guard let until = pausedUntil[host] else { return nil }
        if until <= now {
            pausedUntil[host] = nil
            return nil
        }
        return until - now
    }

    func pause(_ host: String, until: Int64) {
        pausedUntil[host] = max(pausedUntil[host] ?? 0, until)
    }

    /// Requests in flight per host (for tests and diagnostics).
    public func inFlight(_ host: String) -> Int { active[host, default: 0] }
}
