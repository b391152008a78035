/// A problem in a configuration file or environment variable, located by line and key.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// 1-based line in the YAML file; nil for environment variables.
    public var line: Int?
    /// Dotted key (`sources[2].interval`) or environment variable name.
    public var key: String
    public var message: String

    public init(line: Int?, key: String, message: String) {
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        if let line { return "line \(line): \(key): \(message)" }
        return "\(key): \(message)"
    }
}

/// Several configuration problems, reported together.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigurationError]

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
