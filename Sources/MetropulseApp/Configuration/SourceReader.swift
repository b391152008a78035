import Foundation
import MetropulseConnectors
import MetropulseCore
import Yams

/// Reads the `sources:` list, collecting errors with their line and key.
struct SourceReader {
    private(set) var errors: [ConfigurationError] = []
    /// What each source's `fetch:` block set, by source id.
    private(set) var fetchOverrides: [String: FetchLimitOverrides] = [:]
    private var seenIDs: Set<String> = []

    private static let knownKeys: Set = [
        "id", "kind", "url", "urls", "interval", "timeout", "priority", "max_attempts", "tags", "enabled",
        "stale_after", "fallbacks", "station_key", "api_key_env", "api_key_header", "api_key_param",
        "format", "mapping", "static_gtfs", "fetch", "activity",
    ]

    mutating func read(_ node: Node) -> [SourceDefinition] {
        guard let sequence = node.sequence else {
            fail(node.line, "sources", "expected a list of sources")
            return []
        }
        var sources: [SourceDefinition] = []
        for (index, item) in sequence.enumerated() {
            let prefix = "sources[\(index)]"
            guard let mapping = item.mapping else {
                fail(item.line, prefix, "expected a mapping with id, kind and url")
                continue
            }
            if let source = readSource(mapping, item: item, prefix: prefix) { sources.append(source) }
        }
        return sources
    }

