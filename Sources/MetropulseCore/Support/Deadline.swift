import Synchronization

/// Thrown when an operation passed its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var seconds: Double
    public var description: String { "no answer within \(seconds) s" }
}

/// Runs `operation`, throwing `DeadlineExceeded` if it has not finished after `duration`.
///
/// Unlike a task group race, this does not wait for an operation that ignores cancellation: a
/// database call stuck on a dead connection is abandoned (cancelled, left to finish on its own) and
/// the caller moves on. Use it where the work is safe to repeat, such as a commit whose task runs
/// again when its lease passes.
public func withDeadline<T: Sendable>(
    _ duration: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let once = ResumeOnce(continuation)
        let work = Task { try await operation() }
        let timer = Task {
            try await Task.sleep(for: duration)
            let (seconds, attoseconds) = duration.components
            if once.resume(with: .failure(DeadlineExceeded(seconds: Double(seconds) + Double(attoseconds) / 1e18))) {
                work.cancel()
            }
        }
        Task {
            let result = await work.result
            // The timer must not outlive a call that answered: callers make many of these.
            timer.cancel()
            once.resume(with: result)
        }
    }
}

/// Resumes a continuation with whichever result comes first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(with: result)
        return true
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (for rates and reports).
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
