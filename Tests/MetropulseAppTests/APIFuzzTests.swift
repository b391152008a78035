import AsyncHTTPClient
import Foundation
import MetropulseApp
import MetropulseCore
import NIOCore
import NIOHTTP1
import Testing

/// Every route and query parameter with values an attacker would send, over real HTTP: no answer
/// is a 5xx, every refusal is a 4xx JSON error naming what was wrong, and the process stays up.
@Suite("API fuzz")
struct APIFuzzTests {
    static let paths = [
        "/api/stations", "/api/stations/demo-bikes/10000", "/api/stations/demo-bikes/10000/history",
        "/api/sources", "/api/sources/demo-bikes", "/api/sources/demo-bikes/health", "/api/lines",
        "/api/snapshots/demo/M1", "/api/traffic/status", "/api/stops/S05/departures", "/api/vehicles",
        "/api/system/queue", "/api/system/workers", "/api/system/scheduler", "/api/system/task-runs",
        "/api/system/tasks", "/api/cities", "/api/cities/demo/zones", "/api/cities/demo/zones/centre/history",
        "/healthz", "/readyz",
    ]
    static let parameters = [
        "since", "until", "limit", "near", "radius_m", "source", "network", "line", "metric", "per_stop", "state",
        "status",
    ]

    /// Values that break naive conversions: huge, negative, non-finite, malformed, not UTF-8, long.
    static func values(_ random: inout SystemRandomNumberGenerator) -> [String] {
        var values = [
            "1e300", "-1e300", "99999999999999999999999", "9223372036854775807", "-9223372036854775808", "-1", "0",
            "NaN", "inf", "-inf", "nan,nan", "1e308,1e308", "90.0000001,180", "%FF%FE", "%00", "%C3%28", "",
            "0x10", "1,2,3", ",", "9999-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
            "2025-13-45T25:61:61Z", "2025-10-18T09:00:00+99:99", String(repeating: "9", count: 5_000),
            String(repeating: "%41", count: 2_000),
        ]
        for _ in 0..<8 {
            let length = Int.random(in: 1...40, using: &random)
            values.append(
                String(
                    (0..<length).map { _ in Character(UnicodeScalar(UInt8.random(in: 0x21...0x7E, using: &random))) }
                )
                .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x")
        }
        return values
    }

    static func status(_ url: String) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "X-API-Key", value: testAdminKey)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json)
    }

    @Test("every route and parameter with hostile values: no 5xx, 4xx errors are JSON, the process stays up")
    func fuzz() async throws {
        let app = try await RunningApp.start(configuration(database: try temporaryFolder() + "/f.sqlite"))
        var random = SystemRandomNumberGenerator()
        var requests = 0
        for path in Self.paths {
            for parameter in Self.parameters {
                // A sample each run; over runs every value meets every route and parameter.
                for value in Self.values(&random).shuffled(using: &random).prefix(6) {
                    let (status, json) = try await Self.status("\(app.base)\(path)?\(parameter)=\(value)")
                    requests += 1
                    #expect(status < 500, "\(path)?\(parameter)=\(value.prefix(40)) answered \(status)")
                    if status >= 400 && status != 404 {
                        let message = (json["error"] as? [String: Any])?["message"] as? String
                        #expect(message != nil, "\(path)?\(parameter)=\(value.prefix(40)): no JSON error")
                    }
                }
            }
        }
        // Hostile path segments.
        for segment in ["%00", "..", "%2F%2F", String(repeating: "a", count: 4_000), "%FF", "%C0%AF"] {
            for template in [
                "/api/stations/demo-bikes/\(segment)", "/api/sources/\(segment)/health",
                "/api/snapshots/\(segment)/\(segment)", "/api/cities/\(segment)/zones/\(segment)/history",
            ] {
                let (status, _) = try await Self.status("\(app.base)\(template)")
                requests += 1
                #expect(status < 500, "\(template.prefix(60)) answered \(status)")
            }
        }
        // The request that used to trap the whole process.
        let (status, json) = try await Self.status("\(app.base)/api/stations/demo-bikes/10000/history?since=1e300")
        #expect(status == 400)
        #expect(((json["error"] as? [String: Any])?["message"] as? String)?.contains("since") == true)
        #expect(try await Self.status("\(app.base)/healthz").0 == 200)
        #expect(requests > 1_000)
        try await app.stop()
    }
}
