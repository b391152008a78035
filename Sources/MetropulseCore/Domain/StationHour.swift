/// One station's hour (or day: `StationDays`) in the gold tier: its counts over the observations
/// of the period, how long it was empty, full or closed, and how many bikes were taken and
/// returned.
public struct StationHour: Sendable, Hashable, Codable {
    public var sourceID: String
    public var stationID: String
    /// The period's start, epoch ms (UTC): the hour's, or the day's for a daily row.
    public var hour: Int64
    /// Observations whose feed time falls in the hour.
    public var observations: Int
    public var bikesMean: Double
    public var bikesMin: Int
    public var bikesMax: Int
    /// Nil when no observation of the hour gave the count.
    public var ebikesMean: Double?
    public var ebikesMin: Int?
    public var ebikesMax: Int?
    public var docksMean: Double?
    public var docksMin: Int?
    public var docksMax: Int?
    /// Mean of bikes over usable places (bikes + free docks), 0...1.
    public var occupancyMean: Double?
    /// Minutes of the hour in service with no bike, with no free dock, and not in service; each
    /// observation's state counts until the next one, for at most `StationHours.maxHoldMillis`.
    public var minutesEmpty: Double
    public var minutesFull: Double
    public var minutesClosed: Double
    /// Bikes taken and returned: the falls and rises of the bike count between successive
    /// observations of the period at most `StationHours.maxHoldMillis` apart.
    public var bikesTaken: Int
    public var bikesReturned: Int

    public init(
        sourceID: String, stationID: String, hour: Int64, observations: Int, bikesMean: Double, bikesMin: Int,
        bikesMax: Int, ebikesMean: Double? = nil, ebikesMin: Int? = nil, ebikesMax: Int? = nil,
        docksMean: Double? = nil, docksMin: Int? = nil, docksMax: Int? = nil, occupancyMean: Double? = nil,
        minutesEmpty: Double = 0, minutesFull: Double = 0, minutesClosed: Double = 0, bikesTaken: Int = 0,
        bikesReturned: Int = 0
    ) {
        self.sourceID = sourceID
        self.stationID = stationID
        self.hour = hour
        self.observations = observations
        self.bikesMean = bikesMean
        self.bikesMin = bikesMin
        self.bikesMax = bikesMax
        self.ebikesMean = ebikesMean
        self.ebikesMin = ebikesMin
        self.ebikesMax = ebikesMax
        self.docksMean = docksMean
        self.docksMin = docksMin
        self.docksMax = docksMax
        self.occupancyMean = occupancyMean
        self.minutesEmpty = minutesEmpty
        self.minutesFull = minutesFull
        self.minutesClosed = minutesClosed
        self.bikesTaken = bikesTaken
        self.bikesReturned = bikesReturned
    }
}
