import Foundation
import Hummingbird
import HummingbirdTesting
import MetropulseAPI
import MetropulseCore
import Testing

@testable import MetropulseWeb

@Suite("The pages in process: rendering, assets, the console's sign-in")
struct WebPagesTests {
    static let sources = [
        SourceDefinition(
            id: "velib", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json", "http://127.0.0.1:2/gbfs.json"]),
        SourceDefinition(id: "metro", kind: .gtfsRT, urls: ["http://127.0.0.1:1/tu.pb"], tags: ["network": "paris"]),
    ]

    @Test("gzip: what zlib compresses comes back the same, and repetitive text shrinks")
    func gzipRoundTrip() throws {
        let text = Array(String(repeating: "Metropulse live map · ", count: 500).utf8)
        let packed = try #require(Gzip.compress(text))
        #expect(packed.count < text.count / 10)
        #expect(packed.prefix(2) == [0x1f, 0x8b])
        #expect(Gzip.decompress(packed) == text)
    }

    @Test("sessions: a token is valid until it expires, only with its key; CSRF tokens belong to one session")
    func sessions() throws {
        let ops = APIKey(name: "ops", scope: .admin, secret: "k1-secret")
        let sessions = AdminSession(keys: APIKeys([ops, APIKey(name: "viewer", scope: .read, secret: "k3-secret")]))
        let token = sessions.issue(for: ops, now: 1_000)
        let session = try #require(sessions.session(token, now: 2_000))
        #expect(session.key == ops)
        #expect(sessions.session(token, now: 1_000 + AdminSession.lifetimeMillis) == nil)
        // Another secret under the same name, or the key removed: no session.
        let renamed = APIKey(name: "ops", scope: .admin, secret: "k2-secret")
        #expect(AdminSession(keys: APIKeys([renamed])).session(token, now: 2_000) == nil)
        #expect(AdminSession(keys: APIKeys([])).session(token, now: 2_000) == nil)
        // A session of the read key cannot claim the admin key's name.
        let viewer = try #require(sessions.session(sessions.issue(for: sessions.keys.keys[1], now: 1_000), now: 2_000))
        #expect(viewer.key.scope == .read)
        let forged = viewer.token.replacingOccurrences(of: "v2.viewer.", with: "v2.ops.")
        #expect(sessions.session(forged, now: 2_000) == nil)
        var tampered = Array(token)
        tampered[tampered.count - 1] = tampered.last == "9" ? "8" : "9"
        #expect(sessions.session(String(tampered), now: 2_000) == nil)
        #expect(sessions.session("v2.garbage", now: 0) == nil)
        let other = try #require(sessions.session(sessions.issue(for: ops, now: 5_000), now: 6_000))
        #expect(sessions.isValidCSRF(sessions.csrfToken(for: session), session: session))
        #expect(!sessions.isValidCSRF(sessions.csrfToken(for: other), session: session))
        #expect(AdminSession.setCookie(token, secure: false).contains("HttpOnly; SameSite=Strict"))
    }

    @Test("the map page: HTML with every source, our assets versioned; assets have an ETag, 304 and gzip")
    func mapAndAssets() async throws {
        let site = try TestSite(sources: Self.sources)
        try await site.test { client in
            var assetPath = ""
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.header("Content-Type")?.hasPrefix("text/html") == true)
                let html = response.text
                #expect(html.contains("data-layer=\"velib\"") && html.contains("data-layer=\"metro\""))
                #expect(html.contains("Live map"))
                let match = try #require(html.firstRange(of: "/static/js/map.js?v="))
                assetPath = String(html[match.lowerBound...].prefix { $0 != "\"" })
            }
            var etag = ""
            try await client.execute(uri: assetPath, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.header("Cache-Control")?.contains("immutable") == true)
                etag = try #require(response.header("ETag"))
            }
            try await client.execute(uri: assetPath, method: .get, headers: [.ifNoneMatch: etag]) {
                #expect($0.status == .notModified)
            }
            try await client.execute(uri: "/static/js/map.js", method: .get, headers: [.acceptEncoding: "gzip, br"]) {
                #expect($0.header("Content-Encoding") == "gzip")
                let plain = try #require(Gzip.decompress(Array($0.body.readableBytesView)))
                #expect(String(decoding: plain, as: UTF8.self).contains("EventSource"))
            }
            try await client.execute(uri: "/static/nope.js", method: .get) { #expect($0.status == .notFound) }
        }
    }

    @Test("our own HTML, CSS and JavaScript of the map page stay under 150 KB before compression")
    func mapPageWeight() async throws {
        let site = try TestSite(sources: Self.sources)
        try await site.test { client in
            var total = 0
            var html = ""
            try await client.execute(uri: "/", method: .get) {
                html = $0.text
                total += $0.body.readableBytes
            }
            for asset in ["/static/css/app.css", "/static/js/common.js", "/static/js/map.js"] {
                #expect(html.contains(asset))
                try await client.execute(uri: asset, method: .get) { total += $0.body.readableBytes }
            }
            #expect(total < 150_000, "map page: \(total) bytes")
        }
    }

    @Test("station, lines, line and city pages render from the stored data; unknown ones are HTML 404s")
    func publicPages() async throws {
        let site = try TestSite(sources: Self.sources)
        let now = site.clock.now
        try await site.write(
            ObservationBatch(stations: [TestSite.station("s1", bikes: 4, at: now - 60_000)]), source: "velib",
            at: now - 50_000)
        try await site.write(
            ObservationBatch(stations: [TestSite.station("s1", bikes: 6, at: now - 10_000)]), source: "velib",
            at: now - 5_000)
        try await site.write(
            ObservationBatch(
                departures: [
                    Departure(
                        sourceID: "metro", stopID: "A", stopSequence: 1, routeID: "M1", tripID: "t1",
                        scheduledAt: now + 120_000, expectedAt: now + 180_000, delaySeconds: 60,
                        relationship: "scheduled", observedAt: now - 5_000)
                ], transitSnapshot: true, transitObservedAt: now - 5_000), source: "metro")
        try await site.test { client in
            try await client.execute(uri: "/stations/velib/s1", method: .get) {
                #expect($0.status == .ok)
                let html = $0.text
                #expect(html.contains("Station s1"))
                #expect(html.contains("id=\"availability\""))
                #expect(html.components(separatedBy: "<tr><td title=").count - 1 == 2)
            }
            try await client.execute(uri: "/stations/velib/nope", method: .get) {
                #expect($0.status == .notFound)
                #expect($0.header("Content-Type")?.hasPrefix("text/html") == true)
            }
            try await client.execute(uri: "/lines", method: .get) {
                #expect($0.status == .ok)
                #expect($0.text.contains("href=\"/lines/paris/M1\""))
            }
            try await client.execute(uri: "/lines/paris/M1", method: .get) {
                #expect($0.status == .ok)
                let html = $0.text
                #expect(html.contains("data-stop=\"A\"") && html.contains("data-trip=\"t1\""))
                #expect(html.contains("+1 min late"))
            }
            try await client.execute(uri: "/lines/paris/M1?part=stops", method: .get) {
                #expect($0.status == .ok)
                #expect(!$0.text.contains("<html"))
                #expect($0.text.contains("data-trip=\"t1\""))
            }
            try await client.execute(uri: "/cities", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("console with a read key: every page, the controls replaced by a note; the admin API refuses the session")
    func readKeySession() async throws {
        let site = try TestSite(sources: Self.sources)
        try await site.test { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .origin: "http://localhost"]
            var cookie = ""
            try await client.execute(
                uri: "/admin/sign-in", method: .post, headers: form, body: ByteBuffer(string: "key=\(TestSite.readKey)")
            ) {
                #expect($0.status == .seeOther)
                cookie = String(try #require($0.header("Set-Cookie")).prefix { $0 != ";" })
            }
            try await client.execute(uri: "/admin/orchestrator", method: .get, headers: [.cookie: cookie]) {
                #expect($0.status == .ok)
                #expect($0.text.contains("with a read key: the controls need an admin key"))
                #expect(!$0.text.contains("data-command=\"PAUSE_FETCH\""))
            }
            try await client.execute(uri: "/api/system/workers", method: .get, headers: [.cookie: cookie]) {
                #expect($0.status == .ok, "a read session reads the operator API")
            }
            let sessions = AdminSession(keys: site.environment.keys)
            let token = String(cookie.dropFirst(AdminSession.cookieName.count + 1))
            let session = try #require(sessions.session(token, now: site.clock.now))
            var headers: HTTPFields = [.cookie: cookie, .contentType: "application/json", .origin: "http://localhost"]
            headers[.init(AdminSession.csrfHeader)!] = sessions.csrfToken(for: session)
            try await client.execute(
                uri: "/api/system/commands", method: .post, headers: headers,
                body: ByteBuffer(string: #"{"kind": "PAUSE_FETCH"}"#)
            ) { #expect($0.status == .forbidden) }
        }
    }

    @Test("console: redirect to sign-in, a wrong key is refused, the right one sets an HttpOnly SameSite cookie")
    func signIn() async throws {
        let site = try TestSite(sources: Self.sources)
        try await site.test { client in
            try await client.execute(uri: "/admin/orchestrator", method: .get) {
                #expect($0.status == .seeOther)
                #expect($0.header("Location")?.hasPrefix("/admin/sign-in?next=") == true)
            }
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .origin: "http://localhost"]
            try await client.execute(
                uri: "/admin/sign-in", method: .post, headers: form,
                body: ByteBuffer(string: "key=wrong&next=%2Fadmin%2Fsources")
            ) {
                #expect($0.status == .unauthorized)
                #expect($0.header("Set-Cookie") == nil)
            }
            try await client.execute(
                uri: "/admin/sign-in", method: .post, headers: form + [.origin: "http://evil.example"],
                body: ByteBuffer(string: "key=\(TestSite.adminKey)")
            ) { #expect($0.status == .forbidden) }
            var cookie = ""
            try await client.execute(
                uri: "/admin/sign-in", method: .post, headers: form,
                body: ByteBuffer(string: "key=\(TestSite.adminKey)&next=%2Fadmin%2Fsources")
            ) {
                #expect($0.status == .seeOther)
                #expect($0.header("Location") == "/admin/sources")
                let set = try #require($0.header("Set-Cookie"))
                #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict"))
                cookie = String(set.prefix { $0 != ";" })
            }
            for page in ["/admin/orchestrator", "/admin/sources"] {
                try await client.execute(uri: page, method: .get, headers: [.cookie: cookie]) {
                    #expect($0.status == .ok, "\(page)")
                    #expect($0.text.contains("name=\"csrf-token\""))
                }
            }
            for part in ["queue", "fleet", "runs", "scheduler", "departures"] {
                try await client.execute(
                    uri: "/admin/orchestrator?part=\(part)", method: .get, headers: [.cookie: cookie]
                ) {
                    #expect($0.status == .ok, "\(part)")
                }
            }
        }
    }

    @Test("admin API with the console session: needs the CSRF token and the same origin")
    func sessionOnAdminAPI() async throws {
        let site = try TestSite(sources: Self.sources)
        let sessions = AdminSession(keys: site.environment.keys)
        let token = sessions.issue(for: try #require(sessions.keys.named("admin")), now: site.clock.now)
        let session = try #require(sessions.session(token, now: site.clock.now))
        let cookie = "\(AdminSession.cookieName)=\(token)"
        let body = ByteBuffer(string: #"{"kind": "PAUSE_FETCH"}"#)
        // The in-process client's requests have the authority "localhost".
        let json: HTTPFields = [.contentType: "application/json", .cookie: cookie]
        try await site.test { client in
            try await client.execute(uri: "/api/system/commands", method: .post, headers: json, body: body) {
                #expect($0.status == .forbidden)
                #expect($0.text.contains("X-CSRF-Token"))
            }
            var good = json
            good[.init(AdminSession.csrfHeader)!] = sessions.csrfToken(for: session)
            try await client.execute(
                uri: "/api/system/commands", method: .post, headers: good + [.origin: "http://evil.example"], body: body
            ) { #expect($0.status == .forbidden) }
            try await client.execute(
                uri: "/api/system/commands", method: .post, headers: good + [.origin: "http://localhost"],
                body: body
            ) { #expect($0.status == .accepted) }
            // A forged cookie is no session.
            var forged = good
            forged[.cookie] = "\(AdminSession.cookieName)=v2.admin.99999999999999.00"
            try await client.execute(uri: "/api/system/commands", method: .post, headers: forged, body: body) {
                #expect($0.status == .unauthorized)
            }
        }
    }
}

extension HTTPFields {
    static func + (a: HTTPFields, b: HTTPFields) -> HTTPFields {
        var out = a
        for field in b { out[field.name] = field.value }
        return out
    }
}
