import Foundation
import GTFSRealtimeBindings
import MetropulseConnectors
import MetropulseCore
import MetropulseDemo
import SwiftProtobuf
import Testing

/// The direct wire decoder against the reference (swift-protobuf's generated messages, then
/// normalized): the same feed from every input, and never a failure the reference does not have.
@Suite("GTFS-Realtime direct decoder")
struct GTFSRealtimeDecoderTests {
    /// Everything a feed carries, in one comparable text (NaN compares equal as text).
    static func summary(_ feed: GTFSRealtimeParser.Feed) -> String {
        "\(feed.batch) \(feed.rejected) \(String(describing: feed.timestamp)) \(feed.version) \(feed.entityCount)"
    }

    /// What one decoder made of some bytes.
    enum Outcome: Equatable {
        case feed(String)
        case refused(FetchErrorKind, String)
    }

    static func both(_ bytes: [UInt8]) -> (direct: Outcome, reference: Outcome) {
        func run(_ decoder: GTFSRealtimeParser.Decoder) -> Outcome {
            do {
                return .feed(
                    summary(try GTFSRealtimeParser.parse(bytes, sourceID: "s", fetchedAt: 1_000, decoder: decoder)))
            } catch let error as FetchError {
                return .refused(error.kind, error.message)
            } catch {
                return .refused(.decode, "\(error)")
            }
        }
        return (run(.direct), run(.swiftProtobuf))
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    /// A length-delimited field as protobuf writes it.
    static func field(_ number: Int, _ body: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(body.count)) + body
    }

    /// Inputs the suite compares on: the real captures, the specification's examples re-encoded,
    /// and the demo network's three feeds at a few times of day (trip updates with every kind of
    /// stop time, vehicles, alerts).
    static func inputs() throws -> [(name: String, bytes: [UInt8])] {
        var inputs: [(String, [UInt8])] = []
        for path in [
            "gtfs-rt/carris-metropolitana-lisbon-2023-07/alerts.pb", "gtfs-rt/edge-cases/cata-alerts-6-entities.pb",
            "gtfs-rt/edge-cases/cata-alerts-zero-entities.pb", "gtfs-rt/usf-bullrunner/bullrunner-vehicle-positions.pb",
        ] {
            inputs.append((path, try Fixtures.bytes(path)))
        }
        for path in ["gtfs-rt/spec/example-alerts.asciipb", "gtfs-rt/spec/example-trip-updates-full.asciipb"] {
            let text = String(decoding: try Fixtures.bytes(path), as: UTF8.self)
            let message = try TransitRealtime_FeedMessage(textFormatString: text)
            inputs.append((path, try message.serializedBytes()))
        }
        let transit = DemoTransit()
        for hour in [3, 8, 12, 18, 23] {
            let now = Int64(1_764_633_600 + hour * 3_600) * 1000
            inputs.append(("demo trip updates \(hour)h", transit.tripUpdates(nowMillis: now)))
            inputs.append(("demo vehicles \(hour)h", transit.vehiclePositions(nowMillis: now)))
            inputs.append(("demo alerts \(hour)h", transit.alertFeed(nowMillis: now)))
        }
        return inputs
    }

    @Test("the same feed as the reference from every capture, example and demo feed")
    func sameFeeds() throws {
        var departures = 0
        var vehicles = 0
        var disruptions = 0
        for (name, bytes) in try Self.inputs() {
            let direct = try GTFSRealtimeParser.parse(bytes, sourceID: "s", fetchedAt: 1_000, decoder: .direct)
            let reference = try GTFSRealtimeParser.parse(
                bytes, sourceID: "s", fetchedAt: 1_000, decoder: .swiftProtobuf)
            #expect(direct.batch == reference.batch, "\(name)")
            #expect(direct.rejected == reference.rejected, "\(name)")
            #expect(direct.timestamp == reference.timestamp && direct.version == reference.version, "\(name)")
            #expect(direct.entityCount == reference.entityCount, "\(name)")
            departures += direct.batch.departures.count
            vehicles += direct.batch.vehicles.count
            disruptions += direct.batch.disruptions.count
        }
        // Every kind of entity was compared.
        #expect(departures > 100 && vehicles > 20 && disruptions > 82)
    }

