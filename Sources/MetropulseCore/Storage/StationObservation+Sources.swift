extension Array where Element == StationObservation {
    /// The observations grouped by source, in first-seen order; one group without copying in the
    /// usual case of a single source.
    public func groupedBySource() -> [(sourceID: String, stations: [StationObservation])] {
        guard let first = self.first?.sourceID else { return [] }
        if allSatisfy({ $0.sourceID == first }) { return [(first, self)] }
        var order: [String] = []
        var groups: [String: [StationObservation]] = [:]
        for station in self {
            if groups[station.sourceID] == nil { order.append(station.sourceID) }
            groups[station.sourceID, default: []].append(station)
        }
        return order.map { ($0, groups[$0]!) }
    }
}
