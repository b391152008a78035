/// Appends the primitives of the stored station blocks: LEB128 varints (zigzag for signed
/// values), length-prefixed UTF-8 text and little-endian doubles.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func unsigned(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func signed(_ value: Int64) {
        unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func signed(_ value: Int) { signed(Int64(value)) }

    mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            unsigned(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func double(_ value: Double) {
        let bits = value.bitPattern.littleEndian
        withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
    }

    /// Reserves room for a length prefix of up to `width` varint bytes; `patchLength` fills it.
    mutating func reserveLength() -> Int {
        bytes.append(contentsOf: [0x80, 0x80, 0x00])
        return bytes.count
    }

    /// Writes the number of bytes appended since `reserveLength` returned `end` into its three
    /// bytes, as a padded varint (an entry is far below 2^21 bytes).
    mutating func patchLength(_ end: Int) {
        let length = bytes.count - end
        precondition(length < 1 << 21, "station block entry too large")
        bytes[end - 3] = UInt8(length & 0x7F) | 0x80
        bytes[end - 2] = UInt8((length >> 7) & 0x7F) | 0x80
        bytes[end - 1] = UInt8(length >> 14)
    }
}
