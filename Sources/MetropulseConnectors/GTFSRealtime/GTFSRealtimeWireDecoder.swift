import MetropulseCore

/// Decodes a GTFS-Realtime `FeedMessage` straight from the protobuf wire format into departures,
/// vehicles and disruptions, with the same results as decoding the generated messages and then
/// normalizing them (`GTFSRealtimeParser.normalize`, which the tests compare it with), but without
/// building the messages: only the fields Metropulse uses are read, strings are made only for the
/// text it keeps (one translation of each text, not all), and nothing else is allocated.
///
/// The protobuf rules are kept: unknown fields and fields with an unexpected wire type are skipped,
/// a repeated occurrence of a message field merges into the first, an enum value the specification
/// does not list leaves the field unset, and the required fields of what is read (the header and
/// its version, entity ids, a trip update's trip, a position's latitude and longitude, a
/// translation's text) are checked after the whole input decoded. Unlike the generated code it does
/// not check the UTF-8 or the required fields of parts it skips (shapes, stops, images, start
/// dates, unused translations): those cannot make a feed fail.
struct GTFSRealtimeWireDecoder {
    private typealias Reader = ProtobufReader
    private typealias Raw = UnsafeRawBufferPointer
    private typealias Names = GTFSRealtimeNames

    enum Failure: Error {
        case wire(ProtobufReader.Failure)
        /// A required field is missing: which.
        case missing(String)
    }

    private let sourceID: String
    private var batch = ObservationBatch()
    private var rejected: [Rejection] = []
    /// The first required field found missing; reported once the input decoded.
    private var missing: String?
    /// Stop time updates of the current trip update, reused from entity to entity.
    private var stopTimes: [StopTimeFields] = []

    private init(sourceID: String) {
        self.sourceID = sourceID
    }

    static func decode(_ body: [UInt8], sourceID: String, fetchedAt: Int64) throws(Failure) -> GTFSRealtimeParser.Feed {
        var decoder = GTFSRealtimeWireDecoder(sourceID: sourceID)
        let result = body.withUnsafeBytes { raw in
            Result { () throws(Failure) in try decoder.feed(raw, fetchedAt: fetchedAt) }
        }
        return try result.get()
    }

    // MARK: The feed and its entities

    private struct HeaderFields {
        var version: Raw?
        var differential = false
        var timestamp: UInt64?
    }

    private mutating func feed(_ raw: Raw, fetchedAt: Int64) throws(Failure) -> GTFSRealtimeParser.Feed {
        let feed: GTFSRealtimeParser.Feed
        do throws(Reader.Failure) {
            feed = try decodeFeed(raw, fetchedAt: fetchedAt)
        } catch {
            throw .wire(error)
        }
        // As with the generated code, a missing required field is told once the whole input decoded.
        if let missing { throw .missing(missing) }
        return feed
    }

