import Foundation
import Hummingbird
import Logging
import MetropulseAPI
import MetropulseCore
import NIOCore

/// What every page's layout needs, and the helpers the pages share to turn read models into what
/// the templates show: ages, counts, times.
struct PageFrame {
    var title: String
    var path: String
    var session: AdminSession.Session?
    var csrf: String?
    var bodyClass: String = ""

    static let publicNav: [(String, String)] = [
        ("Map", "/"), ("Lines", "/lines"), ("Rankings", "/rankings"), ("Cities", "/cities"),
    ]
    /// The console's pages; later pages (logs, jobs, alerts, webhooks) join this list.
    static let consoleNav: [(String, String)] = [
        ("Orchestrator", "/admin/orchestrator"), ("Sources", "/admin/sources"), ("Jobs", "/admin/jobs"),
        ("Quality", "/admin/quality"), ("Logs", "/admin/logs"), ("Webhooks", "/admin/webhooks"),
    ]

    func context(_ site: WebSite, _ page: [String: Any]) -> [String: Any] {
        func items(_ list: [(String, String)]) -> [[String: Any]] {
            list.map { label, href in
                let current = href == "/" ? path == "/" : (path == href || path.hasPrefix(href + "/"))
                return ["label": label, "href": href, "current": current]
            }
        }
        var context = page
        context["title"] = title
        context["bodyClass"] = bodyClass
        context["nav"] = items(Self.publicNav)
        context["consoleNav"] = items(Self.consoleNav)
        context["signedIn"] = session != nil
        if let session {
            context["keyName"] = session.key.name
            context["keyScope"] = session.key.scope.rawValue
            context["canControl"] = session.key.scope >= .admin
        }
        if let csrf { context["csrf"] = csrf }
        context["assets"] = site.assetURLs
        context["vendor"] = site.vendorURLs
        return context
    }
}

enum Format {
    /// "12 s", "3 min", "2 h 5 min", "3 d".
    static func duration(seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded())
        if s < 60 { return "\(s) s" }
        let m = s / 60
        if m < 60 { return "\(m) min" }
        let h = m / 60
        if h < 48 { return m % 60 == 0 ? "\(h) h" : "\(h) h \(m % 60) min" }
        return "\(h / 24) d"
    }

    /// "340 ms" under a second, else as `duration(seconds:)`.
    static func elapsed(_ ms: Int64) -> String {
        ms < 1_000 ? "\(max(0, ms)) ms" : duration(seconds: Double(ms) / 1000)
    }

    /// Counts past ten thousand as estimates: "12.3k", "1.2M".
    static func count(_ n: Int) -> String {
        if n < 10_000 { return n.formatted(.number.grouping(.automatic)) }
        if n < 1_000_000 { return String(format: "%.1fk", Double(n) / 1000) }
        return String(format: "%.1fM", Double(n) / 1_000_000)
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func millis(_ iso: String?) -> Int64? {
        iso.flatMap(Timestamp.parse)
    }

    /// "14:05:09" in UTC, for tables (the full time is in the title).
    static func clock(_ millis: Int64) -> String {
        let iso = Timestamp.iso8601(millis)
        guard let t = iso.firstIndex(of: "T") else { return iso }
        return String(iso[iso.index(after: t)...].prefix(8))
    }

    static func percent(_ ratio: Double?) -> String {
        guard let ratio else { return "—" }
        return String(format: "%.1f%%", ratio * 100)
    }
}

/// An inline SVG sparkline of values over time (server-rendered: no script needed).
enum Sparkline {
    static func svg(_ points: [(Int64, Double)], from start: Int64, to end: Int64, label: String) -> String {
        guard points.count >= 2, end > start else { return "" }
        let values = points.map(\.1)
        let (low, high) = (values.min()!, values.max()!)
        let span = high - low == 0 ? 1 : high - low
        let width = 200.0
        let height = 36.0
        let path = points.sorted { $0.0 < $1.0 }.map { time, value -> String in
            let x = Double(time - start) / Double(end - start) * width
            let y = height - 3 - (value - low) / span * (height - 6)
            return String(format: "%.1f,%.1f", x, y)
        }.joined(separator: " ")
        let title = label.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        return """
            <svg class="spark" viewBox="0 0 200 36" preserveAspectRatio="none" role="img" aria-label="\(title)">\
            <title>\(title)</title><polyline fill="none" stroke="#0b5cad" stroke-width="1.5" points="\(path)"/></svg>
            """
    }
}

extension Response {
    /// An HTML page: gzip-encoded when the client accepts it, never cached.
    static func html(
        _ body: String, status: HTTPResponse.Status = .ok, request: Request, headers extra: HTTPFields = [:]
    )
        -> Response
    {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            .init("Content-Security-Policy")!: WebPages.contentSecurityPolicy,
            .init("X-Content-Type-Options")!: "nosniff",
            .init("Referrer-Policy")!: "same-origin",
        ]
        headers.append(contentsOf: extra)
        let bytes = Array(body.utf8)
        if bytes.count > 1024, acceptsGzip(request), let gzipped = Gzip.compress(bytes, level: 6) {
            headers[.contentEncoding] = "gzip"
            headers[.vary] = "Accept-Encoding"
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: gzipped)))
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func seeOther(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: .seeOther, headers: headers)
    }
}

/// Escapes text for an HTML attribute or element (for the few fragments built in Swift).
func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

/// JSON for a `data-` attribute (the template escapes it).
func jsonText<T: Encodable>(_ value: T) -> String {
    (try? String(decoding: APIRequestContext.jsonEncoder().encode(value), as: UTF8.self)) ?? "null"
}
