public import MetropulseCore
public import ServiceLifecycle

/// Keeps the API process's live feed current: reads what changed in the store every
/// `intervalMillis` (`api.live_interval`, 100 ms by default; one read of the sources' states when
/// nothing changed), so subscribers are woken within that of a commit, and every version is seen
/// (a client that resumes is sent each one it missed).
public struct LiveFeedRefresher: Service {
    let environment: APIEnvironment
    let intervalMillis: Int64

    public init(environment: APIEnvironment, intervalMillis: Int64) {
        self.environment = environment
        self.intervalMillis = max(10, intervalMillis)
    }

    public func run() async throws {
        let (feed, clock) = (environment.live, environment.clock)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await feed.poll(now: clock.nowMillis)
            try? await Task.sleep(for: .milliseconds(intervalMillis))
        }
    }
}
