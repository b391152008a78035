public import MetropulseCore
public import ServiceLifecycle

/// Keeps the API process's live feed current: reads what changed in the store every
/// `intervalMillis` (`api.live_interval`, 100 ms by default; one read of the sources' states when
/// nothing changed), and at once after a commit of this process's workers (`commits`, at most
/// every `minimumGapMillis`), so subscribers are woken within that of a commit, and every version
/// is seen (a client that resumes is sent each one it missed). While it runs, subscribers wait for
/// its versions instead of reading the store themselves.
public struct LiveFeedRefresher: Service {
    let environment: APIEnvironment
    let intervalMillis: Int64
    let commits: AsyncSignal?
    static let minimumGapMillis: Int64 = 5

    public init(environment: APIEnvironment, intervalMillis: Int64, commits: AsyncSignal? = nil) {
        self.environment = environment
        self.intervalMillis = max(10, intervalMillis)
        self.commits = commits
    }

    public func run() async throws {
        let (feed, clock) = (environment.live, environment.clock)
        feed.followed(true)
        defer {
            // Waiting subscribers go back to looking themselves (and see a shutdown).
            feed.followed(false)
            feed.shared.wakeAll()
        }
        // A shutdown ends the wait at once (the interval may be a minute).
        try? await cancelWhenGracefulShutdown { [commits, intervalMillis] in
            while !Task.isCancelled {
                let started = clock.nowMillis
                await feed.poll(now: started)
                feed.shared.expire()
                if let commits {
                    await commits.wait(timeoutMillis: intervalMillis)
                    let gap = Self.minimumGapMillis - (clock.nowMillis - started)
                    if gap > 0 { try? await Task.sleep(for: .milliseconds(gap)) }
                } else {
                    try? await Task.sleep(for: .milliseconds(intervalMillis))
                }
            }
        }
    }
}
