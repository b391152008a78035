import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing
import ZIPFoundation

/// Documents built to break readers: every reader must throw or return, never trap, hang or run
/// out of stack. The regression fixtures from the fuzzers live under `Tests/Fuzz/regressions/`.
@Suite("Hostile documents")
struct HostileDocumentTests {
    static func repeated(_ open: String, _ close: String, _ count: Int, inner: String = "1") -> [UInt8] {
        Array((String(repeating: open, count: count) + inner + String(repeating: close, count: count)).utf8)
    }

    /// What every reader is given.
    static let documents: [(String, [UInt8])] = [
        ("empty", []),
        ("deep arrays", repeated("[", "]", 200_000)),
        ("deep objects", repeated("{\"a\":", "}", 100_000)),
        ("deep data", Array(("{\"data\":{\"stations\":[" + String(repeating: "[", count: 100_000)).utf8)),
        ("unterminated", Array("{\"data\":{\"stations\":[{\"station_id\":\"1".utf8)),
        ("escape at the end", Array("{\"a\":\"\\".utf8)),
        (
            "extreme numbers",
            Array(
                """
                {"last_updated": 99999999999999999999999, "ttl": -9223372036854775808,
                 "utc_offset_seconds": 1e308, "latitude": 1e999, "longitude": -1e999,
                 "data": {"stations": [{"station_id": "1", "num_bikes_available": 9223372036854775807,
                 "num_docks_available": 9223372036854775807, "is_installed": 1, "is_renting": 1, "is_returning": 1,
                 "last_reported": 9223372036854775807,
                 "num_bikes_available_types": [{"mechanical": 9223372036854775807}, {"mechanical": 9223372036854775807}]}]},
                 "current": {"time": 9223372036854775807, "temperature_2m": 1e308},
                 "records": [{"id": "", "time": 1e300, "value": 1e308, "lat": 1e300, "lon": "x"}],
                 "results": [{"value": 1e308, "datetime": {"utc": "99999-01-01T00:00:00Z"}}]}
                """.utf8)
        ),
        ("nul bytes", Array("{\"data\":{\"stations\":[{\"station_id\":\"\u{0}\"}]}}".utf8) + [0, 0, 0]),
        ("not UTF-8", [0xFF, 0xFE, 0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D]),
        ("doctype", Array("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><Siri>&lol;</Siri>".utf8)),
        ("deep XML", repeated("<a>", "</a>", 50_000)),
        ("protobuf varints", [UInt8](repeating: 0xFF, count: 4_096)),
        ("nested protobuf", Array(repeating: [0x0A, 0x7F], count: 2_000).flatMap { $0 }),
        ("csv quote", Array("stop_id,stop_name\n\"1,\"\"\n".utf8) + Array(repeating: 0x22, count: 10_000)),
    ]

    @Test("every reader throws or returns on hostile documents", arguments: FeedReaders.all.map(\.name))
    func readers(_ name: String) throws {
        for (label, body) in Self.documents {
            do {
                _ = try FeedReaders.run(name, body)
            } catch {
                // Refused with a reason: what a failed run records.
                #expect(!"\(error)".isEmpty, "\(name) on \(label)")
            }
        }
    }

    @Test("the fuzzers' regression inputs stay fixed", arguments: FeedReaders.all.map(\.name))
    func regressions(_ name: String) throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/regressions/\(name)")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for file in files.sorted() {
            let body = Array(try Data(contentsOf: folder.appendingPathComponent(file)))
            _ = try? FeedReaders.run(name, body)
        }
    }

    @Test("SIRI with a document type declaration is refused with the reason")
    func doctype() throws {
        let body = Array(
            "<?xml version=\"1.0\"?>\n<!doctype Siri SYSTEM \"file:///etc/passwd\"><Siri><ServiceDelivery/></Siri>".utf8
        )
        let error = try #require(throws: FetchError.self) {
            try SIRIParser.parse(body, sourceID: "s", fetchedAt: 0)
        }
        #expect(error.message.contains("DOCTYPE"))
        let deep = try #require(throws: FetchError.self) {
            try SIRIParser.parse(Self.repeated("<a>", "</a>", 1_000), sourceID: "s", fetchedAt: 0)
        }
        #expect(deep.message.contains("nested deeper"))
        // An element name that is not UTF-8 trapped FoundationXML (found by fuzzing).
        let latin = try #require(throws: FetchError.self) {
            try SIRIParser.parse(
                Array("<Siri><Force".utf8) + [0xD2] + Array("esend/></Siri>".utf8), sourceID: "s", fetchedAt: 0)
        }
        #expect(latin.message.contains("UTF-8"))
    }

    @Test("GBFS nested past the depth limit is refused, not read to the bottom of the stack")
    func depth() throws {
        let body = Array(
            ("{\"last_updated\":1,\"data\":{\"x\":" + String(repeating: "[", count: 10_000)).utf8)
        let error = try #require(throws: FetchError.self) {
            try GBFSParser.stationStatus(body, sourceID: "s", catalog: nil, fetchedAt: 0)
        }
        #expect(error.kind == .decode && error.message.contains("nested deeper than 128 levels"))
    }

    /// A zip whose stops.txt inflates to `bytes` bytes, plus `extra` empty files.
    static func zip(stopsBytes bytes: Int, extra: Int = 0) throws -> [UInt8] {
        let archive = try Archive(accessMode: .create)
        var stops = Data("stop_id,stop_name\n".utf8)
        stops.append(Data(repeating: 0x41, count: bytes))
        func add(_ name: String, _ data: Data) throws {
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate
            ) { position, size in data.subdata(in: Int(position)..<Int(position) + size) }
        }
        try add("stops.txt", stops)
        try add("routes.txt", Data("route_id\nR1\n".utf8))
        for index in 0..<extra { try add("extra-\(index).txt", Data()) }
        return Array(try #require(archive.data))
    }

    @Test("static GTFS zip bombs: entries and extracted size are bounded before and during extraction")
    func zipBombs() throws {
        let limits = GTFSStaticParser.Limits(maxEntries: 10, maxExtractedBytes: 1 << 20)
        let bomb = try Self.zip(stopsBytes: 4 << 20)
        #expect(bomb.count < 64 << 10)  // 4 MB of one letter deflates to a few kilobytes
        let large = try #require(throws: FetchError.self) { try GTFSStaticParser.parse(bomb, limits: limits) }
        #expect(large.kind == .validation && large.message.contains("past the limit"))
        let many = try #require(throws: FetchError.self) {
            try GTFSStaticParser.parse(try Self.zip(stopsBytes: 10, extra: 20), limits: limits)
        }
        #expect(many.message.contains("more than 10 entries"))
        #expect(try GTFSStaticParser.parse(try Self.zip(stopsBytes: 10), limits: limits).routes.count == 1)
    }
}
