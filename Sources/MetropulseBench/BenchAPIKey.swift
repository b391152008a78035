import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// The admin key the benchmarks and drills give the processes they start, and send on their own
/// requests (the operator endpoints they read need one).
enum BenchAPIKey {
    static let value = "bench-\(UUID().uuidString)"
    static let environmentVariable = "METROPULSE_API_ADMIN_KEY"

    /// A GET of `url` with the key.
    static func request(_ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "X-API-Key", value: value)
        return request
    }
}
