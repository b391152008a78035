public import Logging

/// A log handler that passes every line through `Redaction` before the handler it wraps writes
/// it: no database password or feed key reaches a log, whatever an error message holds.
public struct RedactingLogHandler: LogHandler {
    private var wrapped: any LogHandler

    public init(_ wrapped: any LogHandler) {
        self.wrapped = wrapped
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(Redaction.text(event.message.description))"
        event.metadata = event.metadata.map { $0.mapValues(Self.redact) }
        wrapped.log(event: event)
    }

    private static func redact(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): return .string(Redaction.text(text))
        case .stringConvertible(let value): return .string(Redaction.text(value.description))
        case .array(let values): return .array(values.map(redact))
        case .dictionary(let values): return .dictionary(values.mapValues(redact))
        }
    }
}
