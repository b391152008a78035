import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MetropulseAPI
import MetropulseConnectors
import MetropulseCore
import MetropulseSQLite
import NIOCore
import Synchronization
import Testing

@testable import MetropulseWeb

/// The pages and the API over a real SQLite store in a folder of their own, with a clock the test
/// moves; requests go to the router in process.
final class TestSite: Sendable {
    static let start: Int64 = 1_764_070_800_000
    static let adminKey = "test-admin-key"
    static let readKey = "test-read-key"
    static let siteFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/MetropulseWeb/Site").standardized.path

    let store: SQLiteBackend
    let environment: APIEnvironment
    let site: WebSite
    let folder: URL
    let clock: ManualClock

    final class ManualClock: Sendable {
        private let value = Mutex(TestSite.start)
        var now: Int64 { value.withLock { $0 } }
        func advance(_ millis: Int64) { value.withLock { $0 += millis } }
    }

    init(sources: [SourceDefinition], cities: [City] = [], adminKey: String? = TestSite.adminKey) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mp-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = try SQLiteBackend(path: folder.appendingPathComponent("web.sqlite").path)
        let clock = ManualClock()
        self.clock = clock
        environment = APIEnvironment(
            store: store, queue: store, bus: InProcessControlBus(), catalog: SourceCatalog(sources, cities: cities),
            runNow: nil, clock: WallClock { clock.now }, adminKey: adminKey,
            keys: [APIKey(name: "viewer", scope: .read, secret: TestSite.readKey)],
            connectors: StandardConnectors.descriptions,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        site = try WebSite.load(
            WebSettings(tileURL: "", siteDirectory: Self.siteFolder),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    deinit {
        try? store.close()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Stores `batch` as the observations of one successful run of `source`.
    func write(_ batch: ObservationBatch, source: String, at time: Int64? = nil, url: String? = nil) async throws {
        let time = time ?? clock.now - 1_000
        let id = "\(source)@\(time)"
        try await store.write([
            RunResult(
                run: TaskRun(
                    id: id, jobID: id, taskID: nil, sourceID: source, attempt: 1, workerID: "w", status: .succeeded,
                    startedAt: time - 5, finishedAt: time, url: url, entityCount: batch.count),
                observations: batch, outcome: nil)
        ])
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let pages = WebPages(site: site, environment: environment)
        let app = Application(router: buildRouter(environment, site: { pages.addRoutes(to: $0) }))
        try await app.test(.router, body)
    }

    static func station(_ id: String, bikes: Int, docks: Int? = nil, at: Int64) -> StationObservation {
        StationObservation(
            sourceID: "velib", stationID: id, name: "Station \(id)", latitude: 48.85, longitude: 2.35, capacity: 20,
            bikesAvailable: bikes, docksAvailable: docks ?? (20 - bikes), isInstalled: true, isRenting: true,
            isReturning: true, observedAt: at)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func header(_ name: String) -> String? { headers[.init(name)!] }
}
