import Synchronization

/// Decoded latest-tier blocks, keyed by source and by the random token written with each block.
/// A backend reads the token (a few bytes) and decodes the block only when the token changed, so
/// the API and the writers do not decode the same block again and again. A token is random, not a
/// counter, so a cached block from a rolled-back write can never match a later committed one,
/// whichever process wrote it.
public final class LatestStationCache: Sendable {
    private let entries = Mutex<[String: (token: Int64, stations: LatestStations)]>([:])

    public init() {}

    public func stations(sourceID: String, token: Int64) -> LatestStations? {
        entries.withLock { entries in
            guard let entry = entries[sourceID], entry.token == token else { return nil }
            return entry.stations
        }
    }

    /// Like `stations(sourceID:token:)`, but leaves the entry out of the cache, so a writer that
    /// changes the block and stores it back does not copy it.
    public func take(sourceID: String, token: Int64) -> LatestStations? {
        entries.withLock { entries in
            guard let entry = entries[sourceID], entry.token == token else { return nil }
            entries[sourceID] = nil
            return entry.stations
        }
    }

    /// The source's entry whatever its token, left out of the cache: for a writer that bets the
    /// block is still current and checks the token when it writes.
    public func takeAny(sourceID: String) -> (token: Int64, stations: LatestStations)? {
        entries.withLock { entries in entries.removeValue(forKey: sourceID) }
    }

    public func store(_ stations: LatestStations, sourceID: String, token: Int64) {
        entries.withLock { $0[sourceID] = (token, stations) }
    }

    public static func newToken() -> Int64 {
        Int64.random(in: Int64.min...Int64.max)
    }
}
