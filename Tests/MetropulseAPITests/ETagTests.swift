import Foundation
import HTTPTypes
import HummingbirdTesting
import MetropulseCore
import NIOCore
import Testing

@testable import MetropulseAPI

@Suite("ETags on the API's GET answers")
struct ETagTests {
    @Test("same answer, same tag: If-None-Match gets a 304 without a body; a change gets a new tag")
    func notModified() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        let station = StationObservation(
            sourceID: "bikes", stationID: "1", bikesAvailable: 3, docksAvailable: 7, isInstalled: true, isRenting: true,
            isReturning: true, observedAt: TestAPI.now - 60_000)
        try await api.write(ObservationBatch(stations: [station]), source: "bikes", at: TestAPI.now - 60_000)
        try await api.test { client in
            let tag = try await client.execute(uri: "/api/stations?source=bikes", method: .get) { response in
                #expect(response.status == .ok)
                return try #require(response.headers[.eTag])
            }
            #expect(tag.hasPrefix("\"") && tag.hasSuffix("\"") && tag.count == 18)
            var conditional = HTTPFields()
            conditional[.ifNoneMatch] = tag
            try await client.execute(uri: "/api/stations?source=bikes", method: .get, headers: conditional) {
                response in
                #expect(response.status == .notModified)
                #expect(response.body.readableBytes == 0)
                #expect(response.headers[.eTag] == tag)
            }
            conditional[.ifNoneMatch] = "\"0000000000000000\", W/\(tag)"
            try await client.execute(uri: "/api/stations?source=bikes", method: .get, headers: conditional) {
                #expect($0.status == .notModified, "a list, and a weak tag, match too")
            }
            // A new observation changes the answer and its tag.
            var later = station
            later.bikesAvailable = 4
            later.observedAt = TestAPI.now - 1_000
            try await api.write(ObservationBatch(stations: [later]), source: "bikes", at: TestAPI.now - 1_000)
            conditional[.ifNoneMatch] = tag
            try await client.execute(uri: "/api/stations?source=bikes", method: .get, headers: conditional) {
                response in
                #expect(response.status == .ok)
                #expect(response.headers[.eTag] != tag && response.body.readableBytes > 0)
            }
            // Errors carry no tag.
            try await client.execute(uri: "/api/stations?source=nope", method: .get) { response in
                #expect(response.status == .notFound && response.headers[.eTag] == nil)
            }
        }
    }
}