    private mutating func decodeFeed(_ raw: Raw, fetchedAt: Int64) throws(Reader.Failure) -> GTFSRealtimeParser.Feed {
        // The header first (it is usually the first field, but need not be): entities take its time.
        var header: HeaderFields?
        var entityCount = 0
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): try Self.header(reader.lengthDelimited(), into: &header)
            case (2, .lengthDelimited):
                _ = try reader.lengthDelimited()
                entityCount += 1
            default: try reader.skip()
            }
        }
        if header == nil {
            missing = "FeedMessage.header"
        } else if header?.version == nil {
            missing = "FeedHeader.gtfs_realtime_version"
        }
        let feedTime = header?.timestamp.flatMap(GTFSRealtimeParser.millis)
        let observed = feedTime ?? fetchedAt
        batch.transitSnapshot = header?.differential != true
        batch.transitObservedAt = observed
        reader = Reader(raw)
        while let field = try reader.next() {
            if field == 2 && reader.wireType == .lengthDelimited {
                try entity(reader.lengthDelimited(), observed: observed)
            } else {
                try reader.skip()
            }
        }
        return GTFSRealtimeParser.Feed(
            batch: batch, rejected: rejected, timestamp: feedTime,
            version: try header?.version.map(Reader.string) ?? "", entityCount: entityCount)
    }

    private static func header(_ raw: Raw, into header: inout HeaderFields?) throws(Reader.Failure) {
        var fields = header ?? HeaderFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): fields.version = try reader.lengthDelimited()
            case (2, .varint):
                let raw = Int32(truncatingIfNeeded: try reader.varint())
                if raw == 0 || raw == 1 { fields.differential = raw == 1 }
            case (3, .varint): fields.timestamp = try reader.varint()
            default: try reader.skip()
            }
        }
        header = fields
    }

    /// Notes a required field as missing when it is.
    private mutating func require<T>(_ value: T?, _ name: String) {
        if value == nil && missing == nil { missing = name }
    }

    private mutating func entity(_ raw: Raw, observed: Int64) throws(Reader.Failure) {
        var id: Raw?
        var deleted = false
        var trip: TripUpdateFields?
        var vehicle: VehicleFields?
        var alert: AlertFields?
        stopTimes.removeAll(keepingCapacity: true)
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): id = try reader.lengthDelimited()
            case (2, .varint): deleted = try reader.varint() != 0
            case (3, .lengthDelimited): try tripUpdate(reader.lengthDelimited(), into: &trip)
            case (4, .lengthDelimited): try Self.vehiclePosition(reader.lengthDelimited(), into: &vehicle)
            case (5, .lengthDelimited): try alertFields(reader.lengthDelimited(), into: &alert)
            default: try reader.skip()
            }
        }
        require(id, "FeedEntity.id")
        if let trip { require(trip.trip, "TripUpdate.trip") }
        if let position = vehicle?.position {
            require(position.latitude, "Position.latitude")
            require(position.longitude, "Position.longitude")
        }
        if missing != nil || deleted { return }
        let text = try id.map(Reader.string) ?? ""
        let entityID = text.isEmpty ? "entity[\(batch.count + rejected.count)]" : text
        var used = false
        if let trip {
            used = true
            let before = batch.departures.count
            try departures(trip, observed: observed)
            if batch.departures.count == before {
                rejected.append(Rejection(entity: entityID, reason: "trip update without a usable stop time update"))
            }
        }
        if let vehicle {
            used = true
            try self.vehicle(vehicle, entityID: entityID, observed: observed)
        }
        if let alert {
            used = true
            batch.disruptions.append(try disruption(alert, id: entityID, observed: observed))
        }
        if !used { rejected.append(Rejection(entity: entityID, reason: "no trip_update, vehicle or alert")) }
    }

    // MARK: Trip updates

    private struct TripFields {
        var tripID: Raw?
        var routeID: Raw?
        var directionID: UInt32?
        var relationship: Int32?
    }

    private struct TripUpdateFields {
        var trip: TripFields?
        var vehicleID: Raw?
        var timestamp: UInt64?
        var delay: Int32?
    }

    private struct EventFields {
        var delay: Int32?
        var time: Int64?
        var scheduledTime: Int64?
    }

    private struct StopTimeFields {
        var stopSequence: UInt32?
        var stopID: Raw?
        var arrival: EventFields?
        var departure: EventFields?
        var relationship: Int32?
    }

    private mutating func tripUpdate(_ raw: Raw, into update: inout TripUpdateFields?) throws(Reader.Failure) {
        var fields = update ?? TripUpdateFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): try Self.trip(reader.lengthDelimited(), into: &fields.trip)
            case (2, .lengthDelimited): stopTimes.append(try Self.stopTime(reader.lengthDelimited()))
            case (3, .lengthDelimited):
                var label: Raw?  // a trip update does not use it
                try Self.vehicleDescriptor(reader.lengthDelimited(), id: &fields.vehicleID, label: &label)
            case (4, .varint): fields.timestamp = try reader.varint()
            case (5, .varint): fields.delay = Int32(truncatingIfNeeded: try reader.varint())
            default: try reader.skip()
            }
        }
        update = fields
    }

    private static func trip(_ raw: Raw, into trip: inout TripFields?) throws(Reader.Failure) {
        var fields = trip ?? TripFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): fields.tripID = try reader.lengthDelimited()
            case (4, .varint):
                fields.relationship = Names.tripRelationship.listed(try reader.varint()) ?? fields.relationship
            case (5, .lengthDelimited): fields.routeID = try reader.lengthDelimited()
            case (6, .varint): fields.directionID = UInt32(truncatingIfNeeded: try reader.varint())
            default: try reader.skip()
            }
        }
        trip = fields
    }

    /// A vehicle descriptor's id and label.
    private static func vehicleDescriptor(_ raw: Raw, id: inout Raw?, label: inout Raw?) throws(Reader.Failure) {
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): id = try reader.lengthDelimited()
            case (2, .lengthDelimited): label = try reader.lengthDelimited()
            default: try reader.skip()
            }
        }
    }

    private static func stopTime(_ raw: Raw) throws(Reader.Failure) -> StopTimeFields {
        var fields = StopTimeFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .varint): fields.stopSequence = UInt32(truncatingIfNeeded: try reader.varint())
            case (2, .lengthDelimited): try event(reader.lengthDelimited(), into: &fields.arrival)
            case (3, .lengthDelimited): try event(reader.lengthDelimited(), into: &fields.departure)
            case (4, .lengthDelimited): fields.stopID = try reader.lengthDelimited()
            case (5, .varint):
                fields.relationship = Names.stopRelationship.listed(try reader.varint()) ?? fields.relationship
            default: try reader.skip()
            }
        }
        return fields
    }

    private static func event(_ raw: Raw, into event: inout EventFields?) throws(Reader.Failure) {
        var fields = event ?? EventFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .varint): fields.delay = Int32(truncatingIfNeeded: try reader.varint())
            case (2, .varint): fields.time = Int64(bitPattern: try reader.varint())
            case (4, .varint): fields.scheduledTime = Int64(bitPattern: try reader.varint())
            default: try reader.skip()
            }
        }
        event = fields
    }

    private mutating func departures(_ update: TripUpdateFields, observed: Int64) throws(Reader.Failure) {
        let trip = update.trip ?? TripFields()
        let tripRelationship = Names.tripRelationship.name(trip.relationship ?? 0)
        let observedAt = update.timestamp.flatMap(GTFSRealtimeParser.millis) ?? observed
        let routeID = try trip.routeID.map(Reader.string)
        let tripID = try trip.tripID.map(Reader.string)
        let vehicleID = try update.vehicleID.map(Reader.string)
        for stopTime in stopTimes {
            let stopID: String
            if let raw = stopTime.stopID, raw.count > 0 {
                stopID = try Reader.string(raw)
            } else if let sequence = stopTime.stopSequence {
                stopID = "#\(sequence)"
            } else {
                continue
            }
            let event = stopTime.departure ?? stopTime.arrival
            let expected = event?.time.flatMap(GTFSRealtimeParser.millis)
            let delay = (event?.delay ?? update.delay).map { Int($0) }
            var scheduled = event?.scheduledTime.flatMap(GTFSRealtimeParser.millis)
            if scheduled == nil, let expected, let delay { scheduled = expected - Int64(delay) * 1000 }
            let relationship =
                tripRelationship == "scheduled"
                ? Names.stopRelationship.name(stopTime.relationship ?? 0) : tripRelationship
            batch.departures.append(
                Departure(
                    sourceID: sourceID, stopID: stopID, stopSequence: stopTime.stopSequence.map { Int($0) },
                    routeID: routeID, tripID: tripID, directionID: trip.directionID.map { Int($0) },
                    vehicleID: vehicleID, scheduledAt: scheduled, expectedAt: expected, delaySeconds: delay,
                    relationship: relationship, observedAt: observedAt))
        }
    }

    // MARK: Vehicle positions

    private struct PositionFields {
        var latitude: Float?
        var longitude: Float?
        var bearing: Float?
        var speed: Float?
    }

    private struct VehicleFields {
        var trip: TripFields?
        var vehicleID: Raw?
        var label: Raw?
        var position: PositionFields?
        var stopID: Raw?
        var status: Int32?
        var timestamp: UInt64?
    }

    private static func vehiclePosition(_ raw: Raw, into vehicle: inout VehicleFields?) throws(Reader.Failure) {
        var fields = vehicle ?? VehicleFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): try Self.trip(reader.lengthDelimited(), into: &fields.trip)
            case (2, .lengthDelimited): try position(reader.lengthDelimited(), into: &fields.position)
            case (4, .varint): fields.status = Names.stopStatus.listed(try reader.varint()) ?? fields.status
            case (5, .varint): fields.timestamp = try reader.varint()
            case (7, .lengthDelimited): fields.stopID = try reader.lengthDelimited()
            case (8, .lengthDelimited):
                try vehicleDescriptor(reader.lengthDelimited(), id: &fields.vehicleID, label: &fields.label)
            default: try reader.skip()
            }
        }
        vehicle = fields
    }

    private static func position(_ raw: Raw, into position: inout PositionFields?) throws(Reader.Failure) {
        var fields = position ?? PositionFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .fixed32): fields.latitude = Float(bitPattern: try reader.fixed32())
            case (2, .fixed32): fields.longitude = Float(bitPattern: try reader.fixed32())
            case (3, .fixed32): fields.bearing = Float(bitPattern: try reader.fixed32())
            case (5, .fixed32): fields.speed = Float(bitPattern: try reader.fixed32())
            default: try reader.skip()
            }
        }
        position = fields
    }

    private mutating func vehicle(_ v: VehicleFields, entityID: String, observed: Int64) throws(Reader.Failure) {
        let label = try v.label.map(Reader.string)
        let id: String
        if let raw = v.vehicleID, raw.count > 0 {
            id = try Reader.string(raw)
        } else {
            id = label ?? entityID
        }
        guard let position = v.position else {
            rejected.append(Rejection(entity: id, reason: "vehicle without a position"))
            return
        }
        let latitude = Double(position.latitude ?? 0)
        let longitude = Double(position.longitude ?? 0)
        guard (-90...90).contains(latitude), (-180...180).contains(longitude), latitude != 0 || longitude != 0 else {
            rejected.append(Rejection(entity: id, reason: "position \(latitude), \(longitude) is not on Earth"))
            return
        }
        batch.vehicles.append(
            VehiclePosition(
                sourceID: sourceID, vehicleID: id, label: label, routeID: try v.trip?.routeID.map(Reader.string),
                tripID: try v.trip?.tripID.map(Reader.string), latitude: latitude, longitude: longitude,
                bearing: position.bearing.map { Double($0) }, speed: position.speed.map { Double($0) },
                stopID: try v.stopID.map(Reader.string), currentStatus: v.status.map(Names.stopStatus.name),
                observedAt: v.timestamp.flatMap(GTFSRealtimeParser.millis) ?? observed))
    }

    // MARK: Alerts

    /// The translation a text is shown in: the first English one, else the first without a
    /// language, else the first.
    private struct TextChoice {
        var english: Raw?
        var noLanguage: Raw?
        var first: Raw?

        mutating func add(text: Raw, language: Raw?) {
            if first == nil { first = text }
            if let language {
                if english == nil && Self.isEnglish(language) { english = text }
            } else if noLanguage == nil {
                noLanguage = text
            }
        }

        /// `language.lowercased().hasPrefix("en")`, on the bytes where that is the same.
        static func isEnglish(_ language: Raw) -> Bool {
            guard language.count >= 2, language[0] | 0x20 == 0x65, language[1] | 0x20 == 0x6E else { return false }
            // A mark after the n would join it into another character.
            guard language.count > 2 && language[2] >= 0x80 else { return true }
            let text = String(decoding: language.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
            return text.lowercased().hasPrefix("en")
        }

        func chosen() throws(Reader.Failure) -> String? {
            try (english ?? noLanguage ?? first).map(Reader.string)
        }
    }

    private struct AlertFields {
        var periods: [Disruption.Period] = []
        var entities: [Disruption.Entity] = []
        var cause: Int32?
        var effect: Int32?
        var severity: Int32?
        var url = TextChoice()
        var header = TextChoice()
        var details = TextChoice()
    }

    private mutating func alertFields(_ raw: Raw, into alert: inout AlertFields?) throws(Reader.Failure) {
        var fields = alert ?? AlertFields()
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): fields.periods.append(try Self.period(reader.lengthDelimited()))
            case (5, .lengthDelimited): fields.entities.append(try Self.informed(reader.lengthDelimited()))
            case (6, .varint): fields.cause = Names.cause.listed(try reader.varint()) ?? fields.cause
            case (7, .varint): fields.effect = Names.effect.listed(try reader.varint()) ?? fields.effect
            case (8, .lengthDelimited): try translated(reader.lengthDelimited(), into: &fields.url)
            case (10, .lengthDelimited): try translated(reader.lengthDelimited(), into: &fields.header)
            case (11, .lengthDelimited): try translated(reader.lengthDelimited(), into: &fields.details)
            case (14, .varint): fields.severity = Names.severity.listed(try reader.varint()) ?? fields.severity
            default: try reader.skip()
            }
        }
        alert = fields
    }

    private static func period(_ raw: Raw) throws(Reader.Failure) -> Disruption.Period {
        var start: UInt64?
        var end: UInt64?
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .varint): start = try reader.varint()
            case (2, .varint): end = try reader.varint()
            default: try reader.skip()
            }
        }
        return Disruption.Period(
            start: start.flatMap { $0 > 0 ? GTFSRealtimeParser.millis($0) : nil },
            end: end.flatMap { $0 > 0 ? GTFSRealtimeParser.millis($0) : nil })
    }

    private static func informed(_ raw: Raw) throws(Reader.Failure) -> Disruption.Entity {
        var agencyID: Raw?
        var routeID: Raw?
        var stopID: Raw?
        var trip: TripFields?
        var reader = Reader(raw)
        while let field = try reader.next() {
            switch (field, reader.wireType) {
            case (1, .lengthDelimited): agencyID = try reader.lengthDelimited()
            case (2, .lengthDelimited): routeID = try reader.lengthDelimited()
            case (4, .lengthDelimited): try Self.trip(reader.lengthDelimited(), into: &trip)
            case (5, .lengthDelimited): stopID = try reader.lengthDelimited()
            default: try reader.skip()
            }
        }
        func nonEmpty(_ raw: Raw?) throws(Reader.Failure) -> String? {
            guard let raw, raw.count > 0 else { return nil }
            return try Reader.string(raw)
        }
        return Disruption.Entity(
            agencyID: try nonEmpty(agencyID), routeID: try nonEmpty(routeID), stopID: try nonEmpty(stopID),
            tripID: try nonEmpty(trip?.tripID))
    }

    private mutating func translated(_ raw: Raw, into choice: inout TextChoice) throws(Reader.Failure) {
        var reader = Reader(raw)
        while let field = try reader.next() {
            guard field == 1 && reader.wireType == .lengthDelimited else {
                try reader.skip()
                continue
            }
            var text: Raw?
            var language: Raw?
            var translation = Reader(try reader.lengthDelimited())
            while let field = try translation.next() {
                switch (field, translation.wireType) {
                case (1, .lengthDelimited): text = try translation.lengthDelimited()
                case (2, .lengthDelimited): language = try translation.lengthDelimited()
                default: try translation.skip()
                }
            }
            require(text, "TranslatedString.Translation.text")
            if let text { choice.add(text: text, language: language) }
        }
    }

    private func disruption(_ a: AlertFields, id: String, observed: Int64) throws(Reader.Failure) -> Disruption {
        Disruption(
            sourceID: sourceID, id: id, cause: a.cause.map(Names.cause.name), effect: a.effect.map(Names.effect.name),
            severity: a.severity.map(Names.severity.name), header: try a.header.chosen(),
            details: try a.details.chosen(), url: try a.url.chosen(),
            periods: a.periods, entities: a.entities, observedAt: observed)
    }
}
