import Hummingbird
import MetropulseCore

extension LiveFeed.Topic {
    /// The topics named; every topic when `names` is nil. An unknown name is a 400 naming it.
    static func parse(_ names: [String]?) throws -> Set<Self> {
        guard let names else { return Set(allCases) }
        return try Set(
            names.map { name in
                guard let topic = Self(rawValue: name) else {
                    let known = allCases.map(\.rawValue).joined(separator: ", ")
                    throw HTTPError(.badRequest, message: "topics: unknown topic '\(name)'; known: \(known)")
                }
                return topic
            })
    }
}

extension LiveFeed.Filter {
    /// A subscription's filter, as the SSE query and the WebSocket `subscribe` message give it:
    /// source ids must name configured sources, `bbox` must be four degrees
    /// `[minLon, minLat, maxLon, maxLat]` (nil entries stand for what was not a number). Each
    /// refusal is a 400 naming the field.
    static func parse(
        source: [String]?, network: [String]?, line: [String]?, zone: [String]?, bbox: [Double?]?,
        catalog: SourceCatalog
    ) throws -> Self {
        for id in source ?? [] where catalog.source(id: id) == nil {
            throw HTTPError(.badRequest, message: "source: unknown source '\(id)'")
        }
        var filter = Self(
            sourceIDs: source.map(Set.init), networks: network.map(Set.init), lines: line.map(Set.init),
            zones: zone.map(Set.init))
        if let bbox {
            let numbers = bbox.compactMap { $0 }
            guard numbers.count == bbox.count, let box = box(numbers) else {
                throw HTTPError(
                    .badRequest,
                    message:
                        "bbox must be minLon,minLat,maxLon,maxLat (four degrees, min not above max), e.g. 2.25,48.81,2.42,48.90"
                )
            }
            filter.box = box
        }
        return filter
    }
}

extension LiveFeed {
    /// A subscription's topics and filter in one canonical string: two subscribers asking the same
    /// question have the same key, whatever the order they listed things in.
    static func subscriptionKey(topics: Set<Topic>, filter: Filter) -> String {
        func list(_ values: Set<String>?) -> String {
            values.map { $0.sorted().map { "\($0.utf8.count):\($0)" }.joined() } ?? "*"
        }
        let box = filter.box.map { "\($0.minLat),\($0.minLon),\($0.maxLat),\($0.maxLon)" } ?? "*"
        return [
            topics.map(\.rawValue).sorted().joined(separator: ","), list(filter.sourceIDs), list(filter.networks),
            list(filter.lines), list(filter.zones), box,
        ].joined(separator: "|")
    }
}
