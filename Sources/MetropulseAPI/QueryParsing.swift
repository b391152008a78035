package import Hummingbird
import HummingbirdCore
import MetropulseCore

/// Query-string parsing that fails with a 400 naming the parameter.
extension Request {
    /// A stream's `Last-Event-ID`: absent is nil; one that is not an id this stream sends is a 400.
    package func lastEventID<ID: LosslessStringConvertible>(_ type: ID.Type) throws -> ID? {
        guard let text = headers[.init("Last-Event-ID")!] else { return nil }
        guard let id = ID(text) else {
            throw HTTPError(.badRequest, message: "Last-Event-ID must be the id of an earlier event of this stream")
        }
        return id
    }

    package func query(_ name: String) -> String? { QueryValues(self).string(name) }

    package func intQuery(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        try QueryValues(self).int(name, default: value, range: range)
    }

    package func doubleQuery(_ name: String) throws -> Double? { try QueryValues(self).double(name) }

    /// An instant as ISO 8601 or epoch seconds, between the years 1 and 9999.
    package func timeQuery(_ name: String) throws -> Int64? {
        guard let text = query(name) else { return nil }
        if let millis = Timestamp.parse(text), Timestamp.representable.contains(millis) { return millis }
        if let seconds = Double(text), let millis = Timestamp.millis(seconds: seconds, in: Timestamp.representable) {
            return millis
        }
        throw HTTPError(
            .badRequest,
            message: "\(name) must be an ISO 8601 time (2025-10-18T09:00:00Z) or epoch seconds, from year 1 to 9999")
    }

    package func enumQuery<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T?
    where T.RawValue == String {
        guard let text = query(name) else { return nil }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.badRequest, message: "\(name) must be one of: \(allowed)")
        }
        return value
    }
}

/// A request's query string parsed once: the answers asked thousands of times a second read
/// their parameters from one of these (each `Request.query` call parses the string again).
package struct QueryValues {
    let parameters: FlatDictionary<Substring, Substring>

    package init(_ request: Request) {
        parameters = request.uri.queryParameters
    }

    /// A string parameter; empty is nil.
    package func string(_ name: String) -> String? {
        guard let value = parameters.get(name), !value.isEmpty else { return nil }
        return String(value)
    }

    /// A number parameter's one value: absent is nil; empty or given twice is a 400 (a string
    /// parameter's empty value means "not given", a number's cannot).
    package func numberText(_ name: String, _ what: String) throws -> String? {
        let values = parameters.getAll(name)
        guard let first = values.first else { return nil }
        guard values.count == 1 else { throw HTTPError(.badRequest, message: "\(name) is given more than once") }
        guard !first.isEmpty else { throw HTTPError(.badRequest, message: "\(name) must be \(what), got nothing") }
        return String(first)
    }

    package func int(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        let what = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let text = try numberText(name, what) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw HTTPError(.badRequest, message: "\(name) must be \(what)")
        }
        return number
    }

    package func double(_ name: String) throws -> Double? {
        guard let text = try numberText(name, "a number") else { return nil }
        guard let number = Double(text), number.isFinite else {
            throw HTTPError(.badRequest, message: "\(name) must be a number, got '\(text)'")
        }
        return number
    }
}

extension StringProtocol where SubSequence == Substring {
    /// Without leading and trailing spaces and tabs (cheaper than Foundation's trimming, which
    /// goes through `NSString`).
    package var trimmingSpaces: Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
