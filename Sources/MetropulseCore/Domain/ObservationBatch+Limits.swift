/// Bounds on what one entity may carry into the store, enforced on every batch a connector
/// returns (whatever the format) before it is committed:
/// - an identifier the entity is stored under must be present, non-empty and short; an empty
///   optional identifier (a route, a trip, a code) is treated as absent;
/// - the instant an entity was observed must lie in `Timestamp.feedRange`; other instants
///   outside it are dropped;
/// - numbers must be finite and in range (coordinates, counts); text is cut at a length limit and
///   NUL characters (which PostgreSQL cannot store) are removed.
///
/// An entity that cannot be kept is rejected with the reason; nothing a feed sends can make a
/// commit fail or a later computation overflow.
extension ObservationBatch {
    public enum Limits {
        /// Longest identifier (station, stop, route, trip, vehicle, alert, zone, metric), in bytes.
        public static let identifierBytes = 256
        /// Longest short text (a name, a label, a status, a unit), in bytes.
        public static let textBytes = 1_024
        /// Longest long text (a disruption's header, details or link), in bytes.
        public static let longTextBytes = 32_768
        /// Counts (bikes, docks, capacity) and sequence numbers are at most this.
        public static let count = 1_000_000_000
        /// Periods and affected entities kept per disruption.
        public static let disruptionParts = 1_000
        /// A delay larger than a week is no delay.
        public static let delaySeconds = 7 * 86_400
    }

    /// Applies `Limits` in place and returns the entities removed, each with its reason.
    public mutating func enforceLimits() -> [Rejection] {
        var rejected: [Rejection] = []
        /// The entity's identifier when it and the entity's time are within limits.
        func kept(_ raw: String, _ kind: String, observedAt: Int64) -> String? {
            guard let id = Self.identifier(raw) else {
                rejected.append(Rejection(entity: Self.label(raw), reason: "\(kind) id is empty or too long"))
                return nil
            }
            guard Timestamp.feedRange.contains(observedAt) else {
                rejected.append(Rejection(entity: id, reason: "observed time \(observedAt) ms is out of range"))
                return nil
            }
            return id
        }
        stations = stations.compactMap { station in
            var s = station
            guard let id = kept(s.stationID, "station", observedAt: s.observedAt) else { return nil }
            s.stationID = id
            guard (0...Limits.count).contains(s.bikesAvailable) else {
                rejected.append(Rejection(entity: id, reason: "bikes available \(s.bikesAvailable) is out of range"))
                return nil
            }
            s.code = s.code.flatMap(Self.identifier)
            s.name = s.name.flatMap { Self.text($0, limit: Limits.textBytes) }
            (s.latitude, s.longitude) = Self.position(s.latitude, s.longitude)
            s.capacity = Self.count(s.capacity)
            s.mechanicalAvailable = Self.count(s.mechanicalAvailable)
            s.ebikesAvailable = Self.count(s.ebikesAvailable)
            s.docksAvailable = Self.count(s.docksAvailable)
            if s.docksAvailable != station.docksAvailable || s.capacity != station.capacity {
                s.occupancyRate = StationObservation.occupancy(
                    bikes: s.bikesAvailable, docks: s.docksAvailable, capacity: s.capacity)
            }
            if let rate = s.occupancyRate, !rate.isFinite { s.occupancyRate = nil }
            return s
        }
        stations = Self.firstOfEach(stations, id: \.stationID, rejected: &rejected)
        departures = departures.compactMap { departure in
            var d = departure
            guard let stop = kept(d.stopID, "stop", observedAt: d.observedAt) else { return nil }
            d.stopID = stop
            d.routeID = d.routeID.flatMap(Self.identifier)
            d.tripID = d.tripID.flatMap(Self.identifier)
            d.vehicleID = d.vehicleID.flatMap(Self.identifier)
            d.scheduledAt = d.scheduledAt.flatMap(Self.instant)
            d.expectedAt = d.expectedAt.flatMap(Self.instant)
            d.delaySeconds = d.delaySeconds.flatMap { abs($0) <= Limits.delaySeconds ? $0 : nil }
            d.stopSequence = Self.count(d.stopSequence)
            d.directionID = Self.count(d.directionID)
            d.relationship = Self.text(d.relationship, limit: Limits.textBytes) ?? "scheduled"
            return d
        }
        vehicles = vehicles.compactMap { vehicle in
            var v = vehicle
            guard let id = kept(v.vehicleID, "vehicle", observedAt: v.observedAt) else { return nil }
            v.vehicleID = id
            let (latitude, longitude) = Self.position(v.latitude, v.longitude)
            guard let latitude, let longitude else {
                rejected.append(Rejection(entity: id, reason: "position is not a valid latitude and longitude"))
                return nil
            }
            (v.latitude, v.longitude) = (latitude, longitude)
            v.label = v.label.flatMap { Self.text($0, limit: Limits.textBytes) }
            v.routeID = v.routeID.flatMap(Self.identifier)
            v.tripID = v.tripID.flatMap(Self.identifier)
            v.stopID = v.stopID.flatMap(Self.identifier)
            v.currentStatus = v.currentStatus.flatMap { Self.text($0, limit: Limits.textBytes) }
            v.bearing = v.bearing.flatMap { $0.isFinite ? $0 : nil }
            v.speed = v.speed.flatMap { $0.isFinite ? $0 : nil }
            return v
        }
        vehicles = Self.firstOfEach(vehicles, id: \.vehicleID, rejected: &rejected)
        disruptions = disruptions.compactMap { disruption in
            var d = disruption
            guard let id = kept(d.id, "disruption", observedAt: d.observedAt) else { return nil }
            d.id = id
            d.cause = d.cause.flatMap { Self.text($0, limit: Limits.textBytes) }
            d.effect = d.effect.flatMap { Self.text($0, limit: Limits.textBytes) }
            d.severity = d.severity.flatMap { Self.text($0, limit: Limits.textBytes) }
            d.header = d.header.flatMap { Self.text($0, limit: Limits.longTextBytes) }
            d.details = d.details.flatMap { Self.text($0, limit: Limits.longTextBytes) }
            d.url = d.url.flatMap { Self.text($0, limit: Limits.longTextBytes) }
            d.periods = d.periods.prefix(Limits.disruptionParts).map {
                Disruption.Period(start: $0.start.flatMap(Self.instant), end: $0.end.flatMap(Self.instant))
            }
            d.entities = d.entities.prefix(Limits.disruptionParts).compactMap {
                let entity = Disruption.Entity(
                    agencyID: $0.agencyID.flatMap(Self.identifier), routeID: $0.routeID.flatMap(Self.identifier),
                    stopID: $0.stopID.flatMap(Self.identifier), tripID: $0.tripID.flatMap(Self.identifier))
                return entity == Disruption.Entity() ? nil : entity
            }
            return d
        }
        measurements = measurements.compactMap { measurement in
            var m = measurement
            guard let zone = Self.identifier(m.zone), let metric = Self.identifier(m.metric) else {
                rejected.append(
                    Rejection(
                        entity: Self.label("\(m.zone)/\(m.metric)"), reason: "zone or metric is empty or too long"))
                return nil
            }
            (m.zone, m.metric) = (zone, metric)
            guard m.value.isFinite else {
                rejected.append(Rejection(entity: "\(zone)/\(metric)", reason: "value is not a finite number"))
                return nil
            }
            guard Timestamp.feedRange.contains(m.observedAt) else {
                rejected.append(
                    Rejection(entity: "\(zone)/\(metric)", reason: "observed time \(m.observedAt) ms is out of range"))
                return nil
            }
            m.unit = m.unit.flatMap { Self.text($0, limit: Limits.textBytes) }
            if let location = m.location {
                let (latitude, longitude) = Self.position(location.latitude, location.longitude)
                m.location = latitude.flatMap { latitude in
                    longitude.map { GeoPoint(latitude: latitude, longitude: $0) }
                }
            }
            return m
        }
        if let observed = transitObservedAt, !Timestamp.feedRange.contains(observed) { transitObservedAt = nil }
        return rejected
    }

