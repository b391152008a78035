package import NIOCore

/// Builds rows in PostgreSQL's `COPY ... FROM STDIN` text format: tab-separated fields, `\N` for
/// NULL, backslash escapes for backslash, tab, newline and carriage return.
/// `package`: the benchmarks' COPY baseline writes its rows the same way.
package struct CopyText {
    package init() {}

    package var buffer = ByteBuffer()
    private var atRowStart = true

    private mutating func separate() {
        if !atRowStart { buffer.writeInteger(UInt8(ascii: "\t")) }
        atRowStart = false
    }

    package mutating func null() {
        separate()
        buffer.writeStaticString("\\N")
    }

    package mutating func text(_ value: String?) {
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

    package mutating func integer(_ value: (some BinaryInteger)?) {
        guard let value else { return null() }
        separate()
        buffer.writeString(String(value))
    }

    package mutating func double(_ value: Double?) {
        guard let value, value.isFinite else { return null() }
        separate()
        buffer.writeString(String(value))
    }

    package mutating func bool(_ value: Bool) {
        separate()
        buffer.writeInteger(value ? UInt8(ascii: "t") : UInt8(ascii: "f"))
    }

    package mutating func endRow() {
        buffer.writeInteger(UInt8(ascii: "\n"))
        atRowStart = true
    }
}
