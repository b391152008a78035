import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("SIRI and SIRI-Lite on real captures")
struct SIRIParserTests {
    static func parse(_ path: String) throws -> SIRIParser.Delivery {
        try SIRIParser.parse(Fixtures.bytes("siri/" + path), sourceID: "siri", fetchedAt: 0)
    }

    @Test("IDFM PRIM SIRI-Lite EstimatedTimetable (bus 17): 8 journeys, 111 calls, {value} wrappers")
    func idfmEstimatedTimetable() throws {
        let delivery = try Self.parse("idfm-prim-sirilite/estimated-timetable_LineRef-C00680_2025-02-17.json")
        #expect(delivery.batch.departures.count == 111 && delivery.rejected.isEmpty)
        #expect(delivery.timestamp == Timestamp.parse("2025-02-17T18:41:34.944Z"))
        #expect(delivery.batch.transitSnapshot)
        let first = try #require(delivery.batch.departures.first)
        #expect(first.routeID == "STIF:Line::C00680:")
        #expect(first.tripID == "526RDSACLAY:VehicleJourney::10809895:LOC")
        #expect(first.stopID == "STIF:StopPoint:Q:11297:")
        #expect(first.scheduledAt == Timestamp.parse("2025-02-17T18:44:00Z"))
        #expect(first.expectedAt == Timestamp.parse("2025-02-17T18:45:10Z"))
        #expect(first.delaySeconds == 70 && first.relationship == "scheduled")
        #expect(Set(delivery.batch.departures.compactMap(\.tripID)).count == 8)
    }

    @Test("CTS Strasbourg SIRI-Lite GeneralMessage: 10 messages with title, details, lines and impact period")
    func ctsGeneralMessage() throws {
        let delivery = try Self.parse("cts-strasbourg-sirilite/general-message_2021-09-13.json")
        #expect(delivery.batch.disruptions.count == 10)
        let first = try #require(delivery.batch.disruptions.first { $0.id == "D3511-1" })
        #expect(first.header == "Ligne 13 : arrêt Bâle déplacé")
        #expect(first.details?.hasPrefix("En raison de travaux") == true, "\(first)")
        #expect(first.routeIDs == ["13"] && first.cause == "works" && first.severity == "urgent")
        #expect(
            first.periods == [
                Disruption.Period(
                    start: Timestamp.parse("2021-09-13T02:00:00+02:00"),
                    end: Timestamp.parse("2021-09-25T01:59:59+02:00"))
            ])
        #expect(delivery.batch.disruptions.first { $0.id == "D3495-18" }?.routeIDs == ["B", "E", "H"])
    }

    @Test("CEN StopMonitoring: stop from MonitoringRef, aimed and expected times with offsets, delay")
    func cenStopMonitoring() throws {
        let simple = try Self.parse("spec-examples-cen/exs_stopMonitoring_response_simple.xml")
        #expect(simple.batch.departures.count == 2)
        let first = try #require(simple.batch.departures.first)
        #expect(first.stopID == "HLTST011")
        #expect(first.scheduledAt == Timestamp.parse("2004-12-17T14:42:47Z"))
        #expect(first.expectedAt == Timestamp.parse("2004-12-17T14:40:47Z") && first.delaySeconds == -120)
        #expect(simple.batch.departures[1].expectedAt == Timestamp.parse("2004-12-17T14:40:41Z"))  // actual time
        let full = try Self.parse("spec-examples-cen/exs_stopMonitoring_response.xml")
        #expect(
            full.batch.departures.count == 2 && full.batch.departures.allSatisfy { $0.routeID != nil },
            "\(full.batch.departures) \(full.rejected)")
    }

    @Test("CEN EstimatedTimetable, GeneralMessage, SituationExchange and VehicleMonitoring examples")
    func cenExamples() throws {
        let et = try Self.parse("spec-examples-cen/ext_estimatedTimetable_response.xml")
        // The first journey's three calls; the second journey has no estimated call.
        #expect(et.batch.departures.map(\.stopID) == ["00001", "00002", "00003"])
        #expect(et.batch.departures.allSatisfy { $0.routeID == "LZ123" && $0.tripID == "00008" })
        #expect(et.rejected == [Rejection(entity: "00009", reason: "no usable EstimatedCall")])
        let gm = try Self.parse("spec-examples-cen/exm_generalMessage_response.xml")
        #expect(gm.batch.disruptions.map(\.id) == ["00034567"])
        #expect(gm.batch.disruptions.first?.header == "Beware the Ides of March")
        #expect(gm.batch.disruptions.first?.cause == "warnings")
        let sx = try Self.parse("spec-examples-cen/exx_situationExchange_response.xml")
        // One public-transport and one road situation.
        #expect(sx.batch.disruptions.count == 2, "\(sx.batch.disruptions)")
        #expect(sx.batch.disruptions.first?.header == "Bomb at Barchester station")
        let vm = try Self.parse("spec-examples-cen/exv_vehicleMonitoring_response.xml")
        #expect(vm.batch.vehicles.count == 2 && vm.rejected.isEmpty)
    }

    @Test("Entur/Norway 2016: Ruter and AtB situations (namespace prefixes mixed), Kolumbus vehicles")
    func norway() throws {
        let ruter = try Self.parse("entur-anshar-norway-2016/ServiceDelivery_ruter_SX.xml")
        #expect(ruter.batch.disruptions.count == 45)
        #expect(ruter.batch.disruptions.allSatisfy { !$0.id.isEmpty && $0.header != nil })
        let atb = try Self.parse("entur-anshar-norway-2016/SituationExchangeAnswer_raw.xml")
        #expect(atb.batch.disruptions.count == 41)
        let kolumbus = try Self.parse("entur-anshar-norway-2016/VehicleMonitoringAnswer_raw.xml")
        // 128 activities carry an empty <VehicleLocation/>: rejected with the reason.
        #expect(kolumbus.batch.vehicles.count == 387 && kolumbus.rejected.count == 128)
        #expect(kolumbus.rejected.first?.reason == "no VehicleLocation")
        let vehicle = try #require(kolumbus.batch.vehicles.first)
        #expect((-90...90).contains(vehicle.latitude) && vehicle.latitude > 58 && vehicle.longitude > 5)
    }

    @Test("errors: SIRI error conditions, a request instead of a delivery, not XML or JSON")
    func invalid() throws {
        let cases: [(String, FetchErrorKind, String)] = [
            ("../invalid/siri/kolumbus-VMSubscriptionResponse_error.xml", .validation, "CapabilityNotSupportedError"),
            ("spec-examples-cen/exa_terminateSubscription_response_err.xml", .validation, "UnknownSubscriberError"),
            ("spec-examples-cen/exs_stopMonitoring_request.xml", .validation, "no ServiceDelivery"),
        ]
        for (path, kind, text) in cases {
            let error = #expect(throws: FetchError.self) { _ = try Self.parse(path) }
            #expect(
                error?.kind == kind && error?.message.contains(text) == true, "\(path): \(String(describing: error))")
        }
        let garbage = #expect(throws: FetchError.self) {
            _ = try SIRIParser.parse(Array("oops".utf8), sourceID: "s", fetchedAt: 0)
        }
        #expect(garbage?.kind == .decode)
        let broken = #expect(throws: FetchError.self) {
            _ = try SIRIParser.parse(Array("<Siri><ServiceDelivery>".utf8), sourceID: "s", fetchedAt: 0)
        }
        #expect(broken?.kind == .decode && broken?.message.contains("XML") == true)
    }
}
