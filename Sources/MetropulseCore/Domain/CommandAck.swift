/// A worker's answer to a control command: what it did, or why it could not.
public struct CommandAck: Sendable, Hashable, Codable {
    public var commandID: String
    public var workerID: String
    /// Epoch ms.
    public var at: Int64
    public var ok: Bool
    /// What the worker did (`paused`, `slots 16 → 20`) or why it could not.
    public var result: String

    public init(commandID: String, workerID: String, at: Int64, ok: Bool, result: String) {
        self.commandID = commandID
        self.workerID = workerID
        self.at = at
        self.ok = ok
        self.result = result
    }
}
