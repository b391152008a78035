import Hummingbird
import Logging
import MetropulseCore
import MetropulseDemo
import NIOCore

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
