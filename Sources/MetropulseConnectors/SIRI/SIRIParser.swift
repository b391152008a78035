public import MetropulseCore

/// Reads SIRI (XML) and SIRI-Lite (JSON) deliveries into the transit model:
/// - StopMonitoring (`MonitoredStopVisit`) and EstimatedTimetable (`EstimatedVehicleJourney` /
///   `EstimatedCall`) → departures;
/// - GeneralMessage (`GeneralMessage`, `InfoMessage`) and SituationExchange
///   (`PtSituationElement`) → disruptions;
/// - VehicleMonitoring (`VehicleActivity`) → vehicles.
/// An `ErrorCondition` (or a response whose `Status` is false with one) is a validation error
/// naming the condition. Times keep their offsets (`Timestamp.parse`).
public enum SIRIParser {
    public struct Delivery: Sendable {
        public var batch: ObservationBatch
        public var rejected: [Rejection]
        /// The delivery's `ResponseTimestamp`, epoch ms.
        public var timestamp: Int64?
    }

    public static func parse(_ body: [UInt8], sourceID: String, fetchedAt: Int64) throws -> Delivery {
        let root: SIRINode
        do {
            root = try SIRINode.parse(body)
        } catch let error as SIRIFormatError {
            throw FetchError(.decode, "SIRI: \(error.message)")
        }
        if let condition = root.descendants("ErrorCondition").first {
            let detail =
                condition.descendants("ErrorText").first?.value ?? condition.descendants("Description").first?.value
            let kind = condition.children.first { !["ErrorText", "Description"].contains($0.name) }?.name ?? "error"
            throw FetchError(.validation, "SIRI answered an error: \(kind)\(detail.map { ": \($0)" } ?? "")")
        }
        let services = root.descendants("ServiceDelivery")
        guard !services.isEmpty || !root.descendants("StopPointsDelivery").isEmpty else {
            throw FetchError(.validation, "SIRI: no ServiceDelivery in the answer")
        }
        let timestamp = services.first?.string("ResponseTimestamp").flatMap(Timestamp.parse)
        let observed = timestamp ?? fetchedAt
        var batch = ObservationBatch(transitSnapshot: true, transitObservedAt: observed)
        var rejected: [Rejection] = []

        // A visit's stop: its call's StopPointRef, else its MonitoringRef, else its delivery's.
        var visits: [(SIRINode, String?)] = []
        for delivery in root.descendants("StopMonitoringDelivery") {
            visits += delivery.descendants("MonitoredStopVisit").map { ($0, delivery.string("MonitoringRef")) }
        }
        if visits.isEmpty { visits = root.descendants("MonitoredStopVisit").map { ($0, nil) } }
        for (index, (visit, deliveryStop)) in visits.enumerated() {
            let journey = visit.first("MonitoredVehicleJourney")
            guard let journey, let call = journey.first("MonitoredCall") else {
                rejected.append(Rejection(entity: "MonitoredStopVisit[\(index)]", reason: "no MonitoredCall"))
                continue
            }
            let stop = call.string("StopPointRef") ?? visit.string("MonitoringRef") ?? deliveryStop
            if let departure = departure(
                call, stop: stop, journey: journey, recorded: visit.string("RecordedAtTime"), sourceID: sourceID,
                observed: observed, cancelled: false)
            {
                batch.departures.append(departure)
            } else {
                rejected.append(Rejection(entity: "MonitoredStopVisit[\(index)]", reason: "no stop or no time"))
            }
        }

        for (index, journey) in root.descendants("EstimatedVehicleJourney").enumerated() {
            let calls = journey.descendants("EstimatedCall")
            let cancelled = SIRINode.isTrue(journey.string("Cancellation"))
            var used = 0
            for call in calls {
                if let departure = departure(
                    call, stop: call.string("StopPointRef"), journey: journey,
                    recorded: journey.string("RecordedAtTime"),
                    sourceID: sourceID, observed: observed, cancelled: cancelled)
                {
                    batch.departures.append(departure)
                    used += 1
                }
            }
            if used == 0 {
                rejected.append(
                    Rejection(
                        entity: tripID(journey) ?? "EstimatedVehicleJourney[\(index)]",
                        reason: "no usable EstimatedCall"))
            }
        }

        for message in root.descendants("GeneralMessage") + root.descendants("InfoMessage") {
            batch.disruptions.append(generalMessage(message, sourceID: sourceID, observed: observed))
        }
        for situation in root.descendants("PtSituationElement") + root.descendants("RoadSituationElement") {
            batch.disruptions.append(situationElement(situation, sourceID: sourceID, observed: observed))
        }

        for (index, activity) in root.descendants("VehicleActivity").enumerated() {
            guard let journey = activity.first("MonitoredVehicleJourney"),
                let location = journey.first("VehicleLocation"),
                let latitude = location.string("Latitude").flatMap(Double.init),
                let longitude = location.string("Longitude").flatMap(Double.init),
                (-90...90).contains(latitude), (-180...180).contains(longitude)
            else {
                rejected.append(Rejection(entity: "VehicleActivity[\(index)]", reason: "no VehicleLocation"))
                continue
            }
            let id =
                journey.string("VehicleRef") ?? activity.string("VehicleMonitoringRef")
                ?? activity.string("ItemIdentifier") ?? "vehicle-\(index)"
            batch.vehicles.append(
                VehiclePosition(
                    sourceID: sourceID, vehicleID: id, label: journey.string("PublishedLineName"),
                    routeID: journey.string("LineRef"), tripID: tripID(journey), latitude: latitude,
                    longitude: longitude, bearing: journey.string("Bearing").flatMap(Double.init),
                    stopID: journey.at("MonitoredCall")?.string("StopPointRef"),
                    observedAt: activity.string("RecordedAtTime").flatMap(Timestamp.parse) ?? observed))
        }
        return Delivery(batch: batch, rejected: rejected, timestamp: timestamp)
    }

