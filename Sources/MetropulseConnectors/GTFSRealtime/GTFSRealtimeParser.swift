import GTFSRealtimeBindings
public import MetropulseCore
import SwiftProtobuf

/// Decodes a GTFS-Realtime `FeedMessage` (protobuf) and normalizes it: trip updates become
/// departures (one per stop time update), vehicle positions become vehicles, alerts become
/// disruptions. Entities that cannot be used are rejected with a reason, not fatal.
public enum GTFSRealtimeParser {
    public struct Feed: Sendable {
        public var batch: ObservationBatch
        public var rejected: [Rejection]
        /// The header's timestamp, epoch ms.
        public var timestamp: Int64?
        public var version: String
        public var entityCount: Int
    }

    /// How the binary encoding is decoded.
    public enum Decoder: Sendable, CaseIterable {
        /// Straight from the wire format into departures, vehicles and disruptions
        /// (`GTFSRealtimeWireDecoder`): the production path.
        case direct
        /// Into swift-protobuf's generated messages, then normalized: the reference the direct
        /// decoder is tested against, and the benchmark's second figure.
        case swiftProtobuf
    }

    /// Decodes the binary protobuf encoding.
    public static func parse(_ body: [UInt8], sourceID: String, fetchedAt: Int64, decoder: Decoder = .direct)
        throws -> Feed
    {
        switch decoder {
        case .direct:
            do {
                return try GTFSRealtimeWireDecoder.decode(body, sourceID: sourceID, fetchedAt: fetchedAt)
            } catch .missing(let field) {
                throw FetchError(.validation, "GTFS-Realtime: the required field \(field) is missing")
            } catch .wire(let failure) {
                let reason =
                    switch failure {
                    case .truncated: "truncated"
                    case .invalidUTF8: "invalid UTF-8 in a string"
                    case .malformed(let what): "malformed: \(what)"
                    }
                throw FetchError(.decode, "GTFS-Realtime: not a FeedMessage (\(reason))")
            }
        case .swiftProtobuf:
            let message: TransitRealtime_FeedMessage
            do {
                message = try TransitRealtime_FeedMessage(serializedBytes: body)
            } catch BinaryDecodingError.missingRequiredFields {
                throw FetchError(
                    .validation,
                    "GTFS-Realtime: a required field is missing (the header, its version, or an entity id)")
            } catch {
                throw FetchError(.decode, "GTFS-Realtime: not a FeedMessage (\(error))")
            }
            return try normalize(message, sourceID: sourceID, fetchedAt: fetchedAt)
        }
    }

    /// Decodes the protobuf text format (the specification's `.asciipb` examples).
    public static func parse(textFormat: String, sourceID: String, fetchedAt: Int64) throws -> Feed {
        let message: TransitRealtime_FeedMessage
        do {
            message = try TransitRealtime_FeedMessage(textFormatString: textFormat)
        } catch {
            throw FetchError(.decode, "GTFS-Realtime text format: \(error)")
        }
        return try normalize(message, sourceID: sourceID, fetchedAt: fetchedAt)
    }

    static func normalize(_ message: TransitRealtime_FeedMessage, sourceID: String, fetchedAt: Int64) throws -> Feed {
        guard message.hasHeader, message.header.hasGtfsRealtimeVersion else {
            throw FetchError(.validation, "GTFS-Realtime: the feed has no header with gtfs_realtime_version")
        }
        let header = message.header
        let feedTime = header.hasTimestamp ? millis(header.timestamp) : nil
        let observed = feedTime ?? fetchedAt
        var batch = ObservationBatch(
            transitSnapshot: header.incrementality != .differential, transitObservedAt: observed)
        var rejected: [Rejection] = []
        for entity in message.entity {
            let id = entity.id.isEmpty ? "entity[\(batch.count + rejected.count)]" : entity.id
            if entity.isDeleted { continue }
            var used = false
            if entity.hasTripUpdate {
                used = true
                let departures = self.departures(entity.tripUpdate, sourceID: sourceID, observed: observed)
                if departures.isEmpty {
                    rejected.append(Rejection(entity: id, reason: "trip update without a usable stop time update"))
                }
                batch.departures += departures
            }
            if entity.hasVehicle {
                used = true
                switch vehicle(entity.vehicle, entityID: id, sourceID: sourceID, observed: observed) {
                case .success(let vehicle): batch.vehicles.append(vehicle)
                case .failure(let rejection): rejected.append(rejection)
                }
            }
            if entity.hasAlert {
                used = true
                batch.disruptions.append(disruption(entity.alert, id: id, sourceID: sourceID, observed: observed))
            }
            if !used { rejected.append(Rejection(entity: id, reason: "no trip_update, vehicle or alert")) }
        }
        return Feed(
            batch: batch, rejected: rejected, timestamp: feedTime, version: header.gtfsRealtimeVersion,
            entityCount: message.entity.count)
    }

