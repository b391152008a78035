import Foundation
public import MetropulseCore
import Synchronization

/// The demo city's power, 311 and road-traffic publishers, each in the shape of a real API (EIA
/// API v2 region data, a Socrata 311 dataset with NYC's columns, HERE Traffic flow), a pure
/// function of time like the rest of the demo city.
public enum DemoCityAPIs {
    /// The zones, their weight in the city's activity, their position, and their EIA respondent.
    static let zones: [(id: String, weight: Double, latitude: Double, longitude: Double, respondent: String)] = [
        ("centre", 1.0, 48.8566, 2.3522, "DEMO-C"), ("nord", 0.7, 48.8966, 2.3522, "DEMO-N"),
        ("sud", 0.8, 48.8166, 2.3522, "DEMO-S"),
    ]

    /// The local hour (0–24) at `millis`.
    static func localHour(_ millis: Int64) -> Double {
        (Double(((millis % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000 + DemoCity.utcOffsetHours)
            .truncatingRemainder(dividingBy: 24)
    }

    /// Morning and evening rush, 0–1.
    static func rush(_ hour: Double) -> Double {
        exp(-pow((hour - 8.5) / 1.5, 2)) + exp(-pow((hour - 18) / 1.8, 2))
    }

    /// Saturday and Sunday (local), when the city is calmer.
    static func isWeekend(_ millis: Int64) -> Bool {
        let local = millis + Int64(DemoCity.utcOffsetHours * 3_600_000)
        // 1970-01-01 was a Thursday: day 0 → 4 (Mon = 1 ... Sun = 7).
        let weekday = ((local / 86_400_000) % 7 + 7 + 3) % 7 + 1
        return weekday >= 6
    }

    static func unit(_ a: UInt64, _ b: UInt64) -> Double {
        Double(DemoCity.hash(a, b) >> 11) / Double(1 << 53)
    }

    // MARK: Power (EIA API v2 region data)

    /// A zone's mean demand over the hour starting at `hourStart`, MW: the day's shape with an
    /// evening peak and the rush hours, lower at weekends, with some noise of the hour.
    public static func demand(zone index: Int, hourStart: Int64) -> Double {
        let hour = localHour(hourStart + 1_800_000)
        let weight = zones[index].weight
        let evening = exp(-pow((hour - 19) / 2.5, 2))
        let night = exp(-pow((hour - 4) / 2.5, 2))
        var value = weight * (430 + 170 * evening + 80 * rush(hour) - 70 * night)
        if isWeekend(hourStart) { value *= 0.88 }
        value *= 1 + 0.04 * (unit(UInt64(index) + 11, UInt64(hourStart / 3_600_000)) - 0.5)
        return (value * 10).rounded() / 10
    }

    /// `/v2/electricity/rto/region-data/data/`: type `D` for each zone's respondent, for the last
    /// `length` rows (48 hours of each by default), ascending by period. An hour is published once
    /// it is over. `facets[respondent][]` narrows the respondents.
    public static func eia(nowMillis: Int64, respondents: [String], length: Int?) -> [UInt8] {
        let lastHour = nowMillis / 3_600_000 * 3_600_000 - 3_600_000
        let chosen = zones.indices.filter { respondents.isEmpty || respondents.contains(zones[$0].respondent) }
        var rows: [[String: Any]] = []
        for back in stride(from: 47, through: 0, by: -1) {
            let hourStart = lastHour - Int64(back) * 3_600_000
            for index in chosen {
                rows.append([
                    "period": String(Timestamp.iso8601(hourStart).prefix(13)), "respondent": zones[index].respondent,
                    "respondent-name": "Demo \(zones[index].id)", "type": "D", "type-name": "Demand",
                    "value": String(Int(demand(zone: index, hourStart: hourStart).rounded())),
                    "value-units": "megawatthours",
                ])
            }
        }
        let total = rows.count
        if let length, length >= 0, length < rows.count { rows = Array(rows.suffix(length)) }
        let document: [String: Any] = [
            "response": [
                "total": String(total), "dateFormat": "YYYY-MM-DD\"T\"HH24", "frequency": "hourly", "data": rows,
                "description": "Demo city hourly demand by respondent",
            ],
            "request": ["command": "/v2/electricity/rto/region-data/data/"], "apiVersion": "2.1.8",
        ]
        return Array((try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data())
    }

    // MARK: 311 (Socrata, NYC's columns)

    static let categories = [
        "Noise - Residential", "Illegal Parking", "Street Condition", "Street Light Condition", "Blocked Driveway",
        "Dirty Condition", "Heat/Hot Water",
    ]

    /// Requests per hour in a zone at a local hour: a few at night, most late morning and early
    /// evening.
    static func requestRate(zone index: Int, at millis: Int64) -> Double {
        let hour = localHour(millis)
        let day = 0.3 + 9 * exp(-pow((hour - 11) / 3.5, 2)) + 6 * exp(-pow((hour - 18.5) / 2.5, 2))
        return zones[index].weight * day * (isWeekend(millis) ? 0.7 : 1)
    }

    struct Request {
        var key: Int64
        var created: Int64
        var zone: Int
        var category: String
        var latitude: Double
        var longitude: Double
        var closedAt: Int64
    }

    /// The requests created in the 10-minute slot starting at `slot` (epoch ms).
    static func requests(inSlot slot: Int64) -> [Request] {
        var out: [Request] = []
        let slotIndex = UInt64(slot / 600_000)
        for index in zones.indices {
            let expected = requestRate(zone: index, at: slot + 300_000) / 6
            let count = Int(expected + unit(slotIndex, UInt64(index) + 101))
            for k in 0..<count {
                let seed = slotIndex &* 31 &+ UInt64(index * 7 + k)
                let created = slot + Int64(unit(seed, 1) * 599_000)
                let hour = localHour(created)
                // Noise at night, the street by day.
                let night = hour < 6 || hour >= 22
                let pick = Int(unit(seed, 2) * Double(categories.count))
                let category = night && unit(seed, 3) < 0.6 ? categories[0] : categories[pick]
                let spread = index == 0 ? 0.017 : 0.009
                out.append(
                    Request(
                        key: Int64(slotIndex) * 100 + Int64(index * 20 + k), created: created, zone: index,
                        category: category, latitude: zones[index].latitude + (unit(seed, 4) - 0.5) * 2 * spread,
                        longitude: zones[index].longitude + (unit(seed, 5) - 0.5) * 2 * spread * 1.5,
                        closedAt: created + Int64((1 + unit(seed, 6) * 11) * 3_600_000)))
            }
        }
        return out.sorted { $0.created > $1.created }
    }

    /// `/resource/demo-311.json`: the newest `limit` requests (1,000 by default, as Socrata), newest
    /// first, created up to now; `created_date` in the city's local time without a zone.
    public static func serviceRequests(nowMillis: Int64, limit: Int?) -> [UInt8] {
        let limit = min(max(limit ?? 1_000, 0), 50_000)
        var rows: [[String: Any]] = []
        var slot = nowMillis / 600_000 * 600_000
        let oldest = nowMillis - 3 * 86_400_000
        func local(_ millis: Int64) -> String {
            String(Timestamp.iso8601(millis + Int64(DemoCity.utcOffsetHours * 3_600_000)).prefix(23))
        }
        while rows.count < limit, slot > oldest {
            for request in requests(inSlot: slot) where request.created <= nowMillis && rows.count < limit {
                var row: [String: Any] = [
                    "unique_key": String(request.key), "created_date": local(request.created), "agency": "DEMO",
                    "complaint_type": request.category, "status": request.closedAt <= nowMillis ? "Closed" : "Open",
                    "borough": zones[request.zone].id.uppercased(),
                    "latitude": String(request.latitude), "longitude": String(request.longitude),
                    "location": ["type": "Point", "coordinates": [request.longitude, request.latitude]],
                ]
                if request.closedAt <= nowMillis { row["closed_date"] = local(request.closedAt) }
                rows.append(row)
            }
            slot -= 600_000
        }
        return Array((try? JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])) ?? Data())
    }

    // MARK: Road traffic (HERE flow)

    /// `flow.json` in HERE's v6.2 shape: six road segments per zone, slower in the rush hours and
    /// in the centre; metric units.
    public static func hereFlow(nowMillis: Int64) -> [UInt8] {
        let minute = nowMillis / 60_000 * 60_000
        let hour = localHour(minute)
        var items: [[String: Any]] = []
        for (index, zone) in zones.enumerated() {
            for segment in 0..<6 {
                let free = [50.0, 50, 70, 30, 50, 90][segment]
                let slow = rush(hour) * zone.weight * 0.6 + 0.05 * sin(Double(minute) / 600_000 + Double(segment))
                let speed = max(4, free * (1 - min(0.9, max(0, slow))))
                let latitude = zone.latitude + Double(segment - 3) * 0.004
                let longitude = zone.longitude + Double(segment % 3 - 1) * 0.006
                let jam = min(10, max(0, (1 - speed / free) * 10))
                items.append([
                    "TMC": [
                        "PC": 9000 + index * 10 + segment, "DE": "Demo \(zone.id) road \(segment + 1)", "QD": "+",
                        "LE": [0.8, 1.2, 2.0, 0.5, 1.0, 3.0][segment],
                    ],
                    "SHP": [
                        [
                            "value": [
                                "\(latitude),\(longitude) \(latitude + 0.002),\(longitude + 0.003) "
                            ], "FC": 3,
                        ]
                    ],
                    "CF": [
                        [
                            "TY": "TR", "SP": (speed * 100).rounded() / 100, "SU": (speed * 100).rounded() / 100,
                            "FF": free, "JF": (jam * 1000).rounded() / 1000, "CN": 0.9, "LN": [] as [Any],
                        ]
                    ],
                ])
            }
        }
        let created = String(Timestamp.iso8601(minute).prefix(19)) + ".000+0000"
        let document: [String: Any] = [
            "RWS": [
                [
                    "RW": [
                        [
                            "DE": "Demo city", "PBT": String(Timestamp.iso8601(minute).prefix(19)) + "Z",
                            "FIS": [["FI": items]],
                        ]
                    ],
                    "TY": "TMC", "UNITS": "metric",
                ]
            ],
            "CREATED_TIMESTAMP": created, "VERSION": "3.2", "UNITS": "metric", "MAP_VERSION": "",
        ]
        return Array((try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data())
    }
}

/// The incidents the demo city's feeds report now (`DemoIncident`), shared by the process's demo
/// feed server and the listener that receives them from the control bus.
public final class DemoIncidents: Sendable {
    private let incidents = Mutex<[DemoIncident]>([])

    public init() {}

    public func add(_ incident: DemoIncident) {
        incidents.withLock { list in
            list.removeAll { $0.until <= incident.from }
            list.append(incident)
        }
    }

    /// The value an incident gives `metric` in the zone nearest the point, at `millis`.
    public func value(metric: String, latitude: Double, longitude: Double, at millis: Int64) -> Double? {
        guard let zone = DemoCityAPIs.zone(latitude: latitude, longitude: longitude) else { return nil }
        return incidents.withLock { list in
            list.last { $0.zone == zone && $0.metric == metric && $0.from <= millis && millis < $0.until }?.value
        }
    }
}

extension DemoCityAPIs {
    /// The demo zones' ids.
    public static var zoneIDs: [String] { zones.map(\.id) }

    /// The zone whose point is within 0.02° of a position.
    static func zone(latitude: Double, longitude: Double) -> String? {
        zones.first { abs($0.latitude - latitude) < 0.02 && abs($0.longitude - longitude) < 0.02 }?.id
    }
}
