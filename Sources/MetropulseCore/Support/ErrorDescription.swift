/// An error as an operator needs it in a log line. Some libraries (the PostgreSQL client among
/// them) keep the useful detail out of `description` and put it in `debugDescription`.
public func loggable(_ error: any Error) -> String {
    if let debug = error as? any CustomDebugStringConvertible { return debug.debugDescription }
    return "\(error)"
}
