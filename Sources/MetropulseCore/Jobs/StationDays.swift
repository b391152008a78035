/// The daily station statistics, from the hourly rows of the same UTC day: observations and
/// minutes summed, minimum and maximum over the hours, means weighted by each hour's
/// observations (exact for bikes; for e-bikes, docks and occupancy, hours whose observations
/// lacked the count weigh as if they had it).
public enum StationDays {
    public static let dayMillis: Int64 = 86_400_000

    public static func day(of time: Int64) -> Int64 {
        let remainder = time % dayMillis
        return time - (remainder < 0 ? remainder + dayMillis : remainder)
    }

    /// One row per station and day of `hours` (rows of one source), sorted by day, then station.
    public static func aggregate(_ hours: [StationHour]) -> [StationHour] {
        var groups: [String: [StationHour]] = [:]
        for row in hours { groups["\(day(of: row.hour))|\(row.stationID)", default: []].append(row) }
        var days: [StationHour] = []
        for (_, rows) in groups {
            let first = rows[0]
            let weight = Double(rows.reduce(0) { $0 + $1.observations })
            func mean(_ value: (StationHour) -> Double?) -> Double? {
                let present = rows.compactMap { row in value(row).map { ($0, Double(row.observations)) } }
                let total = present.reduce(0) { $0 + $1.1 }
                return total > 0 ? present.reduce(0) { $0 + $1.0 * $1.1 } / total : nil
            }
            days.append(
                StationHour(
                    sourceID: first.sourceID, stationID: first.stationID, hour: day(of: first.hour),
                    observations: Int(weight), bikesMean: mean(\.bikesMean) ?? 0,
                    bikesMin: rows.map(\.bikesMin).min() ?? 0, bikesMax: rows.map(\.bikesMax).max() ?? 0,
                    ebikesMean: mean(\.ebikesMean), ebikesMin: rows.compactMap(\.ebikesMin).min(),
                    ebikesMax: rows.compactMap(\.ebikesMax).max(), docksMean: mean(\.docksMean),
                    docksMin: rows.compactMap(\.docksMin).min(), docksMax: rows.compactMap(\.docksMax).max(),
                    occupancyMean: mean(\.occupancyMean),
                    minutesEmpty: rows.reduce(0) { $0 + $1.minutesEmpty },
                    minutesFull: rows.reduce(0) { $0 + $1.minutesFull },
                    minutesClosed: rows.reduce(0) { $0 + $1.minutesClosed },
                    bikesTaken: rows.reduce(0) { $0 + $1.bikesTaken },
                    bikesReturned: rows.reduce(0) { $0 + $1.bikesReturned }))
        }
        return days.sorted { ($0.hour, $0.stationID) < ($1.hour, $1.stationID) }
    }
}
