import Foundation
public import Logging
public import MetropulseCore
import NIOSSL
public import PostgresNIO

/// The PostgreSQL backend: the same tables and semantics as the SQLite one, shared by every
/// process of a deployment. A run's observations, its `task_runs` row and its task's outcome
/// commit in one transaction; concurrent commits are coalesced by `GroupCommit`.
///
/// The client is a `Service`: run it (or add it to the service group) before using the backend.
public final class PostgresBackend: Sendable {
    public let client: PostgresClient
    let logger: Logger
    let workSignal = AsyncSignal()
    /// Decoded latest-tier blocks, shared by the writers and the readers of this process.
    let latestCache: LatestStationCache
    /// The one-statement commits' state: sources another process writes too, and counts.
    let oneStatementCommits = OneStatementCommits()
    /// Writes of runs finished by this handle (`RunLog.runsWritten`).
    let writes = WriteCount()
    private let committer: GroupCommit<RunResult>

    /// `commitTimeout`: a commit not answered by then fails (its tasks run again when their leases
    /// pass) and later commits go on; past the lease its outcome could not apply anyway.
    public init(client: PostgresClient, commitTimeout: Duration = .seconds(60), logger: Logger) {
        self.client = client
        self.logger = logger
        let cache = LatestStationCache()
        latestCache = cache
        let commits = oneStatementCommits
        committer = GroupCommit(timeout: commitTimeout) { [client, logger] results in
            try await PostgresBackend.commit(
                results, finishingTasks: true, cache: cache, commits: commits, client: client, logger: logger)
        }
    }

    /// Writes results in one statement when it can (`commitOptimistically`), otherwise in a
    /// transaction that locks the sources' latest rows first.
    static func commit(
        _ results: [RunResult], finishingTasks: Bool, cache: LatestStationCache, commits: OneStatementCommits,
        client: PostgresClient, logger: Logger
    ) async throws {
        if try await commitOptimistically(
            results, finishingTasks: finishingTasks, cache: cache, commits: commits, client: client, logger: logger)
        {
            return
        }
        try await client.withTransaction(logger: logger) { connection in
            try await writeResults(
                results, finishingTasks: finishingTasks, cache: cache, on: connection, logger: logger)
        }
    }

    /// A client for `postgres://user:password@host:port/database`; `schema` sets `search_path`.
    public static func client(url: String, schema: String? = nil, logger: Logger) throws -> PostgresClient {
        let target = try PostgresTarget(url: url)
        var configuration = PostgresClient.Configuration(
            host: target.host, port: target.port, username: target.user, password: target.password,
            database: target.database, tls: target.clientTLS())
        if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        configuration.options.maximumConnections = 20
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// A single-connection configuration for the same URL (used for session-level locks).
    public static func connectionConfiguration(url: String) throws -> PostgresConnection.Configuration {
        let target = try PostgresTarget(url: url)
        return PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.user, password: target.password,
            database: target.database, tls: try target.connectionTLS())
    }

    /// Creates or upgrades the schema; safe to run from several processes at once.
    public func migrate() async throws {
        try await PostgresSchema.migrate(client: client, logger: logger)
    }
}

extension PostgresBackend: RunCommitter {
    public func commit(_ results: [RunResult]) async throws {
        defer { writes.bump() }
        if results.count == 1 {
            try await committer.submit(results[0])
        } else {
            try await Self.commit(
                results, finishingTasks: true, cache: latestCache, commits: oneStatementCommits, client: client,
                logger: logger)
        }
        if results.contains(where: { if case .retry = $0.outcome?.disposition { true } else { false } }) {
            try await announceWork()
        }
    }
}

/// The parts of a `postgres://user:password@host:port/database` URL.
struct PostgresTarget {
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String?

    init(url: String) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
            let host = components.host, !host.isEmpty
        else {
            throw PostgresURLError(url: url)
        }
        self.host = host
        port = components.port ?? 5432
        user = components.user ?? "postgres"
        password = components.password
        if let password { Redaction.register(password) }
        database = components.path.count > 1 ? String(components.path.dropFirst()) : nil
        let query = components.queryItems ?? []
        sslMode = query.first { $0.name == "sslmode" }?.value ?? "disable"
        sslRootCertificate = query.first { $0.name == "sslrootcert" }?.value
        guard Self.sslModes.contains(sslMode) else {
            throw PostgresURLError(url: url, reason: "sslmode must be one of \(Self.sslModes.joined(separator: ", "))")
        }
    }

    /// libpq's `sslmode` values: `disable` (the default here), `allow` and `prefer` (TLS when the
    /// server offers it), `require` (TLS, certificate not checked), `verify-ca` (the chain checked
    /// against `sslrootcert` or the system's roots), `verify-full` (and the host name).
    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    var sslMode: String
    var sslRootCertificate: String?

    /// Whether TLS is off, offered or required, and how certificates are checked.
    private func tlsSettings() -> (mode: String, configuration: TLSConfiguration) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let sslRootCertificate { configuration.trustRoots = .file(sslRootCertificate) }
        switch sslMode {
        case "verify-ca": configuration.certificateVerification = .noHostnameVerification
        case "verify-full": configuration.certificateVerification = .fullVerification
        default: configuration.certificateVerification = .none
        }
        let mode = ["allow", "prefer"].contains(sslMode) ? "prefer" : sslMode == "disable" ? "disable" : "require"
        return (mode, configuration)
    }

    func clientTLS() -> PostgresClient.Configuration.TLS {
        let (mode, configuration) = tlsSettings()
        switch mode {
        case "disable": return .disable
        case "prefer": return .prefer(configuration)
        default: return .require(configuration)
        }
    }

    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        let (mode, configuration) = tlsSettings()
        switch mode {
        case "disable": return .disable
        case "prefer": return .prefer(try NIOSSLContext(configuration: configuration))
        default: return .require(try NIOSSLContext(configuration: configuration))
        }
    }
}

public struct PostgresURLError: Error, CustomStringConvertible {
    public var url: String
    public var reason: String?

    public init(url: String, reason: String? = nil) {
        self.url = url
        self.reason = reason
    }

    public var description: String {
        if let reason { return "\(Redaction.text(url)): \(reason)" }
        return "not a PostgreSQL URL (postgres://user:password@host:port/database): \(Redaction.text(url))"
    }
}
