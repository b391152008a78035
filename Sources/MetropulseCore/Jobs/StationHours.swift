/// The hourly station statistics as a pure computation over raw observations.
///
/// An hour has a row for each station with at least one observation in it. Counts (bikes,
/// e-bikes, docks, occupancy) are the mean, minimum and maximum over the hour's observations.
/// Minutes empty, full and closed are time-weighted: an observation's state holds from its time
/// until the station's next observation, for at most `maxHoldMillis` (past that the state is not
/// known), and each hour counts the part of each hold inside it — a hold may begin in the hour
/// before. Bikes taken and returned are the falls and rises of the count from the station's
/// previous observation, when it is at most `maxHoldMillis` older. So an observation at `t` can
/// change the rows of its own hour and of the hour that `t + maxHoldMillis` falls in, and nothing
/// else: that is what makes the refresh incremental.
public enum StationHours {
    public static let hourMillis: Int64 = 3_600_000
    /// How long an observation's state is taken to last without a newer one.
    public static let maxHoldMillis: Int64 = 15 * 60_000

    /// The start of the hour holding `time`.
    public static func hour(of time: Int64) -> Int64 {
        let remainder = time % hourMillis
        return time - (remainder < 0 ? remainder + hourMillis : remainder)
    }

    /// The hours whose rows an observation at `time` can change.
    public static func hoursTouched(by time: Int64) -> Set<Int64> {
        let (end, overflow) = time.addingReportingOverflow(maxHoldMillis)
        return [hour(of: time), hour(of: overflow ? time : end)]
    }

    /// The observed-time range to read to compute `hours` (contiguous hours as one range each):
    /// each hour, and the hold reaching into it from before.
    public static func ranges(for hours: Set<Int64>) -> [Range<Int64>] {
        var ranges: [Range<Int64>] = []
        for hour in hours.sorted() {
            let lower = hour.subtractingReportingOverflow(maxHoldMillis)
            let upper = hour.addingReportingOverflow(hourMillis)
            let range = (lower.overflow ? .min : lower.partialValue)..<(upper.overflow ? .max : upper.partialValue)
            if let last = ranges.last, last.upperBound >= range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                ranges.append(range)
            }
        }
        return ranges
    }

    /// The rows of `hours` for one source, from its observations (which must hold every
    /// observation the hours need: see `ranges(for:)`). Rows are sorted by hour, then station.
    public static func aggregate(_ observations: [StationObservation], hours: Set<Int64>) -> [StationHour] {
        var byStation: [String: [StationObservation]] = [:]
        for observation in observations { byStation[observation.stationID, default: []].append(observation) }
        var rows: [StationHour] = []
        for (_, list) in byStation {
            // One state per feed time: the last one read wins, as in the latest tier.
            var timeline: [StationObservation] = []
            for observation in list.sorted(by: { $0.observedAt < $1.observedAt }) {
                if timeline.last?.observedAt == observation.observedAt {
                    timeline[timeline.count - 1] = observation
                } else {
                    timeline.append(observation)
                }
            }
            var accumulators: [Int64: Accumulator] = [:]
            for (index, observation) in timeline.enumerated() {
                let time = observation.observedAt
                let ownHour = hour(of: time)
                if hours.contains(ownHour) {
                    accumulators[ownHour, default: Accumulator()].add(observation)
                    let gap = index > 0 ? time.subtractingReportingOverflow(timeline[index - 1].observedAt) : nil
                    if let gap, !gap.overflow, gap.partialValue <= maxHoldMillis {
                        accumulators[ownHour]?.moved(
                            from: timeline[index - 1].bikesAvailable, to: observation.bikesAvailable)
                    }
                }
                // The hold, split over the hours it covers.
                let holdEnd = min(
                    index + 1 < timeline.count ? timeline[index + 1].observedAt : .max,
                    time.addingReportingOverflow(maxHoldMillis).overflow ? .max : time + maxHoldMillis)
                var start = time
                while start < holdEnd {
                    let current = hour(of: start)
                    let (next, overflow) = current.addingReportingOverflow(hourMillis)
                    let end = overflow ? holdEnd : min(holdEnd, next)
                    if hours.contains(current) {
                        accumulators[current, default: Accumulator()].hold(observation, millis: end - start)
                    }
                    if overflow { break }
                    start = end
                }
            }
            for (hour, accumulator) in accumulators {
                if let row = accumulator.row(sourceID: list[0].sourceID, stationID: list[0].stationID, hour: hour) {
                    rows.append(row)
                }
            }
        }
        return rows.sorted { ($0.hour, $0.stationID) < ($1.hour, $1.stationID) }
    }

    private struct Accumulator {
        var count = 0
        var bikes = Stat()
        var ebikes = Stat()
        var docks = Stat()
        var occupancySum = 0.0
        var occupancyCount = 0
        var emptyMillis: Int64 = 0
        var fullMillis: Int64 = 0
        var closedMillis: Int64 = 0
        var taken = 0
        var returned = 0

        mutating func moved(from before: Int, to after: Int) {
            let change = after.subtractingReportingOverflow(before)
            guard !change.overflow else { return }
            if change.partialValue < 0 { taken += -change.partialValue } else { returned += change.partialValue }
        }

        mutating func add(_ observation: StationObservation) {
            count += 1
            bikes.add(observation.bikesAvailable)
            if let value = observation.ebikesAvailable { ebikes.add(value) }
            if let value = observation.docksAvailable { docks.add(value) }
            if let rate = observation.occupancyRate {
                occupancySum += rate
                occupancyCount += 1
            }
        }

        mutating func hold(_ observation: StationObservation, millis: Int64) {
            if observation.status != .inService {
                closedMillis += millis
            } else {
                if observation.bikesAvailable <= 0 { emptyMillis += millis }
                if let docks = observation.docksAvailable, docks <= 0 { fullMillis += millis }
            }
        }

        func row(sourceID: String, stationID: String, hour: Int64) -> StationHour? {
            guard count > 0, let bikesMean = bikes.mean, let bikesMin = bikes.min, let bikesMax = bikes.max else {
                return nil
            }
            return StationHour(
                sourceID: sourceID, stationID: stationID, hour: hour, observations: count, bikesMean: bikesMean,
                bikesMin: bikesMin, bikesMax: bikesMax, ebikesMean: ebikes.mean, ebikesMin: ebikes.min,
                ebikesMax: ebikes.max, docksMean: docks.mean, docksMin: docks.min, docksMax: docks.max,
                occupancyMean: occupancyCount > 0 ? occupancySum / Double(occupancyCount) : nil,
                minutesEmpty: Double(emptyMillis) / 60_000, minutesFull: Double(fullMillis) / 60_000,
                minutesClosed: Double(closedMillis) / 60_000, bikesTaken: taken, bikesReturned: returned)
        }
    }

    private struct Stat {
        var sum = 0.0
        var count = 0
        var min: Int?
        var max: Int?

        mutating func add(_ value: Int) {
            sum += Double(value)
            count += 1
            min = Swift.min(min ?? value, value)
            max = Swift.max(max ?? value, value)
        }

        var mean: Double? { count > 0 ? sum / Double(count) : nil }
    }
}
