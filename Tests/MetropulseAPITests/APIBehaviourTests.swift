import Foundation
import Hummingbird
import HummingbirdTesting
import MetropulseCore
import Synchronization
import Testing

@testable import MetropulseAPI

@Suite("API behaviour, in process")
struct APIBehaviourTests {
    @Test("admin routes refuse a missing or wrong key with 401 and run with the right one")
    func adminKey() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        try await api.test { client in
            for key in [nil, "wrong"] {
                var headers = HTTPFields()
                if let key { headers[.init("X-API-Key")!] = key }
                try await client.execute(uri: "/api/system/queue/requeue-dead", method: .post, headers: headers) {
                    #expect($0.status == .unauthorized)
                    let body = try apiDecoder.decode(ErrorBody.self, from: Data($0.body.readableBytesView))
                    #expect(body.error.message.contains("X-API-Key"))
                }
            }
            var admin = HTTPFields()
            admin[.init("X-API-Key")!] = TestAPI.adminKey
            try await client.execute(uri: "/api/system/queue/requeue-dead", method: .post, headers: admin) {
                #expect($0.status == .ok)
            }
            // Reading needs a key too; a read key may not change anything.
            try await client.execute(uri: "/api/system/queue", method: .get) { #expect($0.status == .unauthorized) }
            var read = HTTPFields()
            read[.init("X-API-Key")!] = TestAPI.readKey
            try await client.execute(uri: "/api/system/queue", method: .get, headers: read) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/api/system/queue/requeue-dead", method: .post, headers: read) {
                #expect($0.status == .forbidden)
                let body = try apiDecoder.decode(ErrorBody.self, from: Data($0.body.readableBytesView))
                #expect(body.error.message.contains("\"viewer\" has the read scope"))
            }
        }
    }

    @Test("the connectors' descriptions: kinds, what they produce, formats, keys")
    func connectors() async throws {
        let api = try TestAPI(sources: [])
        defer { api.close() }
        try await api.test { client in
            let list = try await client.get("/api/connectors", as: SourcesController.ConnectorList.self)
            #expect(list.connectors.map(\.kind) == SourceKind.allCases)
            let city = try #require(list.connectors.first { $0.kind == .city })
            #expect(
                city.formats.map(\.name) == [
                    "open-meteo", "openaq", "eia", "socrata-311", "open311", "here-flow", "tomtom-incidents",
                ] && city.produces == [.measurements])
        }
    }

    @Test("URLs in answers are not escaped")
    func unescapedSlashes() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        try await api.test { client in
            try await client.execute(uri: "/api/sources", method: .get) { response in
                let text = String(decoding: response.body.readableBytesView, as: UTF8.self)
                #expect(text.contains("http://127.0.0.1:1/gbfs.json"))
                #expect(!text.contains("\\/"))
            }
        }
    }

    @Test("recent results: one computation per key and period, shared by concurrent callers")
    func recentResults() async throws {
        let cache = RecentResults<Int>(ttlMillis: 5_000)
        let computed = Mutex(0)
        let compute: @Sendable () async throws -> Int = {
            try await Task.sleep(for: .milliseconds(20))
            return computed.withLock { count in
                count += 1
                return count
            }
        }
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await cache.value(for: "a", now: 1_000, compute: compute) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(values) == [1])
        #expect(try await cache.value(for: "a", now: 5_999, compute: compute) == 1)
        #expect(try await cache.value(for: "b", now: 5_999, compute: compute) == 2)
        // Past the period, or a clock that went back: computed again.
        #expect(try await cache.value(for: "a", now: 6_000, compute: compute) == 3)
        #expect(try await cache.value(for: "a", now: 10, compute: compute) == 4)
    }
}
