import Foundation
public import MetropulseCore

/// Reads an EIA API v2 answer (`/v2/electricity/rto/region-data/data/` or
/// `/rto/fuel-type-data/data/`) as hourly power readings, one per row:
/// - region data by `type`: `D` → `power_demand`, `DF` → `power_demand_forecast`,
///   `NG` → `net_generation`, `TI` → `interchange`;
/// - fuel-type data: `generation_<fueltype>` (`generation_sun`, `generation_wat`, ...).
///
/// Values are megawatt-hours per hour, i.e. the hour's mean megawatts (unit `MW`); EIA sends them
/// as strings or numbers, and `null` for an hour not reported (rejected with that reason). A
/// row's `period` is `2023-01-01T00` (UTC, `hourly`) or `2023-01-01T00-08` (`local-hourly`).
/// A row's zone is the one the source's `respondent_zones` tag gives its respondent
/// (`PACW=portland,BPAT=seattle`), else the source's `zone` tag, else the respondent's code.
/// An answer cut short by its `length` (`response.total` above the rows it holds) is noted as a
/// rejection, since the hours left out are not read.
public enum EIAParser {
    public struct Result: Sendable {
        public var measurements: [CityMeasurement]
        public var rejected: [Rejection]
        public var newest: Int64?
    }

    static let regionMetrics = [
        "D": "power_demand", "DF": "power_demand_forecast", "NG": "net_generation", "TI": "interchange",
    ]

    /// `PACW=portland,BPAT=seattle` → `["PACW": "portland", "BPAT": "seattle"]`.
    public static func respondentZones(_ tag: String?) -> [String: String] {
        var zones: [String: String] = [:]
        for pair in (tag ?? "").split(whereSeparator: { $0 == "," || $0 == " " }) {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty { zones[parts[0]] = parts[1] }
        }
        return zones
    }

    /// `2023-01-01T00` (UTC) or `2023-01-01T00-08` (local with its offset), epoch ms.
    static func period(_ text: String) -> Int64? {
        let parts = text.split(separator: "T", maxSplits: 1)
        guard parts.count == 2, parts[1].count >= 2 else {
            // Daily (`2023-01-01`) or monthly periods.
            return Timestamp.parse(text.count == 10 ? text + "T00:00:00Z" : text)
        }
        let hour = parts[1].prefix(2)
        let rest = parts[1].dropFirst(2)
        let zone: String
        if rest.isEmpty {
            zone = "Z"
        } else if rest.count == 3, let sign = rest.first, sign == "-" || sign == "+" {
            zone = "\(sign)\(rest.dropFirst()):00"
        } else {
            return nil
        }
        return Timestamp.parse("\(parts[0])T\(hour):00:00\(zone)")
    }

    public static func parse(
        _ body: [UInt8], sourceID: String, zone: String?, respondentZones: [String: String] = [:]
    ) throws -> Result {
        let root = try CityZoning.object(body, "EIA")
        if let error = root["error"] {
            let text = (error as? String) ?? ((error as? [String: Any])?["message"] as? String) ?? "\(error)"
            throw FetchError(.validation, "EIA answered an error: \(text)")
        }
        guard let response = root["response"] as? [String: Any] else {
            throw FetchError(.validation, "EIA: no response object")
        }
        guard let rows = response["data"] as? [Any] else {
            throw FetchError(.validation, "EIA: no response.data array")
        }
        var result = Result(measurements: [], rejected: [], newest: nil)
        var seen = Set<String>()
        for (index, item) in rows.enumerated() {
            let entity = "data[\(index)]"
            guard let row = item as? [String: Any] else {
                result.rejected.append(Rejection(entity: entity, reason: "not an object"))
                continue
            }
            let respondent = (row["respondent"] as? String) ?? ""
            let metric: String
            if let fuel = row["fueltype"] as? String, !fuel.isEmpty {
                metric = "generation_" + MetricSlug.make(fuel)
            } else if let type = row["type"] as? String, let name = regionMetrics[type] {
                metric = name
            } else {
                result.rejected.append(
                    Rejection(entity: entity, reason: "no fueltype and no known type (D, DF, NG, TI)"))
                continue
            }
            guard let periodText = row["period"] as? String, let at = period(periodText),
                Timestamp.feedRange.contains(at)
            else {
                result.rejected.append(Rejection(entity: entity, reason: "no readable period"))
                continue
            }
            guard let value = row["value"].flatMap(JSONMappingParser.number), value.isFinite else {
                result.rejected.append(
                    Rejection(entity: "\(respondent) \(periodText)", reason: "no value for the hour (null)"))
                continue
            }
            let rowZone = respondentZones[respondent] ?? zone ?? (respondent.isEmpty ? sourceID : respondent)
            guard seen.insert("\(rowZone) \(metric) \(at)").inserted else {
                result.rejected.append(
                    Rejection(entity: "\(respondent) \(periodText) \(metric)", reason: "duplicate row"))
                continue
            }
            result.measurements.append(
                CityMeasurement(
                    sourceID: sourceID, zone: rowZone, metric: metric, value: value, unit: "MW", observedAt: at))
            result.newest = max(result.newest ?? at, at)
        }
        let total = (response["total"] as? NSNumber)?.intValue ?? (response["total"] as? String).flatMap { Int($0) }
        if let total, total > rows.count {
            result.rejected.append(
                Rejection(
                    entity: "response",
                    reason:
                        "the answer holds \(rows.count) of \(total) rows: the rest is not read (raise `length`, or narrow `start`)"
                ))
        }
        return result
    }
}
