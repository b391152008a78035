/// Decoding helpers for the shapes real GBFS feeds use in place of the spec's.

import MetropulseCore

/// An identifier given as a string or as an integer; integers are converted exactly (no Double).
struct GBFSIdentifier: Decodable, Sendable {
    let text: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            text = string
        } else if let integer = try? container.decode(Int64.self) {
            text = String(integer)
        } else if let unsigned = try? container.decode(UInt64.self) {
            text = String(unsigned)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a string or integer id")
        }
    }
}

/// A flag given as a boolean or as the integers 0/1 (Vélib', GBFS v1/v2.2 feeds).
struct GBFSFlag: Decodable, Sendable {
    let value: Bool

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let bool = try? container.decode(Bool.self) {
            value = bool
        } else if let integer = try? container.decode(Int.self), integer == 0 || integer == 1 {
            value = integer == 1
        } else if let string = try? container.decode(String.self), ["true", "false", "0", "1"].contains(string) {
            value = string == "true" || string == "1"
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a boolean or 0/1")
        }
    }
}

/// A time given as POSIX seconds (GBFS v1/v2) or as an ISO 8601 string (GBFS v3); kept in ms.
struct GBFSTime: Decodable, Sendable {
    let millis: Int64

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // A number outside the times a feed may report is kept out of range (negative when it
        // cannot be shown), so its entity is rejected with the value, not the whole file.
        if let seconds = try? container.decode(Int64.self) {
            let (value, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            millis = overflow ? .min : value
        } else if let seconds = try? container.decode(Double.self) {
            millis = Timestamp.millis(seconds: seconds) ?? .min
        } else if let text = try? container.decode(String.self), let parsed = Timestamp.parse(text) {
            millis = parsed
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected POSIX seconds or an ISO 8601 time")
        }
    }
}

/// Text given as a plain string (v1/v2) or as localized strings `[{language, text}]` (v3).
struct GBFSText: Decodable, Sendable {
    let text: String

    private struct Localized: Decodable {
        let language: String?
        let text: String
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            text = string
        } else {
            let localized = try container.decode([Localized].self)
            text = (localized.first { $0.language?.hasPrefix("en") == true } ?? localized.first)?.text ?? ""
        }
    }
}