    /// A document listing an entity twice: the first is kept, the others are duplicates.
    private static func firstOfEach<T>(_ items: [T], id: (T) -> String, rejected: inout [Rejection]) -> [T] {
        var seen = Set<String>()
        seen.reserveCapacity(items.count)
        return items.filter { item in
            if seen.insert(id(item)).inserted { return true }
            rejected.append(Rejection(entity: id(item), reason: Rejection.duplicateReason))
            return false
        }
    }

    /// A non-empty identifier within the length limit, NUL characters removed; nil otherwise.
    static func identifier(_ text: String) -> String? {
        let cleaned = withoutNUL(text)
        guard !cleaned.isEmpty, cleaned.utf8.count <= Limits.identifierBytes else { return nil }
        return cleaned
    }

    /// Text without NUL characters, cut on a character boundary at `limit` bytes; nil when empty.
    static func text(_ text: String, limit: Int) -> String? {
        var cleaned = withoutNUL(text)
        if cleaned.utf8.count > limit {
            var bytes = 0
            var end = cleaned.startIndex
            for index in cleaned.indices {
                let next = bytes + cleaned[index].utf8.count
                if next > limit { break }
                bytes = next
                end = cleaned.index(after: index)
            }
            cleaned = String(cleaned[..<end])
        }
        return cleaned.isEmpty ? nil : cleaned
    }

    private static func withoutNUL(_ text: String) -> String {
        text.utf8.contains(0) ? String(text.unicodeScalars.filter { $0 != "\0" }.map(Character.init)) : text
    }

    /// What to call an entity whose identifier was refused, in a rejection.
    private static func label(_ text: String) -> String {
        text.isEmpty ? "(empty id)" : String((withoutNUL(text)).prefix(64))
    }

    private static func instant(_ millis: Int64) -> Int64? { Timestamp.feedRange.contains(millis) ? millis : nil }

    private static func count(_ value: Int?) -> Int? { value.flatMap { (0...Limits.count).contains($0) ? $0 : nil } }

    /// Both coordinates when both are finite and in range; otherwise neither.
    private static func position(_ latitude: Double?, _ longitude: Double?) -> (Double?, Double?) {
        guard let latitude, let longitude, latitude.isFinite, longitude.isFinite, (-90...90).contains(latitude),
            (-180...180).contains(longitude)
        else { return (nil, nil) }
        return (latitude, longitude)
    }
}
