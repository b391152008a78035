import Foundation

/// Reads the protobuf wire format field by field from borrowed bytes, for a decoder that builds
/// its own values instead of generated messages. As the protobuf rules say, a field the caller does
/// not know, or knows with another wire type, is skipped (`skip()`); malformed input throws.
///
/// The reader borrows the bytes: it and every buffer it returns are valid only inside the
/// `withUnsafeBytes` call that made them.
struct ProtobufReader {
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5
    }

    enum Failure: Error, Equatable {
        /// The input ends inside a field.
        case truncated
        /// Not the protobuf wire format: what was wrong.
        case malformed(String)
        case invalidUTF8
    }

    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    /// The wire type of the field `next()` returned last.
    private(set) var wireType = WireType.varint
    /// The field number `next()` returned last.
    private(set) var field = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.position = 0
    }

    /// The next field's number, or nil at the end of the message.
    @inline(__always)
    mutating func next() throws(Failure) -> Int? {
        guard position < bytes.count else { return nil }
        let key = try varint()
        let number = key >> 3
        guard number > 0, number < 1 << 29 else { throw .malformed("field number \(number)") }
        guard let type = WireType(rawValue: key & 7), type != .endGroup else {
            throw .malformed("wire type \(key & 7) for field \(number)")
        }
        wireType = type
        field = Int(number)
        return field
    }

    @inline(__always)
    mutating func varint() throws(Failure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift >= 70 { throw .malformed("a varint longer than 10 bytes") }
        }
        throw .truncated
    }

    mutating func fixed32() throws(Failure) -> UInt32 {
        guard bytes.count - position >= 4 else { throw .truncated }
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    mutating func fixed64() throws(Failure) -> UInt64 {
        guard bytes.count - position >= 8 else { throw .truncated }
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// A length-delimited field's bytes (a string, or an embedded message for `ProtobufReader(_:)`).
    @inline(__always)
    mutating func lengthDelimited() throws(Failure) -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(bytes.count - position) else { throw .truncated }
        let start = position
        position += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<position])
    }

    /// Skips the field `next()` returned, groups included.
    mutating func skip() throws(Failure) {
        switch wireType {
        case .varint: _ = try varint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup: try skipGroup()
        case .endGroup: throw .malformed("an end group without its start")
        }
    }

    private mutating func advance(_ count: Int) throws(Failure) {
        guard bytes.count - position >= count else { throw .truncated }
        position += count
    }

    /// Skips to the end of the group `next()` opened, nested groups included.
    private mutating func skipGroup() throws(Failure) {
        var open = [field]
        while !open.isEmpty {
            guard position < bytes.count else { throw .truncated }
            let key = try varint()
            let number = Int(key >> 3)
            guard number > 0, number < 1 << 29, let type = WireType(rawValue: key & 7) else {
                throw .malformed("wire type \(key & 7) for field \(number)")
            }
            switch type {
            case .startGroup:
                guard open.count < 100 else { throw .malformed("groups nested more than 100 deep") }
                open.append(number)
            case .endGroup:
                guard open.last == number else { throw .malformed("group \(open.last ?? 0) ended as \(number)") }
                open.removeLast()
            default:
                wireType = type
                try skip()
            }
        }
    }

    /// UTF-8 text as a String; invalid UTF-8 throws. (`String(decoding:)` is specialized where the
    /// generic `String(validating:as:)` looks its types up at run time; a repaired string is not
    /// the bytes it came from.)
    @inline(__always)
    static func string(_ raw: UnsafeRawBufferPointer) throws(Failure) -> String {
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        var text = String(decoding: bytes, as: UTF8.self)
        let same = text.withUTF8 {
            $0.count == bytes.count && (bytes.isEmpty || memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
        guard same else { throw .invalidUTF8 }
        return text
    }
}
