#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A forward-only JSON reader over raw bytes for hot feed files: it reads the fields a connector
/// wants and skips the rest without building a document tree.
struct JSONCursor: ~Copyable {
    enum Scalar: Equatable {
        case string(String)
        case integer(Int64)
        /// An integer too large for Int64, kept as its exact digits.
        case integerText(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    struct Failure: Error, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "not valid JSON at byte \(offset): \(reason)" }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private func fail(_ reason: String) -> Failure { Failure(offset: index, reason: reason) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard index < bytes.count else { throw fail("unexpected end") }
        return bytes[index]
    }

    mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else { throw fail("expected '\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    /// True at the end of the input, after whitespace.
    mutating func atEnd() -> Bool {
        skipWhitespace()
        return index == bytes.count
    }

    /// Calls `field` for each key of the object at the cursor; `field` must consume the value
    /// (read it or `skipValue`).
    mutating func forEachField(_ field: (inout JSONCursor, UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            let key = try rawKey()
            try expect(UInt8(ascii: ":"))
            try field(&self, key)
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    /// Calls `element` for each element of the array at the cursor.
    mutating func forEachElement(_ element: (inout JSONCursor, Int) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        if try peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        var position = 0
        while true {
            try element(&self, position)
            position += 1
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    /// A key's raw bytes (keys with escapes are rare in feeds; they are returned undecoded).
    private mutating func rawKey() throws -> UnsafeBufferPointer<UInt8> {
        guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a key") }
        index += 1
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
        }
        guard index < bytes.count else { throw fail("unterminated key") }
        let key = UnsafeBufferPointer(rebasing: bytes[start..<index])
        index += 1
        return key
    }

    mutating func isNext(_ byte: UInt8) throws -> Bool { try peek() == byte }

    mutating func scalar() throws -> Scalar {
        switch try peek() {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        default:
            throw fail("expected a value")
        }
    }

    private mutating func literal(_ text: StaticString) throws {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end") }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] {
            throw fail("invalid literal")
        }
        index += count
    }

    private mutating func number() throws -> Scalar {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var value: Int64 = 0
        var overflow = false
        var digits = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int64(bytes[index] - 0x30))
            overflow = overflow || o1 || o2
            value = plus
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw fail("invalid number") }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
        }
        if isInteger && !overflow { return .integer(negative ? -value : value) }
        if isInteger {
            return .integerText(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
        }
        // Doubles (and integers beyond Int64) go through strtod on a NUL-terminated copy.
        var text = Array(bytes[start..<index])
        text.append(0)
        let parsed = text.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { strtod($0, nil) }
        }
        return .number(parsed)
    }

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 2
            } else {
                index += 1
            }
        }
        guard index < bytes.count else { throw fail("unterminated string") }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
        index += 1
        return escaped ? try Self.unescape(raw, at: start) : String(decoding: raw, as: UTF8.self)
    }

    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>, at offset: Int) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) throws -> UInt32 {
            guard at + 4 <= raw.count else { throw Failure(offset: offset + at, reason: "short \\u escape") }
            var value: UInt32 = 0
            for byte in raw[at..<(at + 4)] {
                value <<= 4
                switch byte {
                case 0x30...0x39: value |= UInt32(byte - 0x30)
                case 0x41...0x46: value |= UInt32(byte - 0x37)
                case 0x61...0x66: value |= UInt32(byte - 0x57)
                default: throw Failure(offset: offset + at, reason: "bad \\u escape")
                }
            }
            return value
        }
        while i < raw.count {
            guard raw[i] == UInt8(ascii: "\\"), i + 1 < raw.count else {
                out.append(raw[i])
                i += 1
                continue
            }
            let code = raw[i + 1]
            i += 2
            switch code {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var scalar = try hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"),
                    raw[i + 1] == UInt8(ascii: "u")
                {
                    let low = try hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                out.append(contentsOf: String(Character(UnicodeScalar(scalar) ?? "\u{FFFD}")).utf8)
            default: out.append(code)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Containers nested deeper than this are refused (no feed nests like that; an attacker's
    /// document would otherwise exhaust the stack).
    static let maxDepth = 128

    /// Skips the value at the cursor, whatever it is, up to `maxDepth` levels deep.
    mutating func skipValue() throws { try skipValue(depth: 0) }

    private mutating func skipValue(depth: Int) throws {
        switch try peek() {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
            if bytes[index] == UInt8(ascii: "{") {
                try forEachField { cursor, _ in try cursor.skipValue(depth: depth + 1) }
            } else {
                try forEachElement { cursor, _ in try cursor.skipValue(depth: depth + 1) }
            }
        default: _ = try scalar()
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Compares raw key bytes with an ASCII literal without allocating.
    func equals(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        let other = literal.utf8Start
        for i in 0..<count where self[i] != other[i] { return false }
        return true
    }
}