    private static func tripID(_ journey: SIRINode) -> String? {
        journey.at("FramedVehicleJourneyRef")?.string("DatedVehicleJourneyRef")
            ?? journey.string("DatedVehicleJourneyRef") ?? journey.string("DatedVehicleJourneyCode")
    }

    private static func departure(
        _ call: SIRINode, stop: String?, journey: SIRINode, recorded: String?, sourceID: String, observed: Int64,
        cancelled: Bool
    ) -> Departure? {
        guard let stop, !stop.isEmpty else { return nil }
        let aimed = (call.string("AimedDepartureTime") ?? call.string("AimedArrivalTime")).flatMap(Timestamp.parse)
        let expected =
            (call.string("ExpectedDepartureTime") ?? call.string("ExpectedArrivalTime")
            ?? call.string("ActualDepartureTime") ?? call.string("ActualArrivalTime")).flatMap(Timestamp.parse)
        guard aimed != nil || expected != nil else { return nil }
        let status = (call.string("DepartureStatus") ?? call.string("ArrivalStatus"))?.lowercased()
        let relationship: String
        if cancelled || SIRINode.isTrue(call.string("Cancellation")) || status == "cancelled" {
            relationship = "canceled"
        } else if status == "noreport" || status == "no_report" {
            relationship = "no_data"
        } else {
            relationship = "scheduled"
        }
        return Departure(
            sourceID: sourceID, stopID: stop,
            stopSequence: (call.string("Order") ?? call.string("VisitNumber")).flatMap { Int($0) },
            routeID: journey.string("LineRef"), tripID: tripID(journey),
            directionID: journey.string("DirectionRef").flatMap { Int($0) }, vehicleID: journey.string("VehicleRef"),
            scheduledAt: aimed, expectedAt: expected,
            delaySeconds: aimed.flatMap { a in expected.map { Int(($0 - a) / 1000) } }, relationship: relationship,
            observedAt: recorded.flatMap(Timestamp.parse) ?? observed)
    }

