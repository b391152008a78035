import Synchronization

/// The static GTFS of each source that has one, as last loaded, and how loading went.
public final class TransitNameBook: Sendable {
    /// One source's static GTFS: the names once loaded, and the last attempt.
    public struct Entry: Sendable {
        public var location: String
        public var names: TransitNames?
        /// When `names` were loaded, epoch ms.
        public var loadedAt: Int64?
        public var lastAttemptAt: Int64?
        public var lastError: String?

        public init(location: String) {
            self.location = location
        }
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    public func entry(_ sourceID: String) -> Entry? {
        entries.withLock { $0[sourceID] }
    }

    public func update(_ sourceID: String, _ change: (inout Entry?) -> Void) {
        entries.withLock { change(&$0[sourceID]) }
    }

    public func stopName(source sourceID: String, stop stopID: String) -> String? {
        entries.withLock { $0[sourceID]?.names?.stops[stopID]?.name }
    }

    public func route(source sourceID: String, route routeID: String?) -> TransitNames.Route? {
        guard let routeID else { return nil }
        return entries.withLock { $0[sourceID]?.names?.routes[routeID] }
    }

    /// The stop's name from the first of these sources whose static GTFS knows it.
    public func stopName(sources: [String], stop stopID: String) -> String? {
        sources.lazy.compactMap { self.stopName(source: $0, stop: stopID) }.first
    }

    /// The route from the first of these sources whose static GTFS knows it.
    public func route(sources: [String], route routeID: String) -> TransitNames.Route? {
        sources.lazy.compactMap { self.route(source: $0, route: routeID) }.first
    }
}
