/// What a source's static GTFS says about the ids its real-time feed uses: stop names and places,
/// route names. The API names stops and lines with it.
public struct TransitNames: Sendable, Hashable {
    public struct Stop: Sendable, Hashable {
        public var name: String
        public var latitude: Double?
        public var longitude: Double?

        public init(name: String, latitude: Double? = nil, longitude: Double? = nil) {
            self.name = name
            self.latitude = latitude
            self.longitude = longitude
        }
    }

    public struct Route: Sendable, Hashable {
        public var shortName: String?
        public var longName: String?
        /// GTFS `route_type` (0 tram, 1 metro, 2 rail, 3 bus, …).
        public var type: Int?
        /// `RRGGBB`, as in the feed.
        public var color: String?

        public init(shortName: String? = nil, longName: String? = nil, type: Int? = nil, color: String? = nil) {
            self.shortName = shortName
            self.longName = longName
            self.type = type
            self.color = color
        }

        /// The short name riders know, else the long name.
        public var name: String? { shortName ?? longName }
    }

    public var agencies: [String]
    public var stops: [String: Stop]
    public var routes: [String: Route]

    public init(agencies: [String] = [], stops: [String: Stop] = [:], routes: [String: Route] = [:]) {
        self.agencies = agencies
        self.stops = stops
        self.routes = routes
    }
}