    /// Prefers English, then text without a language, then the first.
    private static func text(_ nodes: [SIRINode]) -> String? {
        func language(_ node: SIRINode) -> String? { (node.string("lang") ?? node.string("Lang"))?.lowercased() }
        let chosen =
            nodes.first { language($0)?.hasPrefix("en") == true } ?? nodes.first { language($0) == nil } ?? nodes.first
        return chosen?.value
    }

    private static func generalMessage(_ m: SIRINode, sourceID: String, observed: Int64) -> Disruption {
        let content = m.first("Content")
        // Zones by name (title, details, period, ...), in order.
        var zones: [(zone: String, text: String)] = []
        for message in content?.all("Message") ?? [] {
            if let value = text(message.all("MessageText")) {
                zones.append((message.string("MessageZoneRef")?.lowercased() ?? "", value))
            }
        }
        func zone(_ names: String...) -> String? { zones.first { names.contains($0.zone) }?.text }
        var header = zone("title", "shortmessage") ?? zones.first?.text
        let details =
            zone("details", "longmessage", "message")
            ?? zones.filter { $0.text != header }.map(\.text).joined(separator: " — ").nilIfEmpty
        if header == nil { header = content?.value }
        let start = (content?.string("ImpactStartDateTime") ?? m.string("RecordedAtTime")).flatMap(Timestamp.parse)
        let end = (content?.string("ImpactEndDateTime") ?? m.string("ValidUntilTime")).flatMap(Timestamp.parse)
        let lines =
            (content?.descendants("ImpactedLineRef") ?? []) + (content?.descendants("LineRef") ?? [])
        let stops = (content?.descendants("StopPointRef") ?? []) + (content?.descendants("ImpactedStopPointRef") ?? [])
        let id = m.string("InfoMessageIdentifier") ?? m.string("ItemIdentifier") ?? "message-\(header?.count ?? 0)"
        return Disruption(
            sourceID: sourceID, id: id, cause: m.string("InfoChannelRef")?.lowercased(), effect: nil,
            severity: content?.string("Priority")?.lowercased(), header: header, details: details,
            periods: start == nil && end == nil ? [] : [Disruption.Period(start: start, end: end)],
            entities: lines.compactMap(\.value).map { Disruption.Entity(routeID: $0) }
                + stops.compactMap(\.value).map { Disruption.Entity(stopID: $0) },
            observedAt: m.string("RecordedAtTime").flatMap(Timestamp.parse) ?? observed)
    }

    private static func situationElement(_ s: SIRINode, sourceID: String, observed: Int64) -> Disruption {
        let periods = s.all("ValidityPeriod").map {
            Disruption.Period(
                start: $0.string("StartTime").flatMap(Timestamp.parse),
                end: $0.string("EndTime").flatMap(Timestamp.parse))
        }
        let affects = s.first("Affects")
        let lines = Set((affects?.descendants("LineRef") ?? []).compactMap(\.value)).sorted()
        let stops = Set((affects?.descendants("StopPointRef") ?? []).compactMap(\.value)).sorted()
        let reasons = [
            "MiscellaneousReason", "PersonnelReason", "EquipmentReason", "EnvironmentReason", "UndefinedReason",
        ]
        let cause = reasons.lazy.compactMap { s.string($0) }.first ?? s.string("ReasonName")
        let condition = s.descendants("Condition").first?.value
        return Disruption(
            sourceID: sourceID,
            id: s.string("SituationNumber") ?? s.at("SituationRef")?.string("SituationSimpleRef") ?? "situation",
            cause: cause?.snakeCased, effect: condition?.snakeCased, severity: s.string("Severity")?.lowercased(),
            header: text(s.all("Summary")), details: text(s.all("Description")), url: s.descendants("Uri").first?.value,
            periods: periods,
            entities: lines.map { Disruption.Entity(routeID: $0) } + stops.map { Disruption.Entity(stopID: $0) },
            observedAt: (s.string("VersionedAtTime") ?? s.string("CreationTime")).flatMap(Timestamp.parse) ?? observed)
    }
}
