import Synchronization

/// A wake-up call between tasks: `notify` wakes every current waiter, or the next one to wait
/// if none is waiting. Waits end early on cancellation or after a timeout.
public final class AsyncSignal: Sendable {
    private struct State {
        var pending = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func notify() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if state.waiters.isEmpty {
                state.pending = true
                return []
            }
            let all = Array(state.waiters.values)
            state.waiters.removeAll()
            return all
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns after a `notify`, after `timeoutMillis`, or on cancellation.
    public func wait(timeoutMillis: Int64) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForNotify() }
            group.addTask { try? await Task.sleep(for: .milliseconds(timeoutMillis)) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForNotify() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
