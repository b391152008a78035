/// Why stored station bytes could not be read back.
public enum StationBlockError: Error, Equatable, CustomStringConvertible {
    case truncated
    case malformed(String)
    case unknownFormat(UInt8)

    public var description: String {
        switch self {
        case .truncated: "station block truncated"
        case .malformed(let reason): "station block malformed: \(reason)"
        case .unknownFormat(let format): "station block of unknown format \(format)"
        }
    }
}
