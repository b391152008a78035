import Foundation
public import MetropulseCore

/// Reads any JSON document through a declared `JSONMapping` into readings: one per record and
/// mapped field, the record's `id` as its zone. Numbers may arrive as numbers or numeric strings
/// (Socrata sends every value as a string); times as ISO 8601 (without an offset: UTC) or epoch
/// seconds or milliseconds. A record without an id, or without any numeric field, is rejected
/// with the reason.
public enum JSONMappingParser {
    public struct Result: Sendable {
        public var measurements: [CityMeasurement]
        public var rejected: [Rejection]
        /// The newest record time, epoch ms.
        public var newest: Int64?
        /// How many records the document held, read or rejected.
        public var records: Int
    }

    /// `firstIndex` numbers the records of a page after those of earlier pages (`records[n]` in
    /// rejections).
    public static func parse(
        _ body: [UInt8], mapping: JSONMapping, sourceID: String, fetchedAt: Int64, firstIndex: Int = 0
    ) throws -> Result {
        guard let document = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
            throw FetchError(.decode, "not valid JSON")
        }
        guard let found = try resolve(mapping.records, in: document) else {
            throw FetchError(.validation, "no records at '\(mapping.records)'")
        }
        guard let records = found as? [Any] else {
            throw FetchError(
                .validation, "'\(mapping.records.isEmpty ? "/" : mapping.records)' is not an array of records")
        }
        var result = Result(measurements: [], rejected: [], newest: nil, records: records.count)
        for (index, record) in records.enumerated() {
            guard let id = try resolve(mapping.id, in: record).flatMap(text), !id.isEmpty else {
                result.rejected.append(
                    Rejection(entity: "records[\(firstIndex + index)]", reason: "no id at \(mapping.id)"))
                continue
            }
            var at = fetchedAt
            if let pointer = mapping.timestamp {
                guard let time = try resolve(pointer, in: record).flatMap(time) else {
                    result.rejected.append(Rejection(entity: id, reason: "no readable time at \(pointer)"))
                    continue
                }
                at = time
            }
            var location: GeoPoint?
            if let latitudePointer = mapping.latitude, let longitudePointer = mapping.longitude,
                let latitude = try resolve(latitudePointer, in: record).flatMap(number),
                let longitude = try resolve(longitudePointer, in: record).flatMap(number),
                (-90...90).contains(latitude), (-180...180).contains(longitude)
            {
                location = GeoPoint(latitude: latitude, longitude: longitude)
            }
            var readings: [CityMeasurement] = []
            for (metric, pointer) in mapping.fields.sorted(by: { $0.key < $1.key }) {
                guard let value = try resolve(pointer, in: record).flatMap(number) else { continue }
                readings.append(
                    CityMeasurement(
                        sourceID: sourceID, zone: id, metric: metric, value: value, unit: mapping.units[metric],
                        observedAt: at, location: location))
            }
            if readings.isEmpty {
                result.rejected.append(Rejection(entity: id, reason: "no numeric value at any mapped field"))
                continue
            }
            result.measurements += readings
            result.newest = max(result.newest ?? at, at)
        }
        return result
    }

    /// The value at an RFC 6901 pointer (`/a/0/b`, `~1` for `/`, `~0` for `~`); nil if absent.
    static func resolve(_ pointer: String, in document: Any) throws -> Any? {
        guard !pointer.isEmpty else { return document }
        guard pointer.hasPrefix("/") else {
            throw FetchError(.configuration, "'\(pointer)' is not a JSON pointer (it must start with /)")
        }
        var current: Any? = document
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case let object as [String: Any]: current = object[token]
            case let array as [Any]:
                guard let index = Int(token), array.indices.contains(index) else { return nil }
                current = array[index]
            default: return nil
            }
        }
        return current is NSNull ? nil : current
    }

    static func text(_ value: Any) -> String? {
        switch value {
        case let string as String: return string
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }

    static func number(_ value: Any) -> Double? {
        let double: Double?
        switch value {
        case let string as String: double = Double(string.trimmingCharacters(in: .whitespaces))
        case let number as NSNumber: double = number.doubleValue
        default: double = nil
        }
        return double.flatMap { $0.isFinite ? $0 : nil }
    }

    static func time(_ value: Any) -> Int64? {
        if let string = value as? String {
            if let parsed = Timestamp.parse(string) ?? Timestamp.parse(string + "Z") { return parsed }
            guard let number = Double(string) else { return nil }
            return epoch(number)
        }
        return (value as? NSNumber).flatMap { epoch($0.doubleValue) }
    }

    /// Seconds, or milliseconds when the number is too large to be seconds.
    private static func epoch(_ number: Double) -> Int64? {
        guard number.isFinite, number > 0 else { return nil }
        return number > 1e11 ? Timestamp.millis(exactly: number) : Timestamp.millis(seconds: number)
    }
}
