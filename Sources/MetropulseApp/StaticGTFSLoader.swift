import Foundation
public import Logging
public import MetropulseConnectors
public import MetropulseCore
public import ServiceLifecycle

/// Loads the static GTFS of every source that names one (`static_gtfs`) into a `TransitNameBook`,
/// at start and then once a day; a failed load is tried again after `retryMillis` and its reason
/// kept for `/api/sources`. A source whose `static_gtfs` changes (configuration reload) is loaded
/// again at the next check.
public struct StaticGTFSLoader: Service {
    public var catalog: SourceCatalog
    public var book: TransitNameBook
    public var http: FeedHTTPClient
    public var clock: WallClock
    public var logger: Logger
    public var refreshMillis: Int64
    public var retryMillis: Int64
    public var checkEveryMillis: Int64

    public init(
        catalog: SourceCatalog, book: TransitNameBook, http: FeedHTTPClient, clock: WallClock = .system,
        logger: Logger, refreshMillis: Int64 = 86_400_000, retryMillis: Int64 = 300_000,
        checkEveryMillis: Int64 = 10_000
    ) {
        self.catalog = catalog
        self.book = book
        self.http = http
        self.clock = clock
        self.logger = logger
        self.refreshMillis = refreshMillis
        self.retryMillis = retryMillis
        self.checkEveryMillis = checkEveryMillis
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await loadDue()
                try? await Task.sleep(for: .milliseconds(checkEveryMillis))
            }
        }
    }

    /// The largest static GTFS zip downloaded.
    static let maxZipBytes = 256 << 20

    /// Loads every static GTFS that is new, changed, due for its daily refresh or its retry.
    /// Sources naming the same zip (a publisher's trip, vehicle and alert feeds) share one download
    /// and one parse.
    public func loadDue() async {
        let now = clock.nowMillis
        var due: [(location: String, sources: [SourceDefinition])] = []
        for source in catalog.all {
            guard let location = source.staticGTFS else { continue }
            if let entry = book.entry(source.id), entry.location == location {
                let wait = entry.lastError == nil ? refreshMillis : retryMillis
                if let last = entry.lastAttemptAt, now - last < wait { continue }
            }
            if let index = due.firstIndex(where: { $0.location == location }) {
                due[index].sources.append(source)
            } else {
                due.append((location, [source]))
            }
        }
        for (location, sources) in due { await load(location, for: sources, now: now) }
    }

    private func load(_ location: String, for sources: [SourceDefinition], now: Int64) async {
        let ids = sources.map(\.id).joined(separator: ",")
        var names: TransitNames?
        var failure: String?
        do {
            let bytes: [UInt8]
            if location.contains("://") || location.hasPrefix("demo:") {
                let timeout = max(sources.map(\.timeoutMillis).max() ?? 0, 60_000)
                // A zip is larger than a real-time document: up to 256 MB on the wire, whatever
                // the sources' body limit; its extraction is bounded by GTFSStaticParser.Limits.
                var limits = sources.first?.limits ?? FetchLimits()
                limits.maxBodyBytes = max(limits.maxBodyBytes, Self.maxZipBytes)
                limits.maxDecompressedBytes = max(limits.maxDecompressedBytes, Self.maxZipBytes)
                bytes = try await http.get(location, timeoutMillis: timeout, limits: limits).body
            } else {
                bytes = Array(try Data(contentsOf: URL(fileURLWithPath: location)))
            }
            names = try GTFSStaticParser.parse(bytes)
        } catch {
            failure = (error as? FetchError)?.message ?? "\(error)"
        }
        for source in sources {
            book.update(source.id) { entry in
                if entry?.location != location { entry = TransitNameBook.Entry(location: location) }
                entry!.lastAttemptAt = now
                entry!.lastError = failure
                if let names {
                    entry!.names = names
                    entry!.loadedAt = now
                }
            }
        }
        if let names {
            logger.info(
                "static GTFS loaded",
                metadata: ["sources": "\(ids)", "stops": "\(names.stops.count)", "routes": "\(names.routes.count)"])
        } else {
            logger.warning(
                "static GTFS not loaded; names keep their last version",
                metadata: ["sources": "\(ids)", "location": "\(location)", "error": "\(failure ?? "")"])
        }
    }
}
