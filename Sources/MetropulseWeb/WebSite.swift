public import Foundation
public import Logging
import MetropulseAPI
import Mustache

/// How the pages are served: where map tiles come from, where Debian's browser libraries are,
/// and where the templates and assets are (found beside the binary unless given).
public struct WebSettings: Sendable {
    /// `{z}/{x}/{y}` tile URL template; empty: no tiles, markers on a plain background.
    public var tileURL: String
    public var tileAttribution: String
    /// Debian's `libjs-leaflet` and `libjs-chart.js` install under this folder; served from it
    /// when present, from a CDN otherwise.
    public var vendorDirectory: String
    /// The `Site` folder (templates, static assets); nil: the one built beside the binary.
    public var siteDirectory: String?
    /// `lat,lon[,zoom]` the map opens on; empty: fitted to the data.
    public var mapCenter: String
    /// Mark the session cookie `Secure` (when served over HTTPS by a proxy).
    public var secureCookies: Bool

    public static let defaultTileURL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    public static let defaultTileAttribution = "© OpenStreetMap contributors"

    public init(
        tileURL: String = WebSettings.defaultTileURL, tileAttribution: String = WebSettings.defaultTileAttribution,
        vendorDirectory: String = "/usr/share/javascript", siteDirectory: String? = nil, mapCenter: String = "",
        secureCookies: Bool = false
    ) {
        self.tileURL = tileURL
        self.tileAttribution = tileAttribution
        self.vendorDirectory = vendorDirectory
        self.siteDirectory = siteDirectory
        self.mapCenter = mapCenter
        self.secureCookies = secureCookies
    }
}

public struct WebSiteError: Error, CustomStringConvertible {
    public var description: String
}

/// A static file held in memory with its validator and its gzip encoding.
struct Asset: Sendable {
    var contentType: String
    var body: [UInt8]
    var gzipped: [UInt8]?
    var etag: String
}

/// The templates and assets, loaded once at start.
public struct WebSite: Sendable {
    let settings: WebSettings
    let library: MustacheLibrary
    /// `/static/...` paths (ours) and `/vendor/...` paths (Debian's libraries) to their bytes.
    let assets: [String: Asset]
    /// Versioned URLs of our assets (`?v=<etag>`), by short name, for the templates.
    let assetURLs: [String: String]
    /// Leaflet and Chart.js URLs: ours under `/vendor` when installed, a CDN's otherwise.
    let vendorURLs: [String: String]

    static let leafletCDN = "https://cdnjs.cloudflare.com/ajax/libs/leaflet/1.9.4"
    static let chartCDN = "https://cdnjs.cloudflare.com/ajax/libs/Chart.js/3.9.1/chart.min.js"

