/// Which parts of the pipeline a process runs. `serve` runs all of them.
public struct Roles: OptionSet, Sendable, Hashable {
    public let rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let scheduler = Roles(rawValue: 1 << 0)
    public static let worker = Roles(rawValue: 1 << 1)
    public static let api = Roles(rawValue: 1 << 2)
    /// Loads the Kafka record topics into the store (only with `data_path: kafka`).
    public static let sink = Roles(rawValue: 1 << 3)
    public static let all: Roles = [.scheduler, .worker, .api, .sink]
}

extension Roles {
    /// The name a process of these roles logs under (the central log's `service`).
    public var serviceName: String {
        guard self != .all else { return "serve" }
        return [(Roles.scheduler, "scheduler"), (.worker, "worker"), (.api, "api"), (.sink, "sink")]
            .filter { contains($0.0) }.map(\.1).joined(separator: "+")
    }
}
