/// Gathers one station's history from raw blocks, newest first, for both backends. Blocks are fed
/// newest-last-observation first; once `limit` observations are kept, a block whose last
/// observation is older than all of them cannot change the answer, and reading stops.
public struct StationHistoryCollector {
    public let stationID: String
    public let since: Int64
    public let until: Int64
    public let limit: Int
    /// The station's latest entry: history rows take its code, name and place from it.
    let described: StationObservation?
    public private(set) var stations: [StoredStation] = []

    /// `stationID` may be the station's code; the latest entry resolves it.
    public init(stationID: String, since: Int64?, until: Int64?, limit: Int, latest: StoredStation?) {
        self.stationID = latest?.observation.stationID ?? stationID
        self.since = since ?? Int64.min
        self.until = until ?? Int64.max
        self.limit = limit
        self.described = latest?.observation
    }

    /// Whether a block whose newest observation is `lastObservedAt` can still add to the answer.
    public func wants(lastObservedAt: Int64) -> Bool {
        guard stations.count >= limit, let oldest = stations.last?.observation.observedAt else { return true }
        return lastObservedAt >= oldest
    }

    public mutating func add(block: [UInt8], sourceID: String, fetchedAt: Int64, runID: String)
        throws(StationBlockError)
    {
        let observations = try StationBlock.rawObservations(of: stationID, in: block, sourceID: sourceID)
        for var observation in observations where (since...until).contains(observation.observedAt) {
            if let described {
                observation.code = described.code
                observation.name = described.name
                observation.latitude = described.latitude
                observation.longitude = described.longitude
            }
            // Kept newest first; blocks usually arrive in that order already.
            let inOrder = stations.last.map { observation.observedAt <= $0.observation.observedAt } ?? true
            stations.append(StoredStation(observation: observation, fetchedAt: fetchedAt, runID: runID))
            if !inOrder { stations.sort { $0.observation.observedAt > $1.observation.observedAt } }
            if stations.count > limit { stations.removeLast() }
        }
    }
}
