import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MetropulseAPI
import MetropulseConnectors
import MetropulseCore
import NIOCore
import Synchronization
import Testing

/// `/api/webhooks` in process: every field checked with a 400 naming it, private targets refused,
/// the secret shown once, changes, a test delivery, its log, redelivery and deletion.
@Suite("Webhooks API")
struct WebhooksAPITests {
    @Test("create, refuse, show once, change, test, list deliveries, redeliver, delete")
    func lifecycle() async throws {
        var api = try TestAPI(sources: [SourceDefinition(id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/g"])])
        defer { api.close() }
        api.environment.webhookURLRefusal = {
            await WebhookHTTPSender.refusal($0, allowPrivate: false, allowedHosts: ["127.0.0.1"])
        }
        let site = api
        func call(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> (
            HTTPResponse.Status, [String: Any]
        ) {
            var headers = HTTPFields()
            headers[.init("X-API-Key")!] = TestAPI.adminKey
            headers[.contentType] = "application/json"
            let request = headers
            let result = Mutex<(HTTPResponse.Status, String)?>(nil)
            try await site.test { client in
                try await client.execute(
                    uri: uri, method: method, headers: request, body: body.map { ByteBuffer(string: $0) }
                ) { response in
                    let text = String(buffer: response.body)
                    result.withLock { $0 = (response.status, text) }
                }
            }
            let (status, text) = try #require(result.withLock { $0 })
            return (status, (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:])
        }
        func refused(_ body: String, mentioning word: String) async throws {
            let (status, json) = try await call(.post, "/api/webhooks", body)
            #expect(status == .badRequest, "\(body)")
            let message = (json["error"] as? [String: Any])?["message"] as? String ?? "\(json)"
            #expect(message.contains(word), "\(body): \(message)")
        }
        try await refused(#"{"events": ["station.empty"]}"#, mentioning: "url")
        try await refused(#"{"url": "ftp://example.org/h", "events": ["station.empty"]}"#, mentioning: "url")
        try await refused(#"{"url": "http://10.0.0.5/h", "events": ["station.empty"]}"#, mentioning: "10.0.0.5")
        try await refused(
            #"{"url": "http://169.254.169.254/h", "events": ["station.empty"]}"#, mentioning: "link-local")
        try await refused(#"{"url": "http://localhost:9/h", "events": ["station.empty"]}"#, mentioning: "localhost")
        try await refused(#"{"url": "http://127.0.0.1:9/h", "events": ["station.gone"]}"#, mentioning: "events")
        try await refused(#"{"url": "http://127.0.0.1:9/h", "events": []}"#, mentioning: "events")
        try await refused(
            #"{"url": "http://127.0.0.1:9/h", "events": ["station.empty"], "sources": ["nope"]}"#, mentioning: "sources"
        )
        try await refused(
            #"{"url": "http://127.0.0.1:9/h", "events": ["station.empty"], "empty_at_most": -1}"#,
            mentioning: "empty_at_most")

        let (created, endpoint) = try await call(
            .post, "/api/webhooks",
            #"{"url": "http://127.0.0.1:9/h", "events": ["station.empty", "station.full"], "sources": ["velib"], "empty_at_most": 2}"#
        )
        #expect(created == .created)
        let id = try #require(endpoint["id"] as? String)
        let secret = try #require(endpoint["secret"] as? String)
        #expect(secret.hasPrefix("whsec_") && endpoint["empty_at_most"] as? Int == 2)
        // The secret is shown only at creation.
        let (_, list) = try await call(.get, "/api/webhooks")
        let listed = try #require((list["endpoints"] as? [[String: Any]])?.first)
        #expect(listed["secret"] == nil && (listed["secret_hint"] as? String)?.hasPrefix("whsec_") == true)
        #expect((list["event_types"] as? [String])?.contains("alert.opened") == true)
        #expect(try await call(.get, "/api/webhooks/\(id)").1["secret"] == nil)

        // Disabled by hand, then enabled again; a new secret when asked.
        let (_, disabled) = try await call(.patch, "/api/webhooks/\(id)", #"{"enabled": false}"#)
        #expect(disabled["enabled"] as? Bool == false && disabled["disabled_reason"] as? String == "disabled by hand")
        let (_, enabled) = try await call(.patch, "/api/webhooks/\(id)", #"{"enabled": true, "rotate_secret": true}"#)
        #expect(enabled["enabled"] as? Bool == true && enabled["disabled_reason"] == nil)
        #expect((enabled["secret"] as? String).map { $0 != secret && $0.hasPrefix("whsec_") } == true)
        #expect(try await call(.patch, "/api/webhooks/\(id)", #"{"url": "http://192.168.1.1/"}"#).0 == .badRequest)

        // A test delivery, in the log; redelivered by hand.
        let (queued, test) = try await call(.post, "/api/webhooks/\(id)/test")
        #expect(
            queued == .accepted && test["type"] as? String == "webhook.test" && test["status"] as? String == "pending")
        let (_, log) = try await call(.get, "/api/webhooks/\(id)/deliveries?status=pending")
        let deliveries = try #require(log["deliveries"] as? [[String: Any]])
        #expect(deliveries.count == 1 && deliveries[0]["id"] as? String == test["id"] as? String)
        let deliveryID = try #require(test["id"] as? String)
        #expect(try await call(.post, "/api/webhooks/\(id)/deliveries/\(deliveryID)/redeliver").0 == .accepted)
        #expect(try await call(.post, "/api/webhooks/\(id)/deliveries/msg_nope/redeliver").0 == .notFound)
        #expect(try await call(.get, "/api/webhooks/\(id)/deliveries?status=lost").0 == .badRequest)

        #expect(try await call(.delete, "/api/webhooks/\(id)").0 == .ok)
        #expect(try await call(.get, "/api/webhooks/\(id)").0 == .notFound)
        #expect(try await call(.delete, "/api/webhooks/\(id)").0 == .notFound)
    }
}
