import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Talks to a running supervisor's control endpoint: from `metropulse supervise status | scale |
/// down`, and from its API child, which forwards the API's scale requests.
public struct SupervisorClient: Sendable {
    public let endpoint: SupervisorEndpoint

    public init(endpoint: SupervisorEndpoint) {
        self.endpoint = endpoint
    }

    /// The supervisor whose endpoint file is in `stateDirectory`.
    public init(stateDirectory: String) throws(SupervisorError) {
        let path = Supervisor.endpointPath(stateDirectory)
        guard let data = FileManager.default.contents(atPath: path),
            let endpoint = try? JSONDecoder().decode(SupervisorEndpoint.self, from: data)
        else {
            throw SupervisorError(
                "no supervisor runs with the state folder \(stateDirectory) (\(path) is missing): start one with metropulse supervise",
                refused: false)
        }
        self.endpoint = endpoint
    }

    public func status() async throws -> SupervisorStatus {
        try await call("GET", "status", body: nil, as: SupervisorStatus.self)
    }

    /// Worker processes before and after.
    public func scale(count: Int?, delta: Int?) async throws -> (before: Int, after: Int) {
        let body = try JSONEncoder().encode(Supervisor.ScaleBody(count: count, delta: delta))
        let answer = try await call("POST", "scale", body: body, as: Supervisor.ScaleAnswer.self)
        return (answer.before, answer.after)
    }

    public func down() async throws -> SupervisorStatus {
        try await call("POST", "down", body: nil, as: SupervisorStatus.self)
    }

    private func call<T: Decodable>(_ method: String, _ path: String, body: Data?, as type: T.Type) async throws -> T {
        var request = HTTPClientRequest(url: "\(endpoint.url)/\(path)")
        request.method = .init(rawValue: method)
        request.headers.add(name: "X-Supervisor-Token", value: endpoint.token)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        } catch {
            throw SupervisorError("the supervisor at \(endpoint.url) does not answer: \(error)", refused: false)
        }
        let data = Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
        guard response.status == .ok else {
            let message =
                ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]).flatMap {
                    ($0["error"] as? [String: Any])?["message"] as? String
                } ?? "HTTP \(response.status.code)"
            throw SupervisorError(message)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: data)
    }
}
