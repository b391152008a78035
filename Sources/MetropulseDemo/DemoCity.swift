import Foundation

/// The built-in demo city's bike-share system: ~300 stations whose availability is a pure function
/// of time, so every process (and every test) serving the demo sees the same city.
///
/// Residential stations empty in the morning rush and refill in the evening; business stations do
/// the opposite; slow per-station noise and clamping give empty and full stations; a few stations
/// close or go out of service for an hour at a time.
public struct DemoCity: Sendable {
    public struct Station: Sendable {
        public var id: String
        public var name: String
        public var latitude: Double
        public var longitude: Double
        public var capacity: Int
        public var profile: Profile
        /// Share of the station's bikes that are electric.
        var ebikeShare: Double
        var noisePhases: (Double, Double, Double)
    }

    public enum Profile: String, Sendable {
        case residential
        case business
        case mixed
    }

    public struct Availability: Sendable, Equatable {
        public var mechanical: Int
        public var ebike: Int
        public var docks: Int
        public var isInstalled: Bool
        public var isRenting: Bool
        public var isReturning: Bool
        public var bikes: Int { mechanical + ebike }
    }

    public static let center = (latitude: 48.8566, longitude: 2.3522)
    /// Seconds between two states of the city; also the feed's `ttl`.
    public static let stepSeconds: Int64 = 10
    /// Offset of the city's local time from UTC, in hours.
    public static let utcOffsetHours = 1.0

    public let stations: [Station]

    public init(stationCount: Int = 300, seed: UInt64 = 42) {
        var random = SplitMix64(seed: seed)
        let streets = [
            "Gare", "Marché", "Mairie", "Parc", "Université", "Hôpital", "Port", "Lycée", "Stade", "Opéra", "Canal",
            "Musée", "Théâtre", "Bibliothèque", "Pont", "Église", "Cité", "Halles", "Jardin", "Château",
        ]
        let places = [
            "Nord", "Sud", "Est", "Ouest", "Centre", "Haut", "Bas", "Vieux", "Neuf", "Grand", "Petit", "Saint-Jean",
            "Les Lilas", "Belleville", "Bellevue",
        ]
        var stations: [Station] = []
        for index in 0..<stationCount {
            let angle = random.nextDouble() * 2 * Double.pi
            let distanceKm = 7.0 * random.nextDouble().squareRoot()
            let latitude = Self.center.latitude + distanceKm / 111.32 * cos(angle)
            let longitude =
                Self.center.longitude + distanceKm / (111.32 * cos(Self.center.latitude * .pi / 180)) * sin(angle)
            let profile: Profile = distanceKm < 2.2 ? .business : (distanceKm > 4 ? .residential : .mixed)
            let name = "\(streets[index % streets.count]) - \(places[(index / streets.count) % places.count])"
            stations.append(
                Station(
                    id: String(10_000 + index * 7), name: name, latitude: latitude, longitude: longitude,
                    capacity: 12 + Int(random.next() % 29), profile: profile,
                    ebikeShare: 0.25 + random.nextDouble() * 0.35,
                    noisePhases: (random.nextDouble() * 6.283, random.nextDouble() * 6.283, random.nextDouble() * 6.283)
                ))
        }
        self.stations = stations
    }

    /// The step containing `millis`, as its start in seconds.
    public static func stepStart(_ millis: Int64) -> Int64 {
        let seconds = millis / 1000
        return seconds - seconds % stepSeconds
    }

    /// A station's state during the step starting at `stepSeconds` (epoch seconds).
    public func availability(of station: Station, atStep step: Int64) -> Availability {
        let index = Int(station.id)!
        let hour = Double((step + Int64(Self.utcOffsetHours * 3600)) % 86_400) / 3600
        let outage = Self.hash(UInt64(index), UInt64(step / 3600))
        let isInstalled = outage % 97 != 0
        let closed = outage % 61 == 0
        let t = Double(step)
        let noise =
            0.10 * sin(t / 420 + station.noisePhases.0) + 0.06 * sin(t / 1130 + station.noisePhases.1)
            + 0.04 * sin(t / 97 + station.noisePhases.2)
        let fill = max(0, min(1, Self.baseFill(station.profile, hour: hour) + noise))
        let disabled = Int(Self.hash(UInt64(index), 7) % 3)
        let usable = station.capacity - disabled
        let bikes = isInstalled ? Int((Double(usable) * fill).rounded()) : 0
        let ebike = Int((Double(bikes) * station.ebikeShare).rounded())
        return Availability(
            mechanical: bikes - ebike, ebike: ebike, docks: isInstalled ? usable - bikes : 0,
            isInstalled: isInstalled, isRenting: isInstalled && !closed, isReturning: isInstalled && !closed)
    }

    /// The start (epoch seconds) of the step in which the station last changed, looking back up to
    /// 30 steps.
    public func lastReported(_ station: Station, atStep step: Int64) -> Int64 {
        var current = availability(of: station, atStep: step)
        var candidate = step
        for _ in 0..<30 {
            let previous = availability(of: station, atStep: candidate - Self.stepSeconds)
            if previous != current { return candidate }
            current = previous
            candidate -= Self.stepSeconds
        }
        return candidate
    }

    /// Expected share of docks holding a bike at a local hour, by station profile.
    static func baseFill(_ profile: Profile, hour: Double) -> Double {
        func bump(_ center: Double, _ width: Double) -> Double {
            let d = (hour - center) / width
            return exp(-d * d)
        }
        switch profile {
        case .residential:
            return 0.75 - 0.65 * bump(8.5, 1.6) - 0.3 * bump(13, 3) + 0.1 * bump(19, 1.5)
        case .business:
            return 0.2 + 0.75 * bump(10, 2.2) + 0.4 * bump(14, 2.5) - 0.1 * bump(19, 1.5)
        case .mixed:
            return 0.5 + 0.15 * bump(12, 3) - 0.15 * bump(18, 1.5)
        }
    }

    static func hash(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var generator = SplitMix64(seed: a &* 0x9E37_79B9_7F4A_7C15 ^ b)
        return generator.next()
    }
}

/// A small deterministic generator (SplitMix64), so the demo city is the same everywhere (and a
/// test's random inputs the same on every run).
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nextDouble() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }
}
