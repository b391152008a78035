import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import MetropulseCore
import MetropulseDemo
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// The drill's publisher: the demo city's GBFS system and metro trip updates on a loopback port.
/// The bikes move ten times faster than the demo's and the status has no `ttl`, so every poll
/// brings a new snapshot to write. Also the publisher of `bench scale` (a few stations a feed).
enum DrillFeeds {
    static func application(
        stations: Int = 300, logger: Logger, onBound: @escaping @Sendable (Int) -> Void
    ) -> some ApplicationProtocol {
        let city = DemoCity(stationCount: stations)
        let transit = DemoTransit()
        let origin = WallClock.system.nowMillis
        let fast = WallClock { origin + (WallClock.system.nowMillis - origin) * 10 }
        let router = Router()
        router.get("/gbfs/gbfs.json") { request, _ in
            city.discovery(baseURL: "http://\(request.head.authority ?? "127.0.0.1")/gbfs", nowMillis: origin)
        }
        router.get("/gbfs/system_information.json") { _, _ in city.systemInformation(nowMillis: origin) }
        router.get("/gbfs/station_information.json") { _, _ in city.stationInformation(nowMillis: origin) }
        router.get("/gbfs/vehicle_types.json") { _, _ in city.vehicleTypes(nowMillis: origin) }
        router.get("/gbfs/station_status.json") { _, _ in
            var status = city.stationStatus(nowMillis: fast.nowMillis)
            status.ttl = 0
            return status
        }
        router.get("/gtfs-rt/trip-updates.pb") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/x-protobuf"],
                body: .init(byteBuffer: ByteBuffer(bytes: transit.tripUpdates(nowMillis: WallClock.system.nowMillis))))
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

extension DrillFeeds {
    /// Starts the feed server (it logs nothing: its end is the caller's doing) and returns its
    /// port and the task to cancel when done.
    static func start(stations: Int = 300, logger: Logger) async throws -> (port: Int, server: Task<Void, any Error>) {
        var quiet = logger
        quiet.logLevel = .critical
        let port = FeedPort()
        let server = Task { [quiet] in
            try await application(stations: stations, logger: quiet) { port.bound($0) }
                .runService(gracefulShutdownSignals: [])
        }
        do {
            return (try await port.wait(), server)
        } catch {
            server.cancel()
            throw error
        }
    }

    /// A fresh folder under `directory` for a drill's or a benchmark's files.
    static func folder(in directory: String, prefix: String) throws -> String {
        let folder = directory + "/\(prefix)-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The status of a GET on loopback (the body read and dropped).
    static func status(_ url: String) async throws -> Int {
        let response = try await HTTPClient.shared.execute(BenchAPIKey.request(url), timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 64 << 20)
        return Int(response.status.code)
    }
}

/// The port a feed server bound, once it has.
final class FeedPort: Sendable {
    private let port = Mutex<Int?>(nil)

    func bound(_ port: Int) { self.port.withLock { $0 = port } }

    func wait() async throws -> Int {
        for _ in 0..<500 {
            if let port = port.withLock({ $0 }) { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw DrillFailure("the feed server did not start")
    }
}
