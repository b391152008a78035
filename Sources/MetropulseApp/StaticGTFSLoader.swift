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

    /// Loads every static GTFS that is new, changed, due for its daily refresh or its retry.
    public func loadDue() async {
        for source in catalog.all {
            guard let location = source.staticGTFS else { continue }
            let now = clock.nowMillis
            let entry = book.entry(source.id)
            if let entry, entry.location == location {
                let wait = entry.lastError == nil ? refreshMillis : retryMillis
                if let last = entry.lastAttemptAt, now - last < wait { continue }
            }
            await load(source: source, location: location, now: now)
        }
    }

    private func load(source: SourceDefinition, location: String, now: Int64) async {
        do {
            let bytes: [UInt8]
            if location.contains("://") || location.hasPrefix("demo:") {
                bytes = try await http.get(location, timeoutMillis: max(source.timeoutMillis, 60_000)).body
            } else {
                bytes = Array(try Data(contentsOf: URL(fileURLWithPath: location)))
            }
            let names = try GTFSStaticParser.parse(bytes)
            book.update(source.id) { entry in
                var updated = entry?.location == location ? entry! : TransitNameBook.Entry(location: location)
                updated.names = names
                updated.loadedAt = now
                updated.lastAttemptAt = now
                updated.lastError = nil
                entry = updated
            }
            logger.info(
                "static GTFS loaded",
                metadata: [
                    "source": "\(source.id)", "stops": "\(names.stops.count)", "routes": "\(names.routes.count)",
                ])
        } catch {
            let reason = (error as? FetchError)?.message ?? "\(error)"
            book.update(source.id) { entry in
                var updated = entry?.location == location ? entry! : TransitNameBook.Entry(location: location)
                updated.lastAttemptAt = now
                updated.lastError = reason
                entry = updated
            }
            logger.warning(
                "static GTFS not loaded; names keep their last version",
                metadata: ["source": "\(source.id)", "location": "\(location)", "error": "\(reason)"])
        }
    }
}
