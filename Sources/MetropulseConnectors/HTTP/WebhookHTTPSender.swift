public import AsyncHTTPClient
import Crypto
import Foundation
public import MetropulseCore
import NIOCore
import NIOHTTP1

/// The Standard Webhooks signature: `v1,` and the base64 of HMAC-SHA256 over
/// `{webhook-id}.{webhook-timestamp}.{body}`, keyed by the secret's bytes (after `whsec_`).
public enum WebhookSignature {
    public static func sign(id: String, timestamp: Int64, body: String, secret: String) -> String {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        let key = SymmetricKey(data: Data(base64Encoded: encoded) ?? Data(encoded.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).\(body)".utf8), using: key)
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// POSTs deliveries with the Standard Webhooks headers. A target whose host is, or resolves to,
/// a loopback, private, link-local or metadata address is refused unless `allowPrivateAddresses`;
/// redirects (at most 3, each re-sent as the same signed POST) are checked the same way.
public struct WebhookHTTPSender: WebhookSender {
    /// Its own client, which follows no redirect by itself (each is checked here); shut it down
    /// when done (`HTTPClientService` in a process).
    public let client: HTTPClient
    let allowPrivateAddresses: Bool
    let allowedHosts: [String]
    let timeoutMillis: Int64

    public init(allowPrivateAddresses: Bool, allowedHosts: [String] = [], timeoutMillis: Int64 = 10_000) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.retryConnectionEstablishment = false
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.allowPrivateAddresses = allowPrivateAddresses
        self.allowedHosts = allowedHosts
        self.timeoutMillis = max(100, timeoutMillis)
    }

    public func send(_ delivery: WebhookDelivery, to endpoint: WebhookEndpoint, at: Int64) async -> (
        statusCode: Int?, error: String?
    ) {
        let timestamp = at / 1000
        let signature = WebhookSignature.sign(
            id: delivery.id, timestamp: timestamp, body: delivery.body, secret: endpoint.secret)
        var url = endpoint.url
        for _ in 0...3 {
            if let refusal = await Self.refusal(url, allowPrivate: allowPrivateAddresses, allowedHosts: allowedHosts) {
                return (nil, "not sent to \(url): \(refusal)")
            }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "metropulse-webhooks/0.1")
            request.headers.add(name: "webhook-id", value: delivery.id)
            request.headers.add(name: "webhook-timestamp", value: String(timestamp))
            request.headers.add(name: "webhook-signature", value: signature)
            request.body = .bytes(ByteBuffer(string: delivery.body))
            do {
                let response = try await client.execute(request, timeout: .milliseconds(timeoutMillis))
                // The answer's body is not kept; read a little of it so the connection can be reused.
                _ = try? await response.body.collect(upTo: 64 * 1024)
                let status = Int(response.status.code)
                if [301, 302, 303, 307, 308].contains(status), let location = response.headers.first(name: "Location") {
                    guard let next = FeedHTTPClient.absolute(location, from: url) else {
                        return (status, "redirected to '\(location)', not an http(s) URL")
                    }
                    url = next
                    continue
                }
                return (status, (200..<300).contains(status) ? nil : "HTTP \(status)")
            } catch {
                return (nil, "\(error)")
            }
        }
        return (nil, "more than 3 redirects")
    }

    /// Why `url` may not be reached: not http(s), or a private address not allowed (neither all
    /// of them, nor its host among `allowedHosts`).
    public static func refusal(_ url: String, allowPrivate: Bool, allowedHosts: [String] = []) async -> String? {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = parsed.host, !host.isEmpty
        else { return "not an http(s) URL with a host" }
        let hostname = FeedHTTPClient.hostname(of: url)
        if allowPrivate || allowedHosts.contains(where: { $0.lowercased() == hostname.lowercased() }) { return nil }
        return await AddressPolicy.refusal(host: hostname)
    }
}
