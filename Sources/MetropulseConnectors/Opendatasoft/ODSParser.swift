import Foundation
public import MetropulseCore

/// Reads Opendatasoft records of the Vélib' availability dataset
/// (`velib-disponibilite-en-temps-reel`) into the station model GBFS uses.
///
/// Accepts every envelope the platform answers with: an Explore v2.1 `records` page
/// (`{"total_count", "results": [...]}`), an `exports/json` array, a v1 `search` answer
/// (`{"nhits", "records": [{"fields": {...}}]}`) and a v1 export (an array of `{"fields": {...}}`).
/// A record without `stationcode` (or without a bike count) is rejected with a reason, not fatal.
public enum ODSParser {
    /// One decoded page: the stations, the rejected records, and the dataset's total if given.
    public struct Page: Sendable {
        public var stations: [StationObservation]
        public var rejected: [Rejection]
        /// Records on the page, accepted or not (pagination stops on a short page).
        public var recordCount: Int
        public var totalCount: Int?
        /// The last record's `stationcode`, for slicing past the offset window.
        public var lastCode: String?
        /// The newest `duedate` on the page.
        public var newest: Int64?
    }

    public static func page(_ body: [UInt8], sourceID: String, fetchedAt: Int64, firstIndex: Int = 0) throws -> Page {
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(body))
        } catch let error as DecodingError {
            throw FetchError(.decode, "Opendatasoft records: \(describe(error))")
        } catch {
            throw FetchError(.decode, "Opendatasoft records: not valid JSON (\(error))")
        }
        if let message = envelope.errorMessage {
            throw FetchError(.validation, "Opendatasoft answered an error: \(message)")
        }
        guard let records = envelope.records else {
            throw FetchError(.validation, "Opendatasoft answer has no results, records or array of records")
        }
        var page = Page(
            stations: [], rejected: [], recordCount: records.count, totalCount: envelope.totalCount, lastCode: nil,
            newest: nil)
        page.stations.reserveCapacity(records.count)
        for (offset, record) in records.enumerated() {
            let index = firstIndex + offset
            if let code = record.stationcode?.text { page.lastCode = code }
            switch normalize(record, index: index, sourceID: sourceID, fetchedAt: fetchedAt) {
            case .success(let station):
                page.stations.append(station)
                page.newest = max(page.newest ?? station.observedAt, station.observedAt)
            case .failure(let rejection):
                page.rejected.append(rejection)
            }
        }
        return page
    }

    private enum Normalized {
        case success(StationObservation)
        case failure(Rejection)
    }

    private static func normalize(_ r: Record, index: Int, sourceID: String, fetchedAt: Int64) -> Normalized {
        guard let code = r.stationcode?.text, !code.isEmpty else {
            return .failure(Rejection(entity: "records[\(index)]", reason: "stationcode is missing"))
        }
        if let field = r.invalid {
            return .failure(Rejection(entity: code, reason: "\(field) has an unreadable value"))
        }
        guard let bikes = r.numbikesavailable?.value ?? sum(r.mechanical?.value, r.ebike?.value) else {
            return .failure(Rejection(entity: code, reason: "numbikesavailable is missing"))
        }
        guard bikes >= 0, (r.numdocksavailable?.value ?? 0) >= 0 else {
            return .failure(Rejection(entity: code, reason: "negative availability"))
        }
        var station = StationObservation(
            sourceID: sourceID, stationID: code, code: code, name: r.name, latitude: r.coordonneesGeo?.latitude,
            longitude: r.coordonneesGeo?.longitude, capacity: r.capacity?.value, bikesAvailable: bikes,
            mechanicalAvailable: r.mechanical?.value, ebikesAvailable: r.ebike?.value,
            docksAvailable: r.numdocksavailable?.value, isInstalled: r.isInstalled?.value ?? true,
            isRenting: r.isRenting?.value ?? true, isReturning: r.isReturning?.value ?? true,
            observedAt: r.duedate.flatMap(Timestamp.parse) ?? r.recordTimestamp.flatMap(Timestamp.parse) ?? fetchedAt)
        if station.latitude.map({ !(-90...90).contains($0) }) == true
            || station.longitude.map({ !(-180...180).contains($0) }) == true
        {
            station.latitude = nil
            station.longitude = nil
        }
        return .success(station)
    }

    private static func sum(_ a: Int?, _ b: Int?) -> Int? {
        guard let a, let b else { return nil }
        return a + b
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "not valid JSON"
                : "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    // MARK: - Shapes

    private struct Envelope: Decodable {
        var records: [Record]?
        var totalCount: Int?
        var errorMessage: String?

        enum Keys: String, CodingKey {
            case results, records, total_count, nhits, error_code, message, error
        }

        init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                var records: [Record] = []
                while !array.isAtEnd { records.append(try array.decode(Record.self)) }
                self.records = records
                return
            }
            let container = try decoder.container(keyedBy: Keys.self)
            if container.contains(.error_code) || container.contains(.error) {
                let code = (try? container.decode(String.self, forKey: .error_code)) ?? "error"
                let message =
                    (try? container.decode(String.self, forKey: .message))
                    ?? (try? container.decode(String.self, forKey: .error)) ?? ""
                errorMessage = "\(code): \(message)"
                return
            }
            records =
                try container.decodeIfPresent([Record].self, forKey: .results)
                ?? container.decodeIfPresent([Record].self, forKey: .records)
            totalCount =
                try container.decodeIfPresent(Int.self, forKey: .total_count)
                ?? container.decodeIfPresent(Int.self, forKey: .nhits)
        }
    }

    /// One record, flat (v2.1) or wrapped in `fields` (v1). Unreadable values are noted in
    /// `invalid` so the record is rejected with the field's name, not the whole page.
    struct Record: Decodable {
        var stationcode: GBFSIdentifier?
        var name: String?
        var capacity: ODSNumber?
        var numbikesavailable: ODSNumber?
        var numdocksavailable: ODSNumber?
        var mechanical: ODSNumber?
        var ebike: ODSNumber?
        var isInstalled: ODSFlag?
        var isRenting: ODSFlag?
        var isReturning: ODSFlag?
        var duedate: String?
        var recordTimestamp: String?
        var coordonneesGeo: ODSGeo?
        var invalid: String?

        enum Keys: String, CodingKey {
            case fields, record_timestamp, stationcode, name, capacity, numbikesavailable, numdocksavailable,
                mechanical, ebike, is_installed, is_renting, is_returning, duedate, coordonnees_geo
        }

        init(from decoder: any Decoder) throws {
            let outer = try decoder.container(keyedBy: Keys.self)
            recordTimestamp = try? outer.decodeIfPresent(String.self, forKey: .record_timestamp)
            let c = outer.contains(.fields) ? try outer.nestedContainer(keyedBy: Keys.self, forKey: .fields) : outer
            func field<T: Decodable>(_ key: Keys) -> T? {
                guard c.contains(key), (try? c.decodeNil(forKey: key)) == false else { return nil }
                do {
                    return try c.decode(T.self, forKey: key)
                } catch {
                    if invalid == nil { invalid = key.rawValue }
                    return nil
                }
            }
            stationcode = field(.stationcode)
            name = field(.name)
            capacity = field(.capacity)
            numbikesavailable = field(.numbikesavailable)
            numdocksavailable = field(.numdocksavailable)
            mechanical = field(.mechanical)
            ebike = field(.ebike)
            isInstalled = field(.is_installed)
            isRenting = field(.is_renting)
            isReturning = field(.is_returning)
            duedate = field(.duedate)
            coordonneesGeo = field(.coordonnees_geo)
        }
    }
}

