import Foundation
public import MetropulseCore
import ZIPFoundation

/// Reads a static GTFS zip for what names the real-time feed's ids: `stops.txt` (stop_id,
/// stop_name, stop_lat, stop_lon), `routes.txt` (route_id, route_short_name, route_long_name,
/// route_type, route_color) and the agency names. Files may sit in one folder inside the zip.
/// A row without its id is skipped; a file or column that must be there and is not rejects the
/// whole feed with the reason.
public enum GTFSStaticParser {
    /// What a zip may hold before it is refused: a zip bomb (a small archive that extracts to
    /// gigabytes, or lists millions of entries) is stopped before and during extraction.
    public struct Limits: Sendable {
        /// Entries in the archive's directory (real feeds have 10 to 30 files).
        public var maxEntries: Int
        /// Bytes extracted in all, over the files read; the sizes the directory declares are
        /// checked first, and the bytes actually inflated are counted as they come.
        public var maxExtractedBytes: Int

        public init(maxEntries: Int = 10_000, maxExtractedBytes: Int = 512 << 20) {
            self.maxEntries = maxEntries
            self.maxExtractedBytes = maxExtractedBytes
        }
    }

    private struct TooLarge: Error {}

    public static func parse(_ zip: [UInt8], limits: Limits = Limits()) throws -> TransitNames {
        // Read from a temporary file: ZIPFoundation's in-memory archive leaks its data when it
        // refuses the bytes (found by the static-gtfs fuzz target), and zips are read once a day.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent(
            "metropulse-gtfs-\(UUID().uuidString).zip")
        do {
            try Data(zip).write(to: copy)
        } catch {
            throw FetchError(.storage, "static GTFS: cannot write a temporary copy (\(error))")
        }
        defer { try? FileManager.default.removeItem(at: copy) }
        let archive: Archive
        do {
            archive = try Archive(url: copy, accessMode: .read)
        } catch {
            throw FetchError(.decode, "static GTFS: not a zip archive")
        }
        var entries: [Entry] = []
        for entry in archive {
            guard entries.count < limits.maxEntries else {
                throw FetchError(.validation, "static GTFS: the zip lists more than \(limits.maxEntries) entries")
            }
            entries.append(entry)
        }
        let paths = entries.map(\.path)
        var extracted = 0
        func file(_ name: String) throws -> [UInt8]? {
            guard let entry = entries.first(where: { $0.path == name || $0.path.hasSuffix("/" + name) }) else {
                return nil
            }
            let budget = limits.maxExtractedBytes - extracted
            guard entry.uncompressedSize <= UInt64(max(0, budget)) else {
                throw FetchError(
                    .validation,
                    "static GTFS: \(name) declares \(entry.uncompressedSize) bytes, past the limit of "
                        + "\(limits.maxExtractedBytes) bytes extracted")
            }
            var bytes: [UInt8] = []
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard bytes.count + chunk.count <= budget else { throw TooLarge() }
                    bytes.append(contentsOf: chunk)
                }
            } catch is TooLarge {
                throw FetchError(
                    .validation,
                    "static GTFS: \(name) extracts to more than the limit of \(limits.maxExtractedBytes) bytes")
            } catch {
                throw FetchError(.decode, "static GTFS: \(name) cannot be read from the zip (\(error))")
            }
            extracted += bytes.count
            return bytes
        }
        func table(_ name: String, requiring columns: [String]) throws -> CSVTable {
            guard let bytes = try file(name) else {
                let listed = paths.isEmpty ? "an empty archive" : paths.sorted().joined(separator: ", ")
                throw FetchError(.validation, "static GTFS has no \(name) (found \(listed))")
            }
            let table: CSVTable
            do {
                table = try CSVTable(bytes, file: name)
            } catch {
                throw FetchError(.decode, "static GTFS: \(error)")
            }
            for column in columns where !table.has(column) {
                throw FetchError(
                    .validation,
                    "static GTFS: \(name) has no \(column) column (header: \(table.header.joined(separator: ",")))")
            }
            return table
        }

        let stopsTable = try table("stops.txt", requiring: ["stop_id", "stop_name"])
        var stops: [String: TransitNames.Stop] = [:]
        for row in stopsTable.rows {
            guard let id = stopsTable.value(row, "stop_id"), let name = stopsTable.value(row, "stop_name") else {
                continue
            }
            stops[id] = TransitNames.Stop(
                name: name, latitude: stopsTable.value(row, "stop_lat").flatMap(Double.init),
                longitude: stopsTable.value(row, "stop_lon").flatMap(Double.init))
        }

        let routesTable = try table("routes.txt", requiring: ["route_id"])
        var routes: [String: TransitNames.Route] = [:]
        for row in routesTable.rows {
            guard let id = routesTable.value(row, "route_id") else { continue }
            routes[id] = TransitNames.Route(
                shortName: routesTable.value(row, "route_short_name"),
                longName: routesTable.value(row, "route_long_name"),
                type: routesTable.value(row, "route_type").flatMap { Int($0) },
                color: routesTable.value(row, "route_color"))
        }

        var agencies: [String] = []
        if try file("agency.txt") != nil {
            let agencyTable = try table("agency.txt", requiring: ["agency_name"])
            agencies = agencyTable.rows.compactMap { agencyTable.value($0, "agency_name") }
        }
        return TransitNames(agencies: agencies, stops: stops, routes: routes)
    }
}
