public import Logging
public import MetropulseCore
public import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Leadership through a PostgreSQL session advisory lock held on a dedicated connection: when the
/// leader's process dies its connection closes, the server releases the lock, and a standby that
/// retries every `retryInterval` takes over.
public final class PostgresLeaderElection: LeaderElection {
    private let configuration: PostgresConnection.Configuration
    private let lockKey: Int64
    private let retryInterval: Duration
    private let logger: Logger
    private let leading = Atomic<Bool>(false)

    public init(url: String, lockKey: Int64 = 7_345_002, retryInterval: Duration = .seconds(2), logger: Logger) throws {
        configuration = try PostgresBackend.connectionConfiguration(url: url)
        self.lockKey = lockKey
        self.retryInterval = retryInterval
        self.logger = logger
    }

    public var isLeader: Bool { leading.load(ordering: .relaxed) }

    public func whileLeader(_ body: @escaping @Sendable () async -> Void) async throws {
        var connectionID = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            connectionID += 1
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: configuration, id: connectionID, logger: logger)
                defer { Task { try? await connection.close() } }
                try await holdWhileLeader(connection, body)
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.warning("leader election connection failed", metadata: ["error": "\(loggable(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.retryInterval) }
        }
    }

    /// Tries the lock until it is ours, then runs `body` while the connection stays healthy.
    private func holdWhileLeader(_ connection: PostgresConnection, _ body: @escaping @Sendable () async -> Void)
        async throws
    {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var acquired = false
            for try await got in try await connection.query(
                "SELECT pg_try_advisory_lock(\(lockKey))", logger: logger
            ).decode(Bool.self) {
                acquired = got
            }
            if acquired { break }
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.retryInterval) }
        }
        guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return }
        leading.store(true, ordering: .relaxed)
        logger.notice("this scheduler is now the leader")
        defer {
            leading.store(false, ordering: .relaxed)
            logger.notice("this scheduler is no longer the leader")
        }
        // Lead until the body ends or the lock connection fails its health check.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await body() }
            group.addTask { try await self.watch(connection) }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Returns (throwing) once the lock connection is closed or stops answering: the server has
    /// then released the lock, so this process must stop leading. A probe that does not answer
    /// within `retryInterval` is abandoned and the connection closed.
    private func watch(_ connection: PostgresConnection) async throws {
        while true {
            try await Task.sleep(for: retryInterval)
            if connection.isClosed { throw LeadershipLost() }
            do {
                let logger = self.logger
                try await withDeadline(retryInterval) { _ = try await connection.query("SELECT 1", logger: logger) }
            } catch {
                try? await connection.close()
                throw LeadershipLost()
            }
        }
    }
}

struct LeadershipLost: Error, CustomStringConvertible {
    var description: String { "the leader lock connection was lost" }
}
