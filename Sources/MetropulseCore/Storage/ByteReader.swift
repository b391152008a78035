/// Reads what `ByteWriter` wrote (valid only inside the `withUnsafeBytes` that made the buffer), throwing `StationBlockError` on truncated or malformed bytes.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    var isAtEnd: Bool { offset >= buffer.count }

    mutating func byte() throws(StationBlockError) -> UInt8 {
        guard offset < buffer.count else { throw .truncated }
        defer { offset += 1 }
        return buffer[offset]
    }

    mutating func unsigned() throws(StationBlockError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < buffer.count else { throw .truncated }
            let byte = buffer[offset]
            offset += 1
            guard shift < 64 else { throw .malformed("varint longer than 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    mutating func signed() throws(StationBlockError) -> Int64 {
        let raw = try unsigned()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func int() throws(StationBlockError) -> Int {
        Int(truncatingIfNeeded: try signed())
    }

    mutating func count() throws(StationBlockError) -> Int {
        let value = try unsigned()
        guard value <= UInt64(buffer.count - offset) else { throw .malformed("length \(value) past the end") }
        return Int(value)
    }

    mutating func text() throws(StationBlockError) -> String {
        let length = try count()
        defer { offset += length }
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + length]), as: UTF8.self)
    }

    /// Whether the next text equals `utf8`; always moves past it.
    mutating func textEquals(_ utf8: [UInt8]) throws(StationBlockError) -> Bool {
        let length = try count()
        defer { offset += length }
        guard length == utf8.count else { return false }
        for index in 0..<length where buffer[offset + index] != utf8[index] { return false }
        return true
    }

    mutating func double() throws(StationBlockError) -> Double {
        guard buffer.count - offset >= 8 else { throw .truncated }
        defer { offset += 8 }
        return Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
    }

    mutating func move(to position: Int) throws(StationBlockError) {
        guard (0...buffer.count).contains(position) else { throw .truncated }
        offset = position
    }

    mutating func skip(_ length: Int) throws(StationBlockError) {
        guard length <= buffer.count - offset else { throw .truncated }
        offset += length
    }
}
