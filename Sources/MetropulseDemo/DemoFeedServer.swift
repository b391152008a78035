public import Hummingbird
public import Logging
public import MetropulseCore
import NIOCore

/// Serves the demo city's feeds over HTTP on a loopback port, like any publisher would.
public enum DemoFeedServer {
    /// An application serving `/gbfs/*.json`; bind port 0 for an ephemeral port.
    public static func application(
        city: DemoCity, endpoint: DemoEndpoint, port: Int = 0, clock: WallClock = .system, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/gbfs/gbfs.json") { request, _ in
            let host = request.head.authority ?? "127.0.0.1:\(endpoint.boundPort ?? port)"
            return city.discovery(baseURL: "http://\(host)/gbfs", nowMillis: clock.nowMillis)
        }
        router.get("/gbfs/system_information.json") { _, _ in city.systemInformation(nowMillis: clock.nowMillis) }
        router.get("/gbfs/station_information.json") { _, _ in city.stationInformation(nowMillis: clock.nowMillis) }
        router.get("/gbfs/station_status.json") { _, _ in city.stationStatus(nowMillis: clock.nowMillis) }
        router.get("/gbfs/vehicle_types.json") { _, _ in city.vehicleTypes(nowMillis: clock.nowMillis) }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "metropulse-demo"),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port {
                    endpoint.didBind(port: port)
                    logger.info("demo city feeds ready", metadata: ["url": "http://127.0.0.1:\(port)/gbfs/gbfs.json"])
                }
            },
            logger: logger)
    }
}
