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

    @Test("a line's board is kept while nothing new is stored: a 304 for its tag; a new run is served at once")
    func lineBoard() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(
                id: "metro", kind: .gtfsRT, urls: ["http://127.0.0.1:1/trips.pb"], tags: ["network": "city"])
        ])
        defer { api.close() }
        @Sendable func departures(delay: Int) -> [Departure] {
            (0..<3).map { stop in
                Departure(
                    sourceID: "metro", stopID: "S\(stop)", stopSequence: stop + 1, routeID: "M1", tripID: "T1",
                    scheduledAt: TestAPI.now + 600_000 + Int64(stop) * 60_000,
                    expectedAt: TestAPI.now + 600_000 + Int64(stop) * 60_000 + Int64(delay) * 1000,
                    delaySeconds: delay, observedAt: TestAPI.now - 5_000)
            }
        }
        try await api.write(
            ObservationBatch(departures: departures(delay: 30), transitSnapshot: true), source: "metro",
            at: TestAPI.now - 4_000)
        try await api.test { client in
            let tag = try await client.execute(uri: "/api/snapshots/city/M1", method: .get) { response in
                #expect(response.status == .ok)
                let board =
                    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                let stops = try #require(board?["stops"] as? [[String: Any]])
                #expect(stops.map { $0["stop_id"] as? String } == ["S0", "S1", "S2"])
                let first = try #require((stops.first?["departures"] as? [[String: Any]])?.first)
                #expect(first["delay_seconds"] as? Int == 30)
                return try #require(response.headers[.eTag])
            }
            var conditional = HTTPFields()
            conditional[.ifNoneMatch] = tag
            try await client.execute(uri: "/api/snapshots/city/M1", method: .get, headers: conditional) {
                #expect($0.status == .notModified && $0.body.readableBytes == 0)
            }
            // Another run with the train later: the next request has it (the store's count of
            // runs written moved; the clock here does not).
            try await api.write(
                ObservationBatch(departures: departures(delay: 90), transitSnapshot: true), source: "metro",
                at: TestAPI.now - 1_000)
            try await client.execute(uri: "/api/snapshots/city/M1", method: .get, headers: conditional) {
                response in
                #expect(response.status == .ok && response.headers[.eTag] != tag)
                let board =
                    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                let stops = board?["stops"] as? [[String: Any]] ?? []
                let first = (stops.first?["departures"] as? [[String: Any]])?.first
                #expect(first?["delay_seconds"] as? Int == 90)
            }
            try await client.execute(uri: "/api/snapshots/elsewhere/M1", method: .get) { response in
                #expect(response.status == .notFound && response.headers[.eTag] == nil)
            }
        }
    }

    @Test("a client accepting gzip gets the kept answer gzip-encoded, with its own tag; either tag gets a 304")
    func gzip() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        let stations = (0..<20).map { i in
            StationObservation(
                sourceID: "bikes", stationID: "s\(i)", name: "Station \(i)", latitude: 48.85 + Double(i) / 1000,
                longitude: 2.35, capacity: 20, bikesAvailable: i, docksAvailable: 20 - i, isInstalled: true,
                isRenting: true, isReturning: true, observedAt: TestAPI.now - 60_000)
        }
        try await api.write(ObservationBatch(stations: stations), source: "bikes", at: TestAPI.now - 60_000)
        try await api.test { client in
            let (plain, tag) = try await client.execute(uri: "/api/stations?source=bikes", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentEncoding] == nil)
                #expect(response.headers[.vary] == "Accept-Encoding")
                return (Array(response.body.readableBytesView), try #require(response.headers[.eTag]))
            }
            #expect(plain.count > EncodedAnswer.gzipFrom)
            var accepting = HTTPFields()
            accepting[.acceptEncoding] = "gzip, deflate, br"
            // The first to ask starts the compression and may get the plain bytes; once it is
            // made, every such client gets it.
            var packed: (body: [UInt8], tag: String, length: String?)?
            for _ in 0..<200 where packed == nil {
                packed = try await client.execute(uri: "/api/stations?source=bikes", method: .get, headers: accepting) {
                    response in
                    #expect(response.status == .ok && response.headers[.vary] == "Accept-Encoding")
                    guard response.headers[.contentEncoding] == "gzip" else {
                        #expect(Array(response.body.readableBytesView) == plain && response.headers[.eTag] == tag)
                        return nil
                    }
                    return (
                        Array(response.body.readableBytesView), try #require(response.headers[.eTag]),
                        response.headers[.contentLength]
                    )
                }
                if packed == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            let gzip = try #require(packed, "the gzip encoding is served once made")
            #expect(gzip.body.count < plain.count && Gzip.decompress(gzip.body) == plain)
            #expect(gzip.length == String(gzip.body.count))
            let packedTag = gzip.tag
            #expect(packedTag != tag && packedTag.hasSuffix("-gz\""))
            for given in [tag, packedTag] {
                var conditional = accepting
                conditional[.ifNoneMatch] = given
                try await client.execute(uri: "/api/stations?source=bikes", method: .get, headers: conditional) {
                    #expect($0.status == .notModified && $0.body.readableBytes == 0)
                }
            }
            // gzip refused (q=0): the plain answer.
            accepting[.acceptEncoding] = "gzip;q=0"
            try await client.execute(uri: "/api/stations?source=bikes", method: .get, headers: accepting) {
                #expect($0.headers[.contentEncoding] == nil && Array($0.body.readableBytesView) == plain)
            }
        }
    }

    @Test("an answer that would shrink past 20:1 is sent plain (clients refuse such bodies as bombs)")
    func gzipRatio() throws {
        let repetitive = ByteBuffer(string: String(repeating: #"{"bikes":0,"docks":0,"status":"ok"},"#, count: 2_000))
        #expect(EncodedAnswer.Packed.encode(repetitive) == nil)
        var varied = ""
        var seed: UInt64 = 42
        for i in 0..<2_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            varied += #"{"id":"s\#(i)","bikes":\#(seed >> 58),"lat":48.\#(seed >> 40 % 100_000)},"#
        }
        let packed = try #require(EncodedAnswer.Packed.encode(ByteBuffer(string: varied)))
        #expect(packed.readableBytes * EncodedAnswer.Packed.maxRatio >= varied.utf8.count)
        #expect(Gzip.decompress(Array(packed.readableBytesView)) == Array(varied.utf8))
    }
}