    private mutating func readSource(_ mapping: Node.Mapping, item: Node, prefix: String) -> SourceDefinition? {
        var values: [String: (Node, line: Int)] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? "?"
            guard Self.knownKeys.contains(key) else {
                fail(
                    keyNode.line, "\(prefix).\(key)",
                    "unknown key (expected one of \(Self.knownKeys.sorted().joined(separator: ", ")))")
                continue
            }
            values[key] = (value, keyNode.line)
        }
        let errorCount = errors.count
        guard let id = values["id"]?.0.string, !id.isEmpty else {
            fail(item.line, "\(prefix).id", "missing")
            return nil
        }
        if !seenIDs.insert(id).inserted {
            fail(values["id"]!.line, "\(prefix).id", "duplicate source id '\(id)'")
        }
        if id.contains(where: { $0 == "/" || $0 == "@" || $0.isWhitespace }) {
            fail(values["id"]!.line, "\(prefix).id", "must not contain '/', '@' or spaces")
        }
        var kind = SourceKind.gbfs
        if let node = values["kind"]?.0 {
            if let parsed = node.string.flatMap(SourceKind.init(rawValue:)) {
                kind = parsed
            } else {
                let allowed = SourceKind.allCases.map(\.rawValue).joined(separator: ", ")
                fail(node.line, "\(prefix).kind", "unknown kind '\(node.string ?? "")' (expected \(allowed))")
            }
        } else {
            fail(item.line, "\(prefix).kind", "missing")
        }
        var urls: [String] = []
        if let node = values["url"]?.0 {
            if let url = node.string { urls.append(url) } else { fail(node.line, "\(prefix).url", "expected a URL") }
        }
        if let node = values["urls"]?.0 {
            if let list = node.sequence?.compactMap(\.string), !list.isEmpty {
                urls += list
            } else {
                fail(node.line, "\(prefix).urls", "expected a list of URLs")
            }
        }
        if urls.isEmpty { fail(item.line, "\(prefix).url", "missing (give url or urls)") }
        for url in urls where !Self.isFeedURL(url) {
            fail(
                values["url"]?.line ?? values["urls"]?.line ?? item.line, "\(prefix).url",
                "'\(url)' is not an http(s) or demo: URL")
        }
        var source = SourceDefinition(id: id, kind: kind, urls: urls)
        // Keys only some connectors read: refused on the other kinds, not ignored.
        let description = Self.connectors[kind]
        for key in Self.ownKeys.sorted() where values[key] != nil && description?.keys.contains(key) != true {
            let takers = Self.connectors.all.filter { $0.keys.contains(key) }.map(\.kind.rawValue)
            fail(
                values[key]!.0.line, "\(prefix).\(key)",
                "only \(takers.joined(separator: ", ")) sources take \(key) (this one is \(kind.rawValue))")
        }
        if let (node, _) = values["interval"] {
            if let millis = duration(node, "\(prefix).interval") { source.intervalMillis = max(1_000, millis) }
        }
        if let (node, _) = values["timeout"] {
            if let millis = duration(node, "\(prefix).timeout") { source.timeoutMillis = millis }
        }
        if let (node, _) = values["fallbacks"] {
            source.fallbacks = readFallbacks(node, prefix: "\(prefix).fallbacks")
        }
        if let (node, _) = values["station_key"], description?.keys.contains("station_key") == true {
            if let key = node.string.flatMap(StationKey.init(rawValue:)) {
                source.stationKey = key
            } else {
                fail(node.line, "\(prefix).station_key", "expected id or code")
            }
        }
        if let (node, _) = values["api_key_env"] {
            if let name = node.string, !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                source.apiKeyEnv = name
            } else {
                fail(node.line, "\(prefix).api_key_env", "expected the name of an environment variable")
            }
        }
        if let (node, _) = values["api_key_header"] {
            if let name = node.string, !name.isEmpty {
                source.apiKeyHeader = name
            } else {
                fail(node.line, "\(prefix).api_key_header", "expected a header name")
            }
        }
        if let (node, _) = values["activity"] {
            if let value = node.string, ["learned", "steady"].contains(value) {
                source.activity = value
            } else {
                fail(node.line, "\(prefix).activity", "expected learned or steady")
            }
        }
        if let (node, _) = values["api_key_param"], description?.keys.contains("api_key_param") == true {
            if let name = node.string, !name.isEmpty,
                name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" })
            {
                source.apiKeyParam = name
                if values["api_key_env"] == nil {
                    fail(node.line, "\(prefix).api_key_param", "needs api_key_env, the variable holding the key")
                }
            } else {
                fail(node.line, "\(prefix).api_key_param", "expected a query parameter name")
            }
        }
        if let (node, _) = values["format"], let description, description.keys.contains("format") {
            if let format = node.string, description.formatNames.contains(format) {
                source.format = format
            } else {
                let allowed = description.formatNames.joined(separator: ", ")
                fail(node.line, "\(prefix).format", "unknown format '\(node.string ?? "")' (expected \(allowed))")
            }
        }
        let readsMapping = description?.keys.contains("mapping") == true
        if let (node, _) = values["mapping"], readsMapping {
            source.mapping = readMapping(node, prefix: "\(prefix).mapping")
        }
        if readsMapping && values["mapping"] == nil {
            fail(item.line, "\(prefix).mapping", "missing (a \(kind.rawValue) source needs records, id and fields)")
        }
        if let (node, _) = values["static_gtfs"], description?.keys.contains("static_gtfs") == true {
            if let location = node.string, !location.isEmpty {
                if location.contains("://") || location.hasPrefix("demo:") {
                    if Self.isFeedURL(location) {
                        source.staticGTFS = location
                    } else {
                        fail(node.line, "\(prefix).static_gtfs", "'\(location)' is not an http(s) or demo: URL")
                    }
                } else if FileManager.default.isReadableFile(atPath: location) {
                    source.staticGTFS = location
                } else {
                    fail(node.line, "\(prefix).static_gtfs", "no readable file at '\(location)'")
                }
            } else {
                fail(node.line, "\(prefix).static_gtfs", "expected the URL or path of a GTFS zip")
            }
        }
        if let (node, _) = values["fetch"] {
            if let block = node.mapping {
                var overrides = FetchLimitOverrides()
                for (keyNode, value) in block {
                    let key = "\(prefix).fetch.\(keyNode.string ?? "?")"
                    guard let text = value.scalar?.string else {
                        fail(value.line, key, "expected a single value")
                        continue
                    }
                    do {
                        try overrides.set(keyNode.string ?? "?", text)
                    } catch {
                        fail(value.line, key, error.message)
                    }
                }
                fetchOverrides[id] = overrides
            } else {
                fail(node.line, "\(prefix).fetch", "expected a mapping of fetch limits")
            }
        }
        if let (node, _) = values["stale_after"] {
            if let millis = duration(node, "\(prefix).stale_after") { source.staleAfterMillis = max(1_000, millis) }
        }
        if let (node, _) = values["priority"] {
            if let value = node.int {
                source.priority = value
            } else {
                fail(node.line, "\(prefix).priority", "expected an integer")
            }
        }
        if let (node, _) = values["max_attempts"] {
            if let value = node.int, value >= 1 {
                source.maxAttempts = value
            } else {
                fail(node.line, "\(prefix).max_attempts", "expected an integer of at least 1")
            }
        }
        if let (node, _) = values["enabled"] {
            if let value = node.bool {
                source.enabled = value
            } else {
                fail(node.line, "\(prefix).enabled", "expected true or false")
            }
        }
        if let (node, _) = values["tags"] {
            if let tags = node.mapping {
                for (key, value) in tags {
                    if let k = key.string, let v = value.string { source.tags[k] = v }
                }
            } else {
                fail(node.line, "\(prefix).tags", "expected a mapping of names to values")
            }
        }
        return errors.count == errorCount ? source : nil
    }

    /// `fallbacks: [{kind, url | urls}]`.
    private mutating func readFallbacks(_ node: Node, prefix: String) -> [SourceEndpoint] {
        guard let list = node.sequence else {
            fail(node.line, prefix, "expected a list of {kind, url}")
            return []
        }
        var endpoints: [SourceEndpoint] = []
        for (index, item) in list.enumerated() {
            let key = "\(prefix)[\(index)]"
            guard let mapping = item.mapping else {
                fail(item.line, key, "expected a mapping with kind and url")
                continue
            }
            var kind: SourceKind?
            var urls: [String] = []
            for (keyNode, value) in mapping {
                switch keyNode.string {
                case "kind":
                    kind = value.string.flatMap(SourceKind.init(rawValue:))
                    if kind == nil {
                        let allowed = SourceKind.allCases.map(\.rawValue).joined(separator: ", ")
                        fail(value.line, "\(key).kind", "unknown kind '\(value.string ?? "")' (expected \(allowed))")
                    }
                case "url":
                    if let url = value.string {
                        urls.append(url)
                    } else {
                        fail(value.line, "\(key).url", "expected a URL")
                    }
                case "urls":
                    urls += value.sequence?.compactMap(\.string) ?? []
                default:
                    fail(keyNode.line, "\(key).\(keyNode.string ?? "?")", "unknown key (expected kind, url or urls)")
                }
            }
            if kind == nil && !mapping.contains(where: { $0.key.string == "kind" }) {
                fail(item.line, "\(key).kind", "missing")
            }
            if urls.isEmpty { fail(item.line, "\(key).url", "missing (give url or urls)") }
            for url in urls where !Self.isFeedURL(url) {
                fail(item.line, "\(key).url", "'\(url)' is not an http(s) or demo: URL")
            }
            if let kind, !urls.isEmpty { endpoints.append(SourceEndpoint(kind: kind, urls: urls)) }
        }
        return endpoints
    }

    /// `mapping: {records, id, timestamp, fields: {metric: pointer}, units: {metric: unit}}`.
    private mutating func readMapping(_ node: Node, prefix: String) -> JSONMapping? {
        guard let mapping = node.mapping else {
            fail(node.line, prefix, "expected a mapping with records, id, timestamp and fields")
            return nil
        }
        var values: [String: Node] = [:]
        for (key, value) in mapping {
            let name = key.string ?? "?"
            guard ["records", "id", "timestamp", "fields", "units", "latitude", "longitude"].contains(name) else {
                fail(
                    key.line, "\(prefix).\(name)",
                    "unknown key (expected records, id, timestamp, fields, units, latitude or longitude)")
                continue
            }
            values[name] = value
        }
        let errorCount = errors.count
        func pointer(_ name: String, required: Bool) -> String? {
            guard let node = values[name] else {
                if required { fail(node.line, "\(prefix).\(name)", "missing") }
                return nil
            }
            guard let text = node.string, text.isEmpty || text.hasPrefix("/") else {
                fail(node.line, "\(prefix).\(name)", "expected a JSON pointer like /data/items (or empty for the root)")
                return nil
            }
            return text
        }
        let records = pointer("records", required: false) ?? ""
        let id = pointer("id", required: true)
        let timestamp = pointer("timestamp", required: false)
        let latitude = pointer("latitude", required: false)
        let longitude = pointer("longitude", required: false)
        if (latitude == nil) != (longitude == nil) {
            fail(node.line, "\(prefix).latitude", "give both latitude and longitude, or neither")
        }
        var fields: [String: String] = [:]
        if let node = values["fields"], let entries = node.mapping, !entries.isEmpty {
            for (key, value) in entries {
                guard let metric = key.string, let path = value.string, path.hasPrefix("/") else {
                    fail(value.line, "\(prefix).fields.\(key.string ?? "?")", "expected a JSON pointer like /value")
                    continue
                }
                fields[metric] = path
            }
        } else {
            fail(
                values["fields"]?.line ?? node.line, "\(prefix).fields",
                "expected a mapping of metric names to pointers")
        }
        var units: [String: String] = [:]
        if let entries = values["units"]?.mapping {
            for (key, value) in entries {
                if let metric = key.string, let unit = value.string { units[metric] = unit }
            }
        }
        guard errors.count == errorCount, let id else { return nil }
        return JSONMapping(
            records: records, id: id, timestamp: timestamp, fields: fields, units: units, latitude: latitude,
            longitude: longitude)
    }

    /// What each kind's connector reads (formats, keys of its own).
    static let connectors = StandardConnectors.descriptions
    /// The keys some connectors read and others do not.
    static let ownKeys = Set(connectors.all.flatMap(\.keys))

    static func isFeedURL(_ url: String) -> Bool {
        url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("demo:")
    }

    private mutating func duration(_ node: Node, _ key: String) -> Int64? {
        guard let text = node.scalar?.string else {
            fail(node.line, key, "expected a duration like 30s")
            return nil
        }
        do {
            return try ConfigurationLoader.duration(text)
        } catch {
            fail(node.line, key, error.message)
            return nil
        }
    }

    private mutating func fail(_ line: Int, _ key: String, _ message: String) {
        errors.append(ConfigurationError(line: line, key: key, message: message))
    }
}
