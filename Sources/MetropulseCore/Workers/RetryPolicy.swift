/// When a failed attempt runs again: exponential backoff with jitter, then dead.
public struct RetryPolicy: Sendable, Hashable {
    public var baseDelayMillis: Int64
    public var maxDelayMillis: Int64

    /// Delay after attempt n is a random value in [d/2, d] with d = min(max, base * 2^(n-1)).
    public static func exponentialJitter(baseDelayMillis: Int64 = 2_000, maxDelayMillis: Int64 = 300_000) -> RetryPolicy
    {
        RetryPolicy(baseDelayMillis: baseDelayMillis, maxDelayMillis: maxDelayMillis)
    }

    /// The backoff ceiling for an attempt, before jitter.
    public func ceiling(afterAttempt attempt: Int) -> Int64 {
        let shift = min(max(attempt - 1, 0), 30)
        let raw = baseDelayMillis.multipliedReportingOverflow(by: Int64(1) << Int64(shift))
        return raw.overflow ? maxDelayMillis : min(maxDelayMillis, raw.partialValue)
    }

    /// What to do after attempt `attempt` of `maxAttempts` failed at `now`.
    public func disposition<R: RandomNumberGenerator>(
        afterAttempt attempt: Int,
        maxAttempts: Int,
        now: Int64,
        error: String,
        retryAfterMillis: Int64? = nil,
        using generator: inout R
    ) -> TaskOutcome.Disposition {
        guard attempt < maxAttempts else { return .dead(error: error) }
        let ceiling = ceiling(afterAttempt: attempt)
        var delay = ceiling / 2 + Int64.random(in: 0...max(0, ceiling - ceiling / 2), using: &generator)
        if let retryAfterMillis { delay = max(delay, retryAfterMillis) }
        return .retry(at: now + delay, error: error)
    }

    public func disposition(
        afterAttempt attempt: Int, maxAttempts: Int, now: Int64, error: String, retryAfterMillis: Int64? = nil
    ) -> TaskOutcome.Disposition {
        var generator = SystemRandomNumberGenerator()
        return disposition(
            afterAttempt: attempt, maxAttempts: maxAttempts, now: now, error: error,
            retryAfterMillis: retryAfterMillis, using: &generator
        )
    }
}
