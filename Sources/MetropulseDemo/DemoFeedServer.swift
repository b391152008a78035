public import Hummingbird
public import Logging
import MetropulseConnectors
public import MetropulseCore
import NIOCore

/// Serves the demo city's feeds over HTTP on a loopback port, like any publisher would.
public enum DemoFeedServer {
    /// An application serving `/gbfs/*.json` (bike share), `/gtfs-rt/*.pb` (the metro and bus
    /// network's trip updates, vehicle positions and alerts) and `/siri/*.json` (SIRI-Lite stop
    /// monitoring `?MonitoringRef=S05` and general message), `/open-meteo/v1/{forecast,air-quality}`
    /// (sensor readings per point, Open-Meteo's shape), `/eia/v2/...` (hourly power demand per
    /// zone, EIA's shape), `/311/resource/demo-311.json` (311 requests, Socrata's) and
    /// `/here/traffic/6.2/flow.json` (road speeds, HERE's); bind port 0 for an ephemeral port.
    public static func application(
        city: DemoCity, transit: DemoTransit = DemoTransit(), endpoint: DemoEndpoint, port: Int = 0,
        clock: WallClock = .system, incidents: DemoIncidents? = nil, logger: Logger
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
        @Sendable func protobuf(_ bytes: [UInt8]) -> Response {
            Response(
                status: .ok, headers: [.contentType: "application/x-protobuf"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/gtfs-rt/trip-updates.pb") { _, _ in protobuf(transit.tripUpdates(nowMillis: clock.nowMillis)) }
        router.get("/gtfs-rt/vehicle-positions.pb") { _, _ in
            protobuf(transit.vehiclePositions(nowMillis: clock.nowMillis))
        }
        router.get("/gtfs-rt/alerts.pb") { _, _ in protobuf(transit.alertFeed(nowMillis: clock.nowMillis)) }
        // The static GTFS does not change with time: written once.
        let staticGTFS = (try? GTFSStaticWriter.zip(transit.staticNames)) ?? []
        router.get("/gtfs/static.zip") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/zip"],
                body: .init(byteBuffer: ByteBuffer(bytes: staticGTFS)))
        }
        @Sendable func json(_ bytes: [UInt8]) -> Response {
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/siri/stop-monitoring.json") { request, _ -> Response in
            guard let stop = request.uri.queryParameters.get("MonitoringRef") else {
                return Response(status: .badRequest)
            }
            return json(transit.stopMonitoring(stop: stop, nowMillis: clock.nowMillis))
        }
        router.get("/siri/general-message.json") { _, _ in json(transit.generalMessage(nowMillis: clock.nowMillis)) }
        @Sendable func openMeteo(_ request: Request) -> Response {
            let query = request.uri.queryParameters
            guard let latitude = query.get("latitude").flatMap(Double.init),
                let longitude = query.get("longitude").flatMap(Double.init)
            else {
                return Response(
                    status: .badRequest,
                    body: .init(
                        byteBuffer: ByteBuffer(
                            string: #"{"error": true, "reason": "latitude and longitude are required"}"#)))
            }
            let variables = (query.get("current") ?? "").split(separator: ",").map(String.init)
            return json(
                DemoWeather.current(
                    latitude: latitude, longitude: longitude, variables: variables, nowMillis: clock.nowMillis,
                    incidents: incidents))
        }
        router.get("/open-meteo/v1/forecast") { request, _ in openMeteo(request) }
        router.get("/open-meteo/v1/air-quality") { request, _ in openMeteo(request) }
        router.get("/eia/v2/electricity/rto/region-data/data/") { request, _ in
            let query = request.uri.queryParameters
            return json(
                DemoCityAPIs.eia(
                    nowMillis: clock.nowMillis, respondents: query.getAll("facets[respondent][]").map { String($0) },
                    length: query.get("length").flatMap { Int($0) }))
        }
        router.get("/311/resource/demo-311.json") { request, _ in
            json(
                DemoCityAPIs.serviceRequests(
                    nowMillis: clock.nowMillis, limit: request.uri.queryParameters.get("$limit").flatMap { Int($0) }))
        }
        router.get("/here/traffic/6.2/flow.json") { _, _ in json(DemoCityAPIs.hereFlow(nowMillis: clock.nowMillis)) }
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
