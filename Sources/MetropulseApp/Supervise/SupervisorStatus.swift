/// What `metropulse supervise status` shows, and what the supervisor's control endpoint answers.
public struct SupervisorStatus: Codable, Sendable, Hashable {
    public struct Child: Codable, Sendable, Hashable {
        public var name: String
        public var role: String
        public var pid: Int32?
        public var running: Bool
        public var restarts: Int
        /// Epoch ms of the current (or last) start.
        public var startedAt: Int64
        public var exitStatus: Int32?
        public var log: String
    }

    public var pid: Int32
    public var workers: Int
    public var children: [Child]
    public var stopping: Bool
}

/// Where a running supervisor listens, written to `<state>/supervise.json` (readable by its
/// user only: the token lets a caller scale or stop it).
public struct SupervisorEndpoint: Codable, Sendable, Hashable {
    public var pid: Int32
    public var url: String
    public var token: String

    public init(pid: Int32, url: String, token: String) {
        self.pid = pid
        self.url = url
        self.token = token
    }
}
