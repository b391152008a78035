import Foundation
import NIOCore

/// One server-sent event, written in the event-stream format of the HTML standard: one field per
/// line, a data value of several lines as several `data:` lines, a blank line to end the event.
///
/// Every stream of the API writes its events through this type, so a value holding a line break
/// can never end an event early or forge a field, and JSON payloads all come from the API's one
/// encoder configuration.
struct ServerSentEvent: Sendable, Equatable {
    /// `id:`, echoed by a reconnecting client in `Last-Event-ID`.
    var id: String?
    /// `event:`, the name a client listens for (`message` when absent).
    var event: String?
    /// `data:`; may hold line breaks.
    var data: String
    /// `retry:`, the client's reconnection delay in milliseconds.
    var retryMillis: Int?

    init(id: String? = nil, event: String? = nil, data: String, retryMillis: Int? = nil) {
        self.id = id
        self.event = event
        self.data = data
        self.retryMillis = retryMillis
    }

    /// An event whose data is `value` encoded by the API's JSON encoder (one line).
    init<Value: Encodable>(
        id: String? = nil, event: String?, json value: Value, encoder: JSONEncoder = APIRequestContext.jsonEncoder()
    ) throws {
        self.init(id: id, event: event, data: String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// The event's bytes, ending with the blank line.
    var text: String {
        var out = ""
        if let id { out += "id: \(Self.oneLine(id))\n" }
        if let event { out += "event: \(Self.oneLine(event))\n" }
        if let retryMillis { out += "retry: \(max(0, retryMillis))\n" }
        for line in Self.lines(data) { out += "data: \(line)\n" }
        return out + "\n"
    }

    var buffer: ByteBuffer { ByteBuffer(string: text) }

    /// Only the reconnection delay (sent first on a stream).
    static func retry(_ millis: Int) -> ByteBuffer { ByteBuffer(string: "retry: \(max(0, millis))\n\n") }

    /// A comment line, which clients ignore: keeps an idle connection open through proxies.
    static func comment(_ text: String) -> ByteBuffer {
        ByteBuffer(string: lines(text).map { ": \($0)\n" }.joined() + "\n")
    }

    /// The value split at CRLF, LF or CR, the three line ends of the format.
    static func lines(_ value: String) -> [String] {
        var lines: [String] = []
        var current = ""
        var afterCR = false
        for scalar in value.unicodeScalars {
            if afterCR {
                afterCR = false
                if scalar == "\n" { continue }
            }
            switch scalar {
            case "\r":
                lines.append(current)
                current = ""
                afterCR = true
            case "\n":
                lines.append(current)
                current = ""
            default:
                current.unicodeScalars.append(scalar)
            }
        }
        lines.append(current)
        return lines
    }

    /// A field that must stay on its line (`id`, `event`): line breaks become spaces; an `id`
    /// holding NUL is ignored by clients, so NUL is dropped too.
    private static func oneLine(_ value: String) -> String {
        String(
            String.UnicodeScalarView(
                value.unicodeScalars.compactMap { scalar in
                    switch scalar {
                    case "\r", "\n": return " "
                    case "\0": return nil
                    default: return scalar
                    }
                }))
    }
}