    /// Loads the site; fails with the folders it looked in when the templates are not found.
    public static func load(_ settings: WebSettings, logger: Logger) throws -> WebSite {
        let root = try locateSite(settings.siteDirectory)
        var library = MustacheLibrary()
        let templateRoot = root + "/templates"
        for path in files(under: templateRoot) where path.hasSuffix(".mustache") {
            let name = String(path.dropFirst(templateRoot.count + 1).dropLast(".mustache".count))
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                try library.register(text, named: name)
            } catch {
                throw WebSiteError(description: "cannot read the page template \(path): \(error)")
            }
        }
        var assets: [String: Asset] = [:]
        var urls: [String: String] = [:]
        let staticRoot = root + "/static"
        for path in files(under: staticRoot) {
            let relative = String(path.dropFirst(staticRoot.count))
            guard let asset = makeAsset(path) else { continue }
            assets["/static" + relative] = asset
            let name = (relative as NSString).lastPathComponent.split(separator: ".").first.map(String.init) ?? relative
            urls[name] = "/static\(relative)?v=\(asset.etag.trimmingCharacters(in: ["\""]))"
        }
        var vendor: [String: String] = [
            "leafletJS": "\(leafletCDN)/leaflet.min.js", "leafletCSS": "\(leafletCDN)/leaflet.min.css",
            "chartJS": chartCDN,
        ]
        let leaflet = settings.vendorDirectory + "/leaflet"
        if let js = makeAsset(leaflet + "/leaflet.js"), let css = makeAsset(leaflet + "/leaflet.css") {
            assets["/vendor/leaflet/leaflet.js"] = js
            assets["/vendor/leaflet/leaflet.css"] = css
            for image in files(under: leaflet + "/images") where image.hasSuffix(".png") {
                if let asset = makeAsset(image) {
                    assets["/vendor/leaflet/images/" + (image as NSString).lastPathComponent] = asset
                }
            }
            vendor["leafletJS"] = "/vendor/leaflet/leaflet.js?v=\(js.etag.trimmingCharacters(in: ["\""]))"
            vendor["leafletCSS"] = "/vendor/leaflet/leaflet.css?v=\(css.etag.trimmingCharacters(in: ["\""]))"
        } else {
            logger.notice("Leaflet not installed (Debian libjs-leaflet): the map loads it from a CDN")
        }
        let chart = settings.vendorDirectory + "/chart.js/chart.min.js"
        if let js = makeAsset(chart) {
            assets["/vendor/chart.js/chart.min.js"] = js
            vendor["chartJS"] = "/vendor/chart.js/chart.min.js?v=\(js.etag.trimmingCharacters(in: ["\""]))"
        } else {
            logger.notice("Chart.js not installed (Debian libjs-chart.js): charts load it from a CDN")
        }
        return WebSite(settings: settings, library: library, assets: assets, assetURLs: urls, vendorURLs: vendor)
    }

    /// The `Site` folder: the one given, else the resource bundle SwiftPM builds beside the binary.
    static func locateSite(_ given: String?) throws -> String {
        var candidates: [String] = []
        if let given { candidates.append(given) }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        let binaryFolder =
            Bundle.main.executableURL?.deletingLastPathComponent().path
            ?? executable.deletingLastPathComponent().path
        for folder in [binaryFolder, Bundle.main.bundlePath, executable.deletingLastPathComponent().path] {
            candidates.append(folder + "/metropulse_MetropulseWeb.resources/Site")
        }
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate + "/templates/layout.mustache") {
            return candidate
        }
        throw WebSiteError(
            description: "the web pages' folder was not found (looked in: \(candidates.joined(separator: ", "))); "
                + "set web.site_dir (METROPULSE_WEB_SITE_DIR) to the Site folder")
    }

    static func files(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var found: [String] = []
        while let next = walker.nextObject() as? String {
            var isFolder: ObjCBool = false
            let path = folder + "/" + next
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
                found.append(path)
            }
        }
        return found.sorted()
    }

    static func makeAsset(_ path: String) -> Asset? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let body = [UInt8](data)
        let type = contentType(path)
        let compressible =
            type.hasPrefix("text/") || type.contains("javascript") || type.contains("json")
            || type.contains("svg")
        let gzipped = compressible && body.count > 512 ? Gzip.compress(body) : nil
        return Asset(contentType: type, body: body, gzipped: gzipped, etag: "\"\(fnv1a(body))\"")
    }

    static func contentType(_ path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "html": "text/html; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }

    /// 64-bit FNV-1a, hex: the assets' validator.
    static func fnv1a(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let text = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    /// Renders a template with `context`; nil when the template does not exist. Empty strings are
    /// dropped first: Mustache treats them as true, and the templates test `{{#text}}` for "has text".
    func render(_ template: String, _ context: [String: Any]) -> String? {
        library.render(Self.clean(context), withTemplate: template)
    }

    static func clean(_ value: Any) -> Any {
        if let dictionary = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (key, item) in dictionary {
                if let text = item as? String, text.isEmpty { continue }
                out[key] = clean(item)
            }
            return out
        }
        if let array = value as? [[String: Any]] { return array.map { clean($0) } }
        return value
    }
}
