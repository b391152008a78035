import NIOCore

/// Builds rows in PostgreSQL's `COPY ... FROM STDIN` text format: tab-separated fields, `\N` for
/// NULL, backslash escapes for backslash, tab, newline and carriage return.
struct CopyText {
    var buffer = ByteBuffer()
    private var atRowStart = true

    private mutating func separate() {
        if !atRowStart { buffer.writeInteger(UInt8(ascii: "\t")) }
        atRowStart = false
    }

    mutating func null() {
        separate()
        buffer.writeStaticString("\\N")
    }

    mutating func text(_ value: String?) {
        guard let value else { return null() }
        separate()
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
    }

    mutating func integer(_ value: (some BinaryInteger)?) {
        guard let value else { return null() }
        separate()
        buffer.writeString(String(value))
    }

    mutating func double(_ value: Double?) {
        guard let value, value.isFinite else { return null() }
        separate()
        buffer.writeString(String(value))
    }

    mutating func bool(_ value: Bool) {
        separate()
        buffer.writeInteger(value ? UInt8(ascii: "t") : UInt8(ascii: "f"))
    }

    mutating func endRow() {
        buffer.writeInteger(UInt8(ascii: "\n"))
        atRowStart = true
    }
}
