/// Makes sure only one scheduler schedules when several run against one database.
public protocol LeaderElection: Sendable {
    /// Runs `body` whenever this process holds leadership, until cancelled or graceful shutdown.
    /// `body` is cancelled when leadership is lost, and runs again once it is regained.
    func whileLeader(_ body: @escaping @Sendable () async -> Void) async throws

    /// True while this process holds leadership.
    var isLeader: Bool { get }
}
