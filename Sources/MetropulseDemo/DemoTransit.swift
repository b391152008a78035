import Foundation
import GTFSRealtimeBindings
import MetropulseCore
import SwiftProtobuf

/// The demo city's metro and bus network: four lines, 40 stops, trips every few minutes in both
/// directions, delays that drift with time, and disruptions that come and go on a schedule. Like
/// the bike stations it is a pure function of time, served as GTFS-Realtime (trip updates, vehicle
/// positions, alerts).
public struct DemoTransit: Sendable {
    public struct Line: Sendable {
        public var id: String
        public var name: String
        /// Stop ids in order (direction 0; direction 1 runs them backwards).
        public var stops: [String]
        public var stopPositions: [(latitude: Double, longitude: Double)]
        /// Minutes between two trips in one direction.
        var headwayMinutes: Int64
        /// Minutes between two stops.
        var hopMinutes: Int64
        var maxDelaySeconds: Int
    }

    public let lines: [Line]
    /// The network moves in the city's steps (the feeds' timestamps advance every 10 s).
    static let stepMillis = DemoCity.stepSeconds * 1000
    /// Predictions are published this far ahead.
    static let horizonMillis: Int64 = 30 * 60_000

    public init() {
        func line(
            _ id: String, _ name: String, count: Int, angle: Double, lengthKm: Double, headway: Int64, hop: Int64,
            maxDelay: Int, firstStop: Int
        ) -> Line {
            let center = DemoCity.center
            let positions = (0..<count).map { index -> (latitude: Double, longitude: Double) in
                let offsetKm = (Double(index) / Double(count - 1) - 0.5) * lengthKm
                return (
                    center.latitude + offsetKm * cos(angle) / 111.32,
                    center.longitude + offsetKm * sin(angle) / (111.32 * cos(center.latitude * .pi / 180))
                )
            }
            let stops = (0..<count).map { "S" + String(format: "%02d", firstStop + $0) }
            return Line(
                id: id, name: name, stops: stops, stopPositions: positions, headwayMinutes: headway, hopMinutes: hop,
                maxDelaySeconds: maxDelay)
        }
        lines = [
            line(
                "M1", "Métro 1", count: 12, angle: .pi / 2, lengthKm: 11, headway: 4, hop: 2, maxDelay: 90, firstStop: 1
            ),
            line("M2", "Métro 2", count: 10, angle: 0, lengthKm: 9, headway: 5, hop: 2, maxDelay: 120, firstStop: 13),
            line(
                "B38", "Bus 38", count: 10, angle: .pi / 4, lengthKm: 7, headway: 8, hop: 3, maxDelay: 300,
                firstStop: 23),
            line(
                "B91", "Bus 91", count: 8, angle: -.pi / 4, lengthKm: 6, headway: 10, hop: 3, maxDelay: 420,
                firstStop: 33),
        ]
    }

    /// One trip: a line, a direction and its start (epoch ms, a multiple of the headway).
    struct Trip {
        var line: Line
        var direction: Int
        var start: Int64
        var id: String { "\(line.id)-\(direction)-\(start / 60_000)" }
        var stops: [String] { direction == 0 ? line.stops : line.stops.reversed() }
        var positions: [(latitude: Double, longitude: Double)] {
            direction == 0 ? line.stopPositions : line.stopPositions.reversed()
        }
        var hop: Int64 { line.hopMinutes * 60_000 }
        var end: Int64 { start + Int64(line.stops.count - 1) * hop }

        /// The trip's delay at `now`, seconds: drifts slowly, never below zero.
        func delay(at now: Int64) -> Int {
            var random = SplitMix64(seed: UInt64(truncatingIfNeeded: start / 60_000) &* 31 &+ UInt64(direction))
            let base = random.nextDouble()
            let drift = sin(Double(now - start) / 600_000 + base * 6) * 0.5 + 0.5
            return Int((base * 0.5 + drift * 0.5) * Double(line.maxDelaySeconds))
        }
    }

    /// Trips running at `now` or starting within the horizon.
    func trips(at now: Int64) -> [Trip] {
        lines.flatMap { line -> [Trip] in
            let headway = line.headwayMinutes * 60_000
            let duration = Int64(line.stops.count - 1) * line.hopMinutes * 60_000
            let first = (now - duration - 15 * 60_000) / headway
            let last = (now + Self.horizonMillis) / headway
            return (first...last).flatMap { k in
                (0...1).map { Trip(line: line, direction: $0, start: k * headway) }
            }.filter { $0.end + Int64($0.delay(at: now)) * 1000 >= now && $0.start <= now + Self.horizonMillis }
        }
    }

