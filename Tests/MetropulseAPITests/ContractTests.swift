import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MetropulseConnectors
import MetropulseCore
import NIOCore
import Synchronization
import Testing

@testable import MetropulseAPI

@Suite("API contract and keys")
struct ContractTests {
    /// Every route of the router, as `METHOD /path/:param`.
    static func routes(_ environment: APIEnvironment) -> Set<String> {
        Set(buildRouter(environment).routes.map { "\($0.method.rawValue) \($0.path)" })
    }

    @Test("the document names every route of the router, and no route that does not exist")
    func everyRoute() throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        let routes = Self.routes(api.environment)
        let documented = Set(OpenAPIDocument.operations.map { "\($0.method.rawValue) \($0.path)" })
        #expect(routes.subtracting(documented).isEmpty, "routes missing from /openapi.json")
        #expect(documented.subtracting(routes).isEmpty, "/openapi.json names routes that do not exist")
        #expect(routes.count == OpenAPIDocument.operations.count)
        #expect(routes.contains("POST /api/system/commands") && routes.contains("GET /api/stations/{source}/{id}"))
    }

    @Test("the document: OpenAPI 3.1, every reference resolves, the schemas are the answers' fields")
    func document() throws {
        let data = OpenAPIDocument.json
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let text = String(decoding: data, as: UTF8.self)
        var references: Set<String> = []
        var rest = Substring(text)
        while let range = rest.range(of: "\"#/components/schemas/") {
            let tail = rest[range.upperBound...]
            let end = tail.firstIndex(of: "\"")!
            references.insert(String(tail[..<end]))
            rest = tail[end...]
        }
        #expect(!references.isEmpty)
        for name in references { #expect(schemas[name] != nil, "\(name) is referenced but not defined") }
        // A read model's answer, field by field: required when always there, optional when it may be absent.
        let station = try #require(schemas["Station"] as? [String: Any])
        let properties = try #require(station["properties"] as? [String: Any])
        #expect(properties["bikes_available"] != nil && properties["distance_m"] != nil)
        let required = Set(station["required"] as? [String] ?? [])
        #expect(required.contains("bikes_available") && required.contains("observed_at"))
        #expect(!required.contains("distance_m") && !required.contains("capacity"), "optional fields may be absent")
        let queue = try #require(schemas["Queue"] as? [String: Any])
        #expect(Set(queue["required"] as? [String] ?? []).isSuperset(of: ["queued", "running", "retrying", "dead"]))
        let paths = try #require(document["paths"] as? [String: Any])
        let taskRuns = try #require((paths["/api/system/task-runs"] as? [String: Any])?["get"] as? [String: Any])
        let parameters = try #require(taskRuns["parameters"] as? [[String: Any]])
        let status = try #require(parameters.first { $0["name"] as? String == "status" })
        #expect(
            (status["schema"] as? [String: Any])?["enum"] as? [String] == [""] + TaskRunStatus.allCases.map(\.rawValue))
    }

    @Test("/openapi.json and /docs are served")
    func served() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        try await api.test { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "application/json")
                #expect(Data(response.body.readableBytesView) == OpenAPIDocument.json)
            }
            try await client.execute(uri: "/api/cities", method: .delete) { response in
                #expect(response.status == .methodNotAllowed, "a path of the API with another method")
                #expect(response.headers[.allow] == "GET, HEAD")
            }
            try await client.execute(uri: "/api/nothing-here", method: .delete) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/docs", method: .get) { response in
                #expect(response.status == .ok)
                let html = String(buffer: response.body)
                #expect(html.contains("/api/system/commands") && html.contains("admin key"))
            }
        }
    }

    @Test("answers have the fields their schemas name: every field described, every required one there")
    func answersMatchTheirSchemas() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        let document = try #require(try JSONSerialization.jsonObject(with: OpenAPIDocument.json) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let cases: [(String, String, (Any) -> [String: Any]?)] = [
            ("/api/system/queue", "Queue", { $0 as? [String: Any] }),
            ("/api/sources", "Source", { (($0 as? [String: Any])?["sources"] as? [[String: Any]])?.first }),
            ("/api/sources/bikes/health", "Health", { $0 as? [String: Any] }),
        ]
        let uris = cases.map(\.0)
        let answers = Mutex<[String: Data]>([:])
        try await api.test { client in
            var headers = HTTPFields()
            headers[.init("X-API-Key")!] = TestAPI.readKey
            for uri in uris {
                let body = try await client.execute(uri: uri, method: .get, headers: headers) {
                    Data($0.body.readableBytesView)
                }
                answers.withLock { $0[uri] = body }
            }
        }
        for (uri, name, pick) in cases {
            let data = try #require(answers.withLock { $0[uri] })
            let object = try #require(pick(try JSONSerialization.jsonObject(with: data)), "\(uri)")
            let schema = try #require(schemas[name] as? [String: Any], "\(name)")
            let properties = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
            let required = Set(schema["required"] as? [String] ?? [])
            #expect(Set(object.keys).subtracting(properties).isEmpty, "\(uri): fields the schema \(name) lacks")
            #expect(required.subtracting(object.keys).isEmpty, "\(uri): required fields absent")
            #expect(properties.contains { $0.contains("_") }, "\(name): snake_case names, as the encoder writes")
        }
    }

    /// Lines a test logger keeps, to look for secrets in.
    final class LogLines: Sendable {
        let lines = Mutex<[String]>([])

        var handler: @Sendable (String) -> any LogHandler {
            { [self] label in Handler(lines: self, label: label) }
        }

        struct Handler: LogHandler {
            let lines: LogLines
            let label: String
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(event: LogEvent) {
                let all = metadata.merging(event.metadata ?? [:]) { $1 }
                lines.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
            }
        }
    }

    @Test(
        "every route with no key, a wrong key, a read key and an admin key answers as the document says; no key is logged"
    )
    func keysOnEveryRoute() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        let logs = LogLines()
        var environment = api.environment
        environment.logger = Logger(label: "keys", factory: logs.handler)
        let router = buildRouter(environment)
        let app = Application(router: router, logger: Logger(label: "keys-app", factory: logs.handler))
        let wrong = "not-a-key-of-this-server"
        try await app.test(.router) { client in
            for operation in OpenAPIDocument.operations {
                let path = operation.path.replacingOccurrences(
                    of: #"\{[a-z_]+\}"#, with: "bikes", options: .regularExpression)
                let streams = operation.success.body.isEventStream
                for (name, key) in [
                    ("no key", nil), ("a wrong key", wrong), ("the read key", TestAPI.readKey),
                    ("the admin key", TestAPI.adminKey),
                ] as [(String, String?)] {
                    let expected: Set<Int>?
                    switch (operation.access, key) {
                    case (.open, _): expected = nil  // anything but 401 and 403
                    case (.key, nil), (.key, wrong): expected = [401]
                    case (.key(.admin), TestAPI.readKey): expected = [403]
                    default: expected = nil
                    }
                    // A stream that is let in never ends: only its refusals are asked.
                    if streams && expected == nil { continue }
                    var headers = HTTPFields()
                    if let key { headers[.init("X-API-Key")!] = key }
                    headers[.contentType] = "application/json"
                    let body = operation.method == .post ? ByteBuffer(string: "{}") : nil
                    try await client.execute(uri: path, method: operation.method, headers: headers, body: body) {
                        response in
                        let label = "\(operation.method) \(path) with \(name): \(response.status.code)"
                        if let expected {
                            #expect(expected.contains(Int(response.status.code)), "\(label)")
                            let error = try? apiDecoder.decode(
                                ErrorBody.self, from: Data(response.body.readableBytesView))
                            #expect(error != nil, "\(label): a JSON error")
                        } else {
                            #expect(![401, 403].contains(response.status.code), "\(label)")
                        }
                    }
                }
            }
            // Bearer works like X-API-Key.
            var bearer = HTTPFields()
            bearer[.authorization] = "Bearer \(TestAPI.readKey)"
            try await client.execute(uri: "/api/system/queue", method: .get, headers: bearer) {
                #expect($0.status == .ok)
            }
        }
        let lines = logs.lines.withLock { $0 }
        #expect(!lines.isEmpty)
        for secret in [TestAPI.readKey, TestAPI.adminKey, wrong] {
            #expect(!lines.contains { $0.contains(secret) }, "a key is in the log")
        }
    }

    @Test("with no key configured, the operator routes answer 403 and say how to set one")
    func noKeys() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        var environment = api.environment
        environment.keys = APIKeys()
        let app = Application(router: buildRouter(environment))
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/system/queue", method: .get) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("METROPULSE_API_KEYS"))
            }
            try await client.execute(uri: "/api/stations", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("keys: name:scope:secret entries; bad ones are refused with the reason")
    func parsing() throws {
        let keys = try APIKeys.parse("ops:admin:0123456789abcdef, grafana:read:fedcba9876543210")
        #expect(keys.map(\.name) == ["ops", "grafana"] && keys.map(\.scope) == [.admin, .read])
        #expect(APIKeys(keys).match("fedcba9876543210")?.name == "grafana")
        #expect(APIKeys(keys).match("fedcba987654321") == nil)
        #expect("\(APIKeys(keys))" == "ops (admin), grafana (read)", "a description never shows a secret")
        for (text, message) in [
            ("ops:admin", "expected name:scope:secret"), ("ops:root:0123456789", "scope must be read or admin"),
            ("ops:read:short", "at least 8 characters"), ("o p:read:0123456789", "a key name is"),
            ("a:read:0123456789,a:admin:9876543210", "given twice"),
            ("a:read:0123456789,b:admin:0123456789", "the same as another key's"),
        ] {
            #expect(throws: APIKeys.ParseError.self) { try APIKeys.parse(text) }
            do {
                _ = try APIKeys.parse(text)
            } catch {
                #expect(error.message.contains(message), "\(text): \(error.message)")
            }
        }
        #expect(
            constantTimeEqual("abc", "abc") && !constantTimeEqual("abc", "abd") && !constantTimeEqual("abc", "abcd"))
    }
}

extension APIOperation.Body {
    var isEventStream: Bool {
        if case .eventStream = self { return true }
        return false
    }
}