    @Test("required fields, enum values the specification does not list, merged fields, unknown fields")
    func protobufRules() throws {
        var message = TransitRealtime_FeedMessage()
        message.header.gtfsRealtimeVersion = "2.0"
        message.header.timestamp = 1_700_000_000
        var entity = TransitRealtime_FeedEntity()
        entity.id = "a"
        entity.alert.cause = .strike
        entity.alert.headerText.translation = [
            .with {
                $0.text = "Grève"
                $0.language = "fr"
            },
            .with {
                $0.text = "Strike"
                $0.language = "EN-gb"
            },
        ]
        message.entity = [entity]
        // The entity's alert field twice more: the first adds an effect (the occurrences merge),
        // the second an effect value the specification does not list (ignored, the field keeps
        // its value); then an unknown field (number 900, a varint).
        let merged: [UInt8] = try TransitRealtime_Alert.with { $0.effect = .detour }.serializedBytes()
        let entityBytes: [UInt8] =
            try entity.serializedBytes() + Self.field(5, merged) + Self.field(5, [0x38, 99]) + [0xA0, 0x38, 0x01]
        let bytes = Self.field(1, try message.header.serializedBytes()) + Self.field(2, entityBytes)
        let feed = try GTFSRealtimeParser.parse(bytes, sourceID: "s", fetchedAt: 0)
        #expect(feed.entityCount == 1 && feed.batch.disruptions.count == 1)
        let alert = try #require(feed.batch.disruptions.first)
        #expect(alert.header == "Strike" && alert.cause == "strike" && alert.effect == "detour")
        #expect(feed.timestamp == 1_700_000_000_000)
        let outcomes = Self.both(bytes)
        #expect(outcomes.direct == outcomes.reference)

        // An entity without its id: the feed is refused, naming the field.
        var anonymous = message
        anonymous.entity[0].clearID()
        let missing = #expect(throws: FetchError.self) {
            _ = try GTFSRealtimeParser.parse(try anonymous.serializedBytes(partial: true), sourceID: "s", fetchedAt: 0)
        }
        #expect(missing?.kind == .validation && missing?.message.contains("FeedEntity.id") == true)

        // A position without its longitude.
        var vehicle = message
        vehicle.entity[0] = .with {
            $0.id = "v"
            $0.vehicle.position.latitude = 48.85
        }
        let noLongitude = #expect(throws: FetchError.self) {
            _ = try GTFSRealtimeParser.parse(try vehicle.serializedBytes(partial: true), sourceID: "s", fetchedAt: 0)
        }
        #expect(noLongitude?.message.contains("Position.longitude") == true)

        // Invalid UTF-8 in an entity id, and a length running past the end.
        var broken = bytes
        let id = try #require(broken.firstIndex(of: UInt8(ascii: "a")))
        broken[id] = 0xFF
        let utf8 = #expect(throws: FetchError.self) {
            _ = try GTFSRealtimeParser.parse(broken, sourceID: "s", fetchedAt: 0)
        }
        #expect(utf8?.kind == .decode && utf8?.message.contains("UTF-8") == true)
        let truncated = #expect(throws: FetchError.self) {
            _ = try GTFSRealtimeParser.parse(Array(bytes.dropLast(4)), sourceID: "s", fetchedAt: 0)
        }
        #expect(truncated?.kind == .decode)
    }

    @Test("damaged feeds: no crash, no failure the reference does not have, and the same feed when both decode")
    func damagedFeeds() throws {
        var random = SplitMix64(seed: 20_261_202)
        let inputs = try Self.inputs()
        var compared = 0
        var refused = 0
        for round in 0..<1_500 {
            var bytes = inputs[round % inputs.count].bytes
            guard !bytes.isEmpty else { continue }
            for _ in 0...(random.next() % 3) {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 4 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes[at] ^= UInt8(1) << (random.next() % 8)
                case 2: bytes.removeSubrange(at...)
                default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: at)
                }
                if bytes.isEmpty { break }
            }
            let (direct, reference) = Self.both(bytes)
            switch (direct, reference) {
            case (.feed(let a), .feed(let b)):
                #expect(a == b, "round \(round)")
                compared += 1
            case (.refused(_, let error), .feed):
                Issue.record("round \(round): the direct decoder refused what the reference read: \(error)")
            case (.refused, .refused):
                refused += 1
            case (.feed, .refused):
                break  // the direct decoder does not read parts it skips (documented)
            }
        }
        #expect(compared > 100 && refused > 100)
    }
}