    /// Active disruptions at `now`: M2 has a signal failure for 15 minutes of every hour, B91 a
    /// detour for 20 minutes of every 40, and a network-wide notice is always on.
    func alerts(at now: Int64) -> [(id: String, alert: TransitRealtime_Alert)] {
        let hour: Int64 = 3_600_000
        var alerts: [(id: String, alert: TransitRealtime_Alert)] = []
        let m2Start = now / hour * hour + 20 * 60_000
        if now >= m2Start && now < m2Start + 15 * 60_000 {
            alerts.append(
                (
                    "m2-signal-\(m2Start / 60_000)",
                    alert(
                        cause: .technicalProblem, effect: .significantDelays,
                        header: "Métro 2: signal failure, expect delays", routes: ["M2"], from: m2Start,
                        to: m2Start + 15 * 60_000)
                ))
        }
        let cycle = 40 * 60_000 as Int64
        let detourStart = now / cycle * cycle
        if now < detourStart + 20 * 60_000 {
            alerts.append(
                (
                    "b91-detour-\(detourStart / 60_000)",
                    alert(
                        cause: .construction, effect: .detour,
                        header: "Bus 91: detour around road works", routes: ["B91"], from: detourStart,
                        to: detourStart + 20 * 60_000)
                ))
        }
        alerts.append(
            (
                "welcome",
                alert(
                    cause: .otherCause, effect: .otherEffect,
                    header: "Demo network: live data generated by Metropulse", routes: [], from: nil, to: nil)
            ))
        return alerts
    }

    private func alert(
        cause: TransitRealtime_Alert.Cause, effect: TransitRealtime_Alert.Effect, header: String,
        routes: [String], from: Int64?, to: Int64?
    ) -> TransitRealtime_Alert {
        var alert = TransitRealtime_Alert()
        alert.cause = cause
        alert.effect = effect
        var text = TransitRealtime_TranslatedString.Translation()
        text.text = header
        text.language = "en"
        alert.headerText.translation = [text]
        if from != nil || to != nil {
            var period = TransitRealtime_TimeRange()
            if let from { period.start = UInt64(from / 1000) }
            if let to { period.end = UInt64(to / 1000) }
            alert.activePeriod = [period]
        }
        alert.informedEntity = routes.map {
            var selector = TransitRealtime_EntitySelector()
            selector.routeID = $0
            return selector
        }
        if routes.isEmpty {
            var selector = TransitRealtime_EntitySelector()
            selector.agencyID = "demo"
            alert.informedEntity = [selector]
        }
        return alert
    }

    private func header(at now: Int64) -> TransitRealtime_FeedHeader {
        var header = TransitRealtime_FeedHeader()
        header.gtfsRealtimeVersion = "2.0"
        header.incrementality = .fullDataset
        header.timestamp = UInt64(now / Self.stepMillis * Self.stepMillis / 1000)
        return header
    }

    /// Trip updates: every trip's remaining stops within the horizon, with predicted times.
    public func tripUpdates(nowMillis now: Int64) -> [UInt8] {
        let now = now / Self.stepMillis * Self.stepMillis
        var message = TransitRealtime_FeedMessage()
        message.header = header(at: now)
        for trip in trips(at: now) {
            let delay = trip.delay(at: now)
            var update = TransitRealtime_TripUpdate()
            update.trip.tripID = trip.id
            update.trip.routeID = trip.line.id
            update.trip.directionID = UInt32(trip.direction)
            update.trip.scheduleRelationship = .scheduled
            update.timestamp = UInt64(now / 1000)
            for (index, stop) in trip.stops.enumerated() {
                let scheduled = trip.start + Int64(index) * trip.hop
                let expected = scheduled + Int64(delay) * 1000
                guard expected >= now - 30_000, expected <= now + Self.horizonMillis else { continue }
                var stu = TransitRealtime_TripUpdate.StopTimeUpdate()
                stu.stopSequence = UInt32(index + 1)
                stu.stopID = stop
                var event = TransitRealtime_TripUpdate.StopTimeEvent()
                event.time = expected / 1000
                event.delay = Int32(delay)
                event.scheduledTime = scheduled / 1000
                stu.departure = event
                update.stopTimeUpdate.append(stu)
            }
            guard !update.stopTimeUpdate.isEmpty else { continue }
            var entity = TransitRealtime_FeedEntity()
            entity.id = trip.id
            entity.tripUpdate = update
            message.entity.append(entity)
        }
        return (try? message.serializedBytes()) ?? []
    }

