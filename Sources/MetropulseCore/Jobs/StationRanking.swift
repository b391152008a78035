/// One station's place in its source's ranking over a day of hourly rows.
public struct StationRank: Sendable, Hashable, Codable {
    public var sourceID: String
    public var stationID: String
    /// When the ranking was computed, and the start of the 24 hours it covers (epoch ms).
    public var computedAt: Int64
    public var since: Int64
    public var minutesEmpty: Double
    public var minutesFull: Double
    /// Bikes taken plus bikes returned.
    public var turnover: Int
    /// 1 for the most minutes empty (ties share the better rank's order by station id).
    public var rankEmpty: Int
    public var rankFull: Int
    public var rankTurnover: Int

    public init(
        sourceID: String, stationID: String, computedAt: Int64, since: Int64, minutesEmpty: Double,
        minutesFull: Double, turnover: Int, rankEmpty: Int = 0, rankFull: Int = 0, rankTurnover: Int = 0
    ) {
        self.sourceID = sourceID
        self.stationID = stationID
        self.computedAt = computedAt
        self.since = since
        self.minutesEmpty = minutesEmpty
        self.minutesFull = minutesFull
        self.turnover = turnover
        self.rankEmpty = rankEmpty
        self.rankFull = rankFull
        self.rankTurnover = rankTurnover
    }

    /// What a ranking can be ordered by.
    public enum Order: String, Sendable, CaseIterable {
        case empty, full, turnover
    }
}

public enum StationRanking {
    /// Each station of `hours` (one source's rows) with its totals and its rank by each measure
    /// (1 = most; ties in station id order).
    public static func rank(_ hours: [StationHour], sourceID: String, computedAt: Int64, since: Int64)
        -> [StationRank]
    {
        var totals: [String: StationRank] = [:]
        for row in hours where row.sourceID == sourceID {
            var rank =
                totals[row.stationID]
                ?? StationRank(
                    sourceID: sourceID, stationID: row.stationID, computedAt: computedAt, since: since,
                    minutesEmpty: 0, minutesFull: 0, turnover: 0)
            rank.minutesEmpty += row.minutesEmpty
            rank.minutesFull += row.minutesFull
            rank.turnover += row.bikesTaken + row.bikesReturned
            totals[row.stationID] = rank
        }
        var ranks = totals.values.sorted { $0.stationID < $1.stationID }
        func assign(_ keyPath: WritableKeyPath<StationRank, Int>, by measure: (StationRank) -> Double) {
            let order = ranks.indices.sorted {
                (-measure(ranks[$0]), ranks[$0].stationID) < (-measure(ranks[$1]), ranks[$1].stationID)
            }
            for (place, index) in order.enumerated() { ranks[index][keyPath: keyPath] = place + 1 }
        }
        assign(\.rankEmpty) { $0.minutesEmpty }
        assign(\.rankFull) { $0.minutesFull }
        assign(\.rankTurnover) { Double($0.turnover) }
        return ranks
    }
}
