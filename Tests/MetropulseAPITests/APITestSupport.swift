import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MetropulseConnectors
import MetropulseCore
import MetropulseSQLite
import NIOCore
import Testing

@testable import MetropulseAPI

/// An API over a real SQLite store in a folder of its own, with a fixed clock; requests go to
/// the router in process (HummingbirdTesting's `.router`), answers are decoded into the API's
/// own response types.
struct TestAPI: Sendable {
    static let now: Int64 = 1_764_070_800_000
    static let adminKey = "test-admin-key"
    static let readKey = "test-read-key"

    let store: SQLiteBackend
    var environment: APIEnvironment
    let folder: URL

    init(sources: [SourceDefinition], cities: [City] = []) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mp-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = try SQLiteBackend(path: folder.appendingPathComponent("api.sqlite").path)
        environment = APIEnvironment(
            store: store, queue: store, bus: InProcessControlBus(), catalog: SourceCatalog(sources, cities: cities),
            runNow: nil, clock: WallClock { Self.now }, adminKey: Self.adminKey,
            keys: [APIKey(name: "viewer", scope: .read, secret: Self.readKey)],
            connectors: StandardConnectors.descriptions,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    func close() {
        try? store.close()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Stores `batch` as the observations of one successful run of `source`.
    func write(_ batch: ObservationBatch, source: String, at time: Int64 = now - 1_000) async throws {
        let id = "\(source)@\(time)"
        try await store.write([
            RunResult(
                run: TaskRun(
                    id: id, jobID: id, taskID: nil, sourceID: source, attempt: 1, workerID: "w", status: .succeeded,
                    startedAt: time - 5, finishedAt: time, entityCount: batch.count),
                observations: batch, outcome: nil)
        ])
    }

    /// Runs `body` with a client of the API's router.
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: buildRouter(environment))
        try await app.test(.router, body)
    }
}

/// The API's JSON, read back: snake_case keys.
let apiDecoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return decoder
}()

extension TestClientProtocol {
    /// GETs `uri`, expects `status`, and decodes the body as `T`.
    func get<T: Decodable>(
        _ uri: String, as type: T.Type, status: HTTPResponse.Status = .ok,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> T {
        var headers = HTTPFields()
        headers[.init("X-API-Key")!] = TestAPI.readKey
        return try await execute(uri: uri, method: .get, headers: headers) { response in
            #expect(response.status == status, "GET \(uri)", sourceLocation: sourceLocation)
            return try apiDecoder.decode(T.self, from: Data(response.body.readableBytesView))
        }
    }
}

/// The error shape every 4xx and 5xx answer has.
struct ErrorBody: Decodable {
    struct Detail: Decodable {
        var message: String
    }

    var error: Detail
}