    /// Vehicle positions: every running trip, between the stops it is travelling.
    public func vehiclePositions(nowMillis now: Int64) -> [UInt8] {
        let now = now / Self.stepMillis * Self.stepMillis
        var message = TransitRealtime_FeedMessage()
        message.header = header(at: now)
        for trip in trips(at: now) {
            let elapsed = now - trip.start - Int64(trip.delay(at: now)) * 1000
            guard elapsed >= 0, elapsed <= trip.end - trip.start else { continue }
            let hop = Int(elapsed / trip.hop)
            let next = min(hop + 1, trip.stops.count - 1)
            let fraction = Double(elapsed % trip.hop) / Double(trip.hop)
            let from = trip.positions[hop]
            let to = trip.positions[next]
            var vehicle = TransitRealtime_VehiclePosition()
            vehicle.trip.tripID = trip.id
            vehicle.trip.routeID = trip.line.id
            vehicle.trip.directionID = UInt32(trip.direction)
            vehicle.vehicle.id = "\(trip.line.id)-v\((trip.start / 60_000) % 97)-\(trip.direction)"
            vehicle.vehicle.label = "\(trip.line.name) → \(trip.stops.last ?? "")"
            vehicle.position.latitude = Float(from.latitude + (to.latitude - from.latitude) * fraction)
            vehicle.position.longitude = Float(from.longitude + (to.longitude - from.longitude) * fraction)
            let bearing = atan2(to.longitude - from.longitude, to.latitude - from.latitude) * 180 / .pi
            vehicle.position.bearing = Float((bearing + 360).truncatingRemainder(dividingBy: 360))
            vehicle.stopID = trip.stops[next]
            vehicle.currentStatus = fraction < 0.1 ? .stoppedAt : .inTransitTo
            vehicle.timestamp = UInt64(now / 1000)
            var entity = TransitRealtime_FeedEntity()
            entity.id = vehicle.vehicle.id
            entity.vehicle = vehicle
            message.entity.append(entity)
        }
        return (try? message.serializedBytes()) ?? []
    }

    /// Alerts active now.
    public func alertFeed(nowMillis now: Int64) -> [UInt8] {
        let now = now / Self.stepMillis * Self.stepMillis
        var message = TransitRealtime_FeedMessage()
        message.header = header(at: now)
        for (id, alert) in alerts(at: now) {
            var entity = TransitRealtime_FeedEntity()
            entity.id = id
            entity.alert = alert
            message.entity.append(entity)
        }
        return (try? message.serializedBytes()) ?? []
    }
}

extension DemoTransit {
    /// SIRI-Lite StopMonitoring (IDFM PRIM shape, `{"value": ...}` wrappers) for one stop: the
    /// next passages of every line serving it.
    public func stopMonitoring(stop: String, nowMillis now: Int64) -> [UInt8] {
        let now = now / Self.stepMillis * Self.stepMillis
        var visits: [(at: Int64, visit: [String: Any])] = []
        for trip in trips(at: now) {
            guard let index = trip.stops.firstIndex(of: stop) else { continue }
            let delay = trip.delay(at: now)
            let aimed = trip.start + Int64(index) * trip.hop
            let expected = aimed + Int64(delay) * 1000
            guard expected >= now - 30_000, expected <= now + Self.horizonMillis else { continue }
            visits.append(
                (
                    expected,
                    [
                        "RecordedAtTime": Timestamp.iso8601(now),
                        "MonitoringRef": ["value": stop],
                        "MonitoredVehicleJourney": [
                            "LineRef": ["value": trip.line.id],
                            "FramedVehicleJourneyRef": ["DatedVehicleJourneyRef": trip.id],
                            "PublishedLineName": [["value": trip.line.name]],
                            "MonitoredCall": [
                                "StopPointRef": ["value": stop], "Order": index + 1,
                                "AimedDepartureTime": Timestamp.iso8601(aimed),
                                "ExpectedDepartureTime": Timestamp.iso8601(expected),
                                "DepartureStatus": delay > 60 ? "delayed" : "onTime",
                            ] as [String: Any],
                        ] as [String: Any],
                    ]
                ))
        }
        visits.sort { $0.at < $1.at }
        return Self.siri([
            "ResponseTimestamp": Timestamp.iso8601(now),
            "StopMonitoringDelivery": [
                ["ResponseTimestamp": Timestamp.iso8601(now), "MonitoredStopVisit": visits.map(\.visit)]
            ],
        ])
    }

    /// SIRI-Lite GeneralMessage (CTS shape) carrying the network's active disruptions.
    public func generalMessage(nowMillis now: Int64) -> [UInt8] {
        let now = now / Self.stepMillis * Self.stepMillis
        let messages = alerts(at: now).map { id, alert -> [String: Any] in
            var content: [String: Any] = [
                "Message": [
                    [
                        "MessageZoneRef": "title",
                        "MessageText": [["Value": alert.headerText.translation.first?.text ?? "", "Lang": "EN"]],
                    ]
                ],
                "ImpactedLineRef": alert.informedEntity.map(\.routeID).filter { !$0.isEmpty },
            ]
            if let period = alert.activePeriod.first {
                content["ImpactStartDateTime"] = Timestamp.iso8601(Int64(period.start) * 1000)
                content["ImpactEndDateTime"] = Timestamp.iso8601(Int64(period.end) * 1000)
            }
            return [
                "RecordedAtTime": Timestamp.iso8601(now), "InfoMessageIdentifier": id,
                "InfoChannelRef": alert.effect == .detour ? "Works" : "Information", "Content": content,
            ]
        }
        return Self.siri([
            "ResponseTimestamp": Timestamp.iso8601(now),
            "GeneralMessageDelivery": [["ResponseTimestamp": Timestamp.iso8601(now), "InfoMessage": messages]],
        ])
    }

    private static func siri(_ delivery: [String: Any]) -> [UInt8] {
        let document: [String: Any] = ["Siri": ["ServiceDelivery": delivery]]
        return Array((try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data())
    }
}
