/// One reading of a city sensor or model for a zone: weather, air quality, traffic, power demand.
public struct CityMeasurement: Sendable, Hashable, Codable {
    public var sourceID: String
    /// The zone of the city it describes (the source's `zone` tag).
    public var zone: String
    /// The variable as the publisher names it (`temperature_2m`, `pm25`, ...).
    public var metric: String
    public var value: Double
    public var unit: String?
    /// The publisher's time for the value, epoch ms.
    public var observedAt: Int64
    /// Where the reading was taken, when the feed says: used to attach it to a declared zone of
    /// its city, not stored.
    public var location: GeoPoint?

    public init(
        sourceID: String, zone: String, metric: String, value: Double, unit: String?, observedAt: Int64,
        location: GeoPoint? = nil
    ) {
        self.sourceID = sourceID
        self.zone = zone
        self.metric = metric
        self.value = value
        self.unit = unit
        self.observedAt = observedAt
        self.location = location
    }
}
