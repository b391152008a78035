import Foundation
public import MetropulseCore
import ZIPFoundation

/// Writes a minimal static GTFS zip (`agency.txt`, `stops.txt`, `routes.txt`) from names: what the
/// demo city serves beside its real-time feeds, and what `GTFSStaticParser` reads back.
public enum GTFSStaticWriter {
    public static func zip(_ names: TransitNames, timezone: String = "Europe/Paris") throws -> [UInt8] {
        var files: [(String, [[String]])] = []
        files.append(
            (
                "agency.txt",
                [["agency_name", "agency_url", "agency_timezone"]] + names.agencies.map { [$0, "", timezone] }
            )
        )
        files.append(
            (
                "stops.txt",
                [["stop_id", "stop_name", "stop_lat", "stop_lon"]]
                    + names.stops.keys.sorted().map { id in
                        let stop = names.stops[id]!
                        return [
                            id, stop.name, stop.latitude.map { "\($0)" } ?? "", stop.longitude.map { "\($0)" } ?? "",
                        ]
                    }
            ))
        files.append(
            (
                "routes.txt",
                [["route_id", "route_short_name", "route_long_name", "route_type", "route_color"]]
                    + names.routes.keys.sorted().map { id in
                        let route = names.routes[id]!
                        return [
                            id, route.shortName ?? "", route.longName ?? "", route.type.map(String.init) ?? "3",
                            route.color ?? "",
                        ]
                    }
            ))
        let archive = try Archive(data: Data(), accessMode: .create)
        for (name, rows) in files {
            let data = Data(rows.map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\r\n").utf8)
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate
            ) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let data = archive.data else { throw FetchError(.decode, "static GTFS archive could not be written") }
        return Array(data)
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
