/// Healthy / Behind / Down for a worker, judged over a sliding window of fleet samples rather than
/// from one heartbeat: a worker is Down when stopped or silent, Behind when its heartbeat is late,
/// its partitions stall, or the backlog keeps growing while it finishes fewer tasks than its share
/// of what arrives; Healthy otherwise. Pure: unit-tested on made-up windows.
public struct FleetHealthRules: Sendable {
    public enum Health: String, Sendable {
        case healthy
        case behind
        case down
    }

    public struct Verdict: Sendable, Hashable {
        public var health: Health
        /// Why, when not healthy (and, for the rate rule, the figures behind it).
        public var reason: String?
    }

    /// How often workers send heartbeats.
    public var heartbeatIntervalMillis: Int64
    /// The rate rule needs samples spanning at least this long.
    public var minimumSpanMillis: Int64 = 30_000

    public init(heartbeatIntervalMillis: Int64) {
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
    }

    public func judge(_ heartbeat: WorkerHeartbeat, now: Int64, window: [FleetSample]) -> Verdict {
        let age = now - heartbeat.lastSeenAt
        if heartbeat.status == .stopped { return Verdict(health: .down, reason: "stopped") }
        if age > 6 * heartbeatIntervalMillis {
            return Verdict(health: .down, reason: "no heartbeat for \(age / 1000) s")
        }
        if heartbeat.status == .stalled {
            return Verdict(health: .behind, reason: "its partitions have work and nothing was read or finished")
        }
        if age > 2 * heartbeatIntervalMillis + 5_000 {
            return Verdict(health: .behind, reason: "heartbeat \(age / 1000) s old")
        }
        // A paused or draining worker takes no work on purpose: its status says so.
        guard heartbeat.status == .running else { return Verdict(health: .healthy, reason: nil) }
        return rateVerdict(heartbeat.workerID, window: window)
    }

    /// Behind when, over the window, the backlog grew and stayed up while this worker finished
    /// fewer tasks per second than its share of what arrived.
    func rateVerdict(_ workerID: String, window: [FleetSample]) -> Verdict {
        let seen = window.filter { $0.processed[workerID] != nil }
        guard let first = seen.first, let last = seen.last, last.at - first.at >= minimumSpanMillis else {
            return Verdict(health: .healthy, reason: nil)
        }
        let span = Double(last.at - first.at) / 1000
        let growth = last.backlog - first.backlog
        // Growing: by more than a tenth (and 5 tasks), and not back down in the window's second half.
        let secondHalf = seen.filter { $0.at >= first.at + (last.at - first.at) / 2 }
        guard growth > max(5, first.backlog / 10),
            secondHalf.allSatisfy({ $0.backlog > first.backlog })
        else { return Verdict(health: .healthy, reason: nil) }
        // Workers present at both ends share the work.
        let sharing = last.processed.keys.filter { first.processed[$0] != nil }
        let finished = sharing.reduce(0) { $0 + max(0, (last.processed[$1] ?? 0) - (first.processed[$1] ?? 0)) }
        let arriving = Double(finished + growth) / span
        let share = arriving / Double(max(1, sharing.count))
        let rate = Double(max(0, (last.processed[workerID] ?? 0) - (first.processed[workerID] ?? 0))) / span
        guard rate < share * 0.9 else { return Verdict(health: .healthy, reason: nil) }
        func f(_ value: Double) -> String {
            let tenths = Int((value * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)"
        }
        return Verdict(
            health: .behind,
            reason:
                "backlog grew \(first.backlog) → \(last.backlog) in \(Int(span)) s while it finished \(f(rate)) tasks/s of the \(f(share))/s arriving per worker"
        )
    }
}

/// What the fleet looked like at one moment: the backlog (tasks ready or retrying, not started)
/// and each worker's count of processed tasks.
public struct FleetSample: Sendable, Hashable {
    public var at: Int64
    public var backlog: Int
    public var processed: [String: Int]

    public init(at: Int64, backlog: Int, processed: [String: Int]) {
        self.at = at
        self.backlog = backlog
        self.processed = processed
    }
}