/// A count given as an integer, a whole float, or a numeric string.
struct ODSNumber: Decodable, Sendable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int.self) {
            value = integer
        } else if let double = try? container.decode(Double.self), double == double.rounded(), abs(double) < 1e9 {
            value = Int(double)
        } else if let text = try? container.decode(String.self), let integer = Int(text) {
            value = integer
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a count")
        }
    }
}

/// A flag given as `"OUI"`/`"NON"` (Paris open data), a boolean, 0/1 or "true"/"false".
struct ODSFlag: Decodable, Sendable {
    let value: Bool

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            switch text.uppercased() {
            case "OUI", "YES", "TRUE", "1": value = true
            case "NON", "NO", "FALSE", "0": value = false
            default:
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected OUI or NON")
            }
        } else {
            value = try GBFSFlag(from: decoder).value
        }
    }
}

/// A point given as `{"lon", "lat"}` (Explore v2.1) or as `[lat, lon]` (v1).
struct ODSGeo: Decodable, Sendable {
    let latitude: Double
    let longitude: Double

    private struct Object: Decodable {
        let lat: Double
        let lon: Double
    }

    init(from decoder: any Decoder) throws {
        if let pair = try? decoder.singleValueContainer().decode([Double].self), pair.count == 2 {
            (latitude, longitude) = (pair[0], pair[1])
        } else {
            let object = try Object(from: decoder)
            (latitude, longitude) = (object.lat, object.lon)
        }
    }
}