    private static func departures(_ update: TransitRealtime_TripUpdate, sourceID: String, observed: Int64)
        -> [Departure]
    {
        let trip = update.trip
        let tripRelationship = GTFSRealtimeNames.tripRelationship.name(trip.scheduleRelationship)
        let observedAt = (update.hasTimestamp ? millis(update.timestamp) : nil) ?? observed
        return update.stopTimeUpdate.compactMap { stu -> Departure? in
            let stopID =
                stu.hasStopID && !stu.stopID.isEmpty
                ? stu.stopID : (stu.hasStopSequence ? "#\(stu.stopSequence)" : nil)
            guard let stopID else { return nil }
            let event = stu.hasDeparture ? stu.departure : (stu.hasArrival ? stu.arrival : nil)
            let expected = event.flatMap { $0.hasTime ? millis($0.time) : nil }
            let delay =
                event.flatMap { $0.hasDelay ? Int($0.delay) : nil } ?? (update.hasDelay ? Int(update.delay) : nil)
            var scheduled = event.flatMap { $0.hasScheduledTime ? millis($0.scheduledTime) : nil }
            if scheduled == nil, let expected, let delay { scheduled = expected - Int64(delay) * 1000 }
            let relationship =
                tripRelationship == "scheduled"
                ? GTFSRealtimeNames.stopRelationship.name(stu.scheduleRelationship) : tripRelationship
            return Departure(
                sourceID: sourceID, stopID: stopID, stopSequence: stu.hasStopSequence ? Int(stu.stopSequence) : nil,
                routeID: trip.hasRouteID ? trip.routeID : nil, tripID: trip.hasTripID ? trip.tripID : nil,
                directionID: trip.hasDirectionID ? Int(trip.directionID) : nil,
                vehicleID: update.hasVehicle && update.vehicle.hasID ? update.vehicle.id : nil, scheduledAt: scheduled,
                expectedAt: expected, delaySeconds: delay, relationship: relationship, observedAt: observedAt)
        }
    }

    private enum VehicleResult {
        case success(VehiclePosition)
        case failure(Rejection)
    }

    private static func vehicle(
        _ v: TransitRealtime_VehiclePosition, entityID: String, sourceID: String, observed: Int64
    ) -> VehicleResult {
        let id =
            v.hasVehicle && v.vehicle.hasID && !v.vehicle.id.isEmpty
            ? v.vehicle.id : (v.hasVehicle && v.vehicle.hasLabel ? v.vehicle.label : entityID)
        guard v.hasPosition else { return .failure(Rejection(entity: id, reason: "vehicle without a position")) }
        let latitude = Double(v.position.latitude)
        let longitude = Double(v.position.longitude)
        guard (-90...90).contains(latitude), (-180...180).contains(longitude), latitude != 0 || longitude != 0 else {
            return .failure(Rejection(entity: id, reason: "position \(latitude), \(longitude) is not on Earth"))
        }
        return .success(
            VehiclePosition(
                sourceID: sourceID, vehicleID: id, label: v.vehicle.hasLabel ? v.vehicle.label : nil,
                routeID: v.hasTrip && v.trip.hasRouteID ? v.trip.routeID : nil,
                tripID: v.hasTrip && v.trip.hasTripID ? v.trip.tripID : nil, latitude: latitude, longitude: longitude,
                bearing: v.position.hasBearing ? Double(v.position.bearing) : nil,
                speed: v.position.hasSpeed ? Double(v.position.speed) : nil, stopID: v.hasStopID ? v.stopID : nil,
                currentStatus: v.hasCurrentStatus ? GTFSRealtimeNames.stopStatus.name(v.currentStatus) : nil,
                observedAt: (v.hasTimestamp ? millis(v.timestamp) : nil) ?? observed))
    }

    private static func disruption(_ a: TransitRealtime_Alert, id: String, sourceID: String, observed: Int64)
        -> Disruption
    {
        Disruption(
            sourceID: sourceID, id: id, cause: a.hasCause ? GTFSRealtimeNames.cause.name(a.cause) : nil,
            effect: a.hasEffect ? GTFSRealtimeNames.effect.name(a.effect) : nil,
            severity: a.hasSeverityLevel ? GTFSRealtimeNames.severity.name(a.severityLevel) : nil,
            header: a.hasHeaderText ? text(a.headerText) : nil,
            details: a.hasDescriptionText ? text(a.descriptionText) : nil, url: a.hasURL ? text(a.url) : nil,
            periods: a.activePeriod.map {
                Disruption.Period(
                    start: $0.hasStart && $0.start > 0 ? millis($0.start) : nil,
                    end: $0.hasEnd && $0.end > 0 ? millis($0.end) : nil)
            },
            entities: a.informedEntity.map {
                Disruption.Entity(
                    agencyID: $0.agencyID.nilIfEmpty, routeID: $0.routeID.nilIfEmpty, stopID: $0.stopID.nilIfEmpty,
                    tripID: $0.hasTrip ? $0.trip.tripID.nilIfEmpty : nil)
            }, observedAt: observed)
    }

    /// POSIX seconds as epoch ms; nil for values no clock can mean (a corrupt feed).
    static func millis<T: BinaryInteger>(_ seconds: T) -> Int64? {
        guard let value = Int64(exactly: seconds), value >= 0, value < 1 << 40 else { return nil }
        return value * 1000
    }

    /// The English translation, else one without a language, else the first.
    private static func text(_ translated: TransitRealtime_TranslatedString) -> String? {
        let translations = translated.translation
        let chosen =
            translations.first { $0.language.lowercased().hasPrefix("en") }
            ?? translations.first { !$0.hasLanguage } ?? translations.first
        return chosen?.text
    }
}
