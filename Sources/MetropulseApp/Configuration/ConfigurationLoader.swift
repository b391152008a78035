import Foundation
import MetropulseAPI
import MetropulseCore
import MetropulseKafka
import Yams

/// Reads the YAML file and `METROPULSE_*` environment variables into a configuration.
///
/// Every scalar setting has a dotted YAML key and an environment variable; the environment wins.
/// All problems are collected and reported together with their line and key.
public enum ConfigurationLoader {
    struct Setting: Sendable {
        let key: String
        let apply: @Sendable (inout MetropulseConfiguration, String) throws(ValueError) -> Void

        var environmentName: String {
            "METROPULSE_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
        }
    }

    struct ValueError: Error {
        let message: String
    }

    static let settings: [Setting] =
        [
            Setting(key: "database.url") { c, v throws(ValueError) in
                guard v.isEmpty || v.hasPrefix("postgres://") || v.hasPrefix("postgresql://") else {
                    throw ValueError(message: "expected postgres://user:password@host:port/database")
                }
                c.database.url = v.isEmpty ? nil : v
            },
            Setting(key: "database.path") { c, v in c.database.path = v },
            Setting(key: "database.synchronous") { c, v throws(ValueError) in
                guard ["full", "normal"].contains(v.lowercased()) else {
                    throw ValueError(message: "expected full or normal")
                }
                c.database.synchronous = v.lowercased()
            },
            Setting(key: "kafka.brokers") { c, v in c.kafka.brokers = v.isEmpty ? nil : v },
            Setting(key: "kafka.topic_prefix") { c, v in c.kafka.topicPrefix = v },
            Setting(key: "kafka.stall_after") { c, v throws(ValueError) in c.kafka.stallAfterMillis = try duration(v) },
            Setting(key: "kafka.group") { c, v in c.kafka.topics.group = v },
            Setting(key: "kafka.partitions") { c, v throws(ValueError) in
                c.kafka.topics.partitions = try int(v, 1...10_000)
            },
            Setting(key: "kafka.replication") { c, v throws(ValueError) in
                c.kafka.topics.replication = try int(v, 1...100)
            },
            Setting(key: "kafka.tasks_topic") { c, v in c.kafka.topics.tasks = v },
            Setting(key: "kafka.high_priority_topic") { c, v in c.kafka.topics.tasksHigh = v },
            Setting(key: "kafka.retry_topic") { c, v in c.kafka.topics.retry = v },
            Setting(key: "kafka.dead_letter_topic") { c, v in c.kafka.topics.deadLetter = v },
            Setting(key: "kafka.control_topic") { c, v in c.kafka.topics.control = v },
            Setting(key: "kafka.metrics_topic") { c, v in c.kafka.topics.metrics = v },
            Setting(key: "kafka.record_retention") { c, v throws(ValueError) in
                c.kafka.recordRetentionMillis = try duration(v)
            },
            Setting(key: "kafka.sink_group") { c, v in c.kafka.sinkGroup = v },
            /// `key=value,key=value` librdkafka settings; in YAML also a mapping under `kafka.properties`.
            Setting(key: "kafka.properties") { c, v throws(ValueError) in
                for pair in v.split(separator: ",") where !pair.trimmingCharacters(in: .whitespaces).isEmpty {
                    let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2, !parts[0].isEmpty else {
                        throw ValueError(message: "expected key=value pairs separated by commas, got \"\(pair)\"")
                    }
                    c.kafka.properties[parts[0]] = parts[1]
                }
            },
            Setting(key: "workers.concurrency") { c, v throws(ValueError) in
                c.workers.concurrency = try int(v, 1...4096)
            },
            Setting(key: "workers.prefetch") { c, v throws(ValueError) in c.workers.prefetch = try int(v, 0...4096) },
            Setting(key: "workers.lease") { c, v throws(ValueError) in c.workers.leaseMillis = try duration(v) },
            Setting(key: "workers.heartbeat") { c, v throws(ValueError) in c.workers.heartbeatMillis = try duration(v)
            },
            Setting(key: "workers.retry_base_delay") { c, v throws(ValueError) in
                c.workers.retryBaseDelayMillis = try duration(v)
            },
            Setting(key: "workers.max_retry_delay") { c, v throws(ValueError) in
                c.workers.maxRetryDelayMillis = try duration(v)
            },
            Setting(key: "workers.max_requests_per_host") { c, v throws(ValueError) in
                c.workers.maxRequestsPerHost = try int(v, 1...1024)
            },
        ]
        + FetchLimitOverrides.keys.map { name in
            Setting(key: "fetch.\(name)") { c, v throws(ValueError) in
                var overrides = FetchLimitOverrides()
                try overrides.set(name, v)
                c.fetch = overrides.applied(to: c.fetch)
            }
        } + [
            Setting(key: "retention.tasks") { c, v throws(ValueError) in c.retention.tasksMillis = try duration(v) },
            Setting(key: "retention.task_runs") { c, v throws(ValueError) in
                c.retention.taskRunsMillis = try duration(v)
            },
            Setting(key: "retention.heartbeats") { c, v throws(ValueError) in
                c.retention.heartbeatsMillis = try duration(v)
            },
            Setting(key: "retention.logs") { c, v throws(ValueError) in c.retention.logsMillis = try duration(v) },
            Setting(key: "retention.job_runs") { c, v throws(ValueError) in
                c.retention.jobRunsMillis = try duration(v)
            },
            Setting(key: "jobs.enabled") { c, v throws(ValueError) in c.jobs.enabled = try bool(v) },
            Setting(key: "jobs.interval") { c, v throws(ValueError) in
                c.jobs.intervalMillis = try duration(v)
                guard c.jobs.intervalMillis >= 1_000 else { throw ValueError(message: "at least 1s") }
            },
            Setting(key: "webhooks.allow_private_addresses") { c, v throws(ValueError) in
                c.webhooks.allowPrivateAddresses = try bool(v)
            },
            Setting(key: "webhooks.allowed_hosts") { c, v throws(ValueError) in
                c.webhooks.allowedHosts = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
            },
            Setting(key: "webhooks.lease") { c, v throws(ValueError) in
                c.webhooks.leaseMillis = try duration(v)
                guard c.webhooks.leaseMillis >= 1_000 else { throw ValueError(message: "at least 1s") }
            },
            Setting(key: "webhooks.retry_base") { c, v throws(ValueError) in
                c.webhooks.retryBaseMillis = try duration(v)
                guard c.webhooks.retryBaseMillis >= 10 else { throw ValueError(message: "at least 10ms") }
            },
            Setting(key: "webhooks.concurrency") { c, v throws(ValueError) in
                c.webhooks.concurrency = try int(v, 1...1_000)
            },
            Setting(key: "webhooks.timeout") { c, v throws(ValueError) in
                c.webhooks.timeoutMillis = try duration(v)
                guard c.webhooks.timeoutMillis >= 100 else { throw ValueError(message: "at least 100ms") }
            },
            Setting(key: "webhooks.disable_after") { c, v throws(ValueError) in
                c.webhooks.disableAfterMillis = try duration(v)
                guard c.webhooks.disableAfterMillis >= 1_000 else { throw ValueError(message: "at least 1s") }
            },
            Setting(key: "logging.centralized") { c, v throws(ValueError) in c.logging.centralized = try bool(v) },
            Setting(key: "logging.centralized_level") { c, v throws(ValueError) in
                c.logging.centralizedLevel = try level(v)
            },
            Setting(key: "logging.queue_size") { c, v throws(ValueError) in
                c.logging.queueSize = try int(v, 1...10_000_000)
            },
            Setting(key: "logging.format") { c, v throws(ValueError) in
                guard let format = MetropulseConfiguration.LogSettings.Format(rawValue: v.lowercased()) else {
                    throw ValueError(message: "expected text or json")
                }
                c.logging.format = format
            },
            Setting(key: "api.host") { c, v in c.api.host = v },
            Setting(key: "api.rate_limit") { c, v throws(ValueError) in
                c.api.rateLimit = try rateLimit(v, name: "anonymous")
            },
            Setting(key: "api.rate_limit_keyed") { c, v throws(ValueError) in
                c.api.rateLimitKeyed = try rateLimit(v, name: "keyed")
            },
            Setting(key: "api.rate_limit_admin") { c, v throws(ValueError) in
                c.api.rateLimitAdmin = try rateLimit(v, name: "admin")
            },
            Setting(key: "api.port") { c, v throws(ValueError) in c.api.port = try int(v, 0...65535) },
            Setting(key: "api.admin_key") { c, v in c.api.adminKey = v.isEmpty ? nil : v },
            Setting(key: "api.keys") { c, v throws(ValueError) in
                do throws(APIKeys.ParseError) {
                    c.api.keys = try APIKeys.parse(v)
                } catch {
                    throw ValueError(message: error.message)
                }
            },
            Setting(key: "api.max_connections") { c, v throws(ValueError) in
                c.api.maxConnections = try int(v, 1...1_000_000)
            },
            Setting(key: "api.idle_timeout") { c, v throws(ValueError) in c.api.idleTimeoutMillis = try duration(v) },
            Setting(key: "api.max_streams") { c, v throws(ValueError) in c.api.maxStreams = try int(v, 1...100_000) },
            Setting(key: "api.live_interval") { c, v throws(ValueError) in
                c.api.liveIntervalMillis = try duration(v)
                guard (10...60_000).contains(c.api.liveIntervalMillis) else {
                    throw ValueError(message: "from 10ms to 60s")
                }
            },
            Setting(key: "metrics.host") { c, v in c.metrics.host = v },
            Setting(key: "metrics.port") { c, v throws(ValueError) in c.metrics.port = try int(v, 0...65535) },
            Setting(key: "metrics.require_key") { c, v throws(ValueError) in c.metrics.requireKey = try bool(v) },
            Setting(key: "web.enabled") { c, v throws(ValueError) in c.web.enabled = try bool(v) },
            Setting(key: "web.tile_url") { c, v in c.web.tileURL = v },
            Setting(key: "web.tile_attribution") { c, v in c.web.tileAttribution = v },
            Setting(key: "web.vendor_dir") { c, v in c.web.vendorDirectory = v },
            Setting(key: "web.site_dir") { c, v in c.web.siteDirectory = v.isEmpty ? nil : v },
            Setting(key: "web.map_center") { c, v throws(ValueError) in
                let parts = v.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard
                    v.isEmpty
                        || ((2...3).contains(parts.count) && parts.allSatisfy { $0 != nil }
                            && (-90...90).contains(parts[0]!) && (-180...180).contains(parts[1]!))
                else { throw ValueError(message: "expected lat,lon or lat,lon,zoom (e.g. 48.8566,2.3522,13)") }
                c.web.mapCenter = v
            },
            Setting(key: "web.secure_cookies") { c, v throws(ValueError) in c.web.secureCookies = try bool(v) },
            Setting(key: "demo.enabled") { c, v throws(ValueError) in c.demo.enabled = try bool(v) },
            Setting(key: "demo.port") { c, v throws(ValueError) in c.demo.port = try int(v, 0...65535) },
            Setting(key: "data_path") { c, v throws(ValueError) in
                guard let path = MetropulseConfiguration.DataPath(rawValue: v.lowercased()) else {
                    throw ValueError(message: "expected store or kafka")
                }
                c.dataPath = path
            },
            Setting(key: "log_level") { c, v throws(ValueError) in c.logLevel = try level(v) },
        ]

    /// Every environment variable the loader reads.
    public static var environmentVariables: [String] { settings.map(\.environmentName) }

    /// Loads `path` (or only defaults when nil), then applies the environment.
    public static func load(path: String?, environment: [String: String]? = nil) throws -> MetropulseConfiguration {
        let environment = environment ?? ProcessInfo.processInfo.environment
        var configuration = MetropulseConfiguration()
        var errors: [ConfigurationError] = []
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationErrors(errors: [
                    ConfigurationError(line: nil, key: path, message: "cannot read file")
                ])
            }
            errors += apply(yaml: text, to: &configuration)
        }
        for setting in settings {
            guard let value = environment[setting.environmentName] else { continue }
            do {
                try setting.apply(&configuration, value)
            } catch {
                errors.append(ConfigurationError(line: nil, key: setting.environmentName, message: error.message))
            }
        }
        guard errors.isEmpty else { throw ConfigurationErrors(errors: errors) }
        return configuration
    }

    /// Reads a file's text without the environment; returns the result and every problem found.
    public static func validate(yaml: String) -> (configuration: MetropulseConfiguration, errors: [ConfigurationError])
    {
        var configuration = MetropulseConfiguration()
        let errors = apply(yaml: yaml, to: &configuration)
        return (configuration, errors)
    }

    static func apply(yaml: String, to configuration: inout MetropulseConfiguration) -> [ConfigurationError] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            return [ConfigurationError(line: line(of: error), key: "(file)", message: "not valid YAML: \(error)")]
        } catch {
            return [ConfigurationError(line: nil, key: "(file)", message: "not valid YAML: \(error)")]
        }
        guard let root else { return [] }
        guard let mapping = root.mapping else {
            return [ConfigurationError(line: root.line, key: "(file)", message: "expected a mapping at the top level")]
        }
        var errors: [ConfigurationError] = []
        var sourcesNode: Node?
        var citiesNode: Node?
        let sections: Set = [
            "database", "kafka", "workers", "fetch", "retention", "api", "demo", "web", "metrics", "logging", "jobs",
            "webhooks",
        ]
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else { continue }
            if key == "sources" {
                sourcesNode = valueNode
            } else if key == "cities" {
                citiesNode = valueNode
            } else if sections.contains(key) {
                guard let section = valueNode.mapping else {
                    errors.append(ConfigurationError(line: valueNode.line, key: key, message: "expected a mapping"))
                    continue
                }
                for (subKeyNode, subValue) in section {
                    if key == "kafka", subKeyNode.string == "properties", let properties = subValue.mapping {
                        for (name, value) in properties {
                            guard let name = name.string, let value = value.scalar?.string else {
                                errors.append(
                                    ConfigurationError(
                                        line: name.line, key: "kafka.properties", message: "expected name: value"))
                                continue
                            }
                            configuration.kafka.properties[name] = value
                        }
                        continue
                    }
                    let dotted = "\(key).\(subKeyNode.string ?? "?")"
                    errors += applyScalar(dotted, subValue, keyLine: subKeyNode.line, to: &configuration)
                }
            } else {
                errors += applyScalar(key, valueNode, keyLine: keyNode.line, to: &configuration)
            }
        }
        if let sourcesNode {
            var reader = SourceReader()
            configuration.sources = reader.read(sourcesNode)
            configuration.fetchOverrides = reader.fetchOverrides
            configuration.resolveFetchLimits()
            errors += reader.errors
        }
        if let citiesNode {
            var reader = CityReader()
            configuration.cities = reader.read(citiesNode)
            errors += reader.errors
        }
        return errors.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
    }

    private static func applyScalar(
        _ key: String, _ node: Node, keyLine: Int, to configuration: inout MetropulseConfiguration
    ) -> [ConfigurationError] {
        guard let setting = settings.first(where: { $0.key == key }) else {
            return [ConfigurationError(line: keyLine, key: key, message: "unknown setting")]
        }
        guard let value = node.scalar?.string else {
            return [ConfigurationError(line: node.line, key: key, message: "expected a single value")]
        }
        do {
            try setting.apply(&configuration, value)
            return []
        } catch {
            return [ConfigurationError(line: node.line, key: key, message: error.message)]
        }
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    static func int(_ text: String, _ range: ClosedRange<Int>) throws(ValueError) -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ValueError(message: "expected an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    static func level(_ text: String) throws(ValueError) -> String {
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(text.lowercased()) else {
            throw ValueError(message: "expected one of \(levels.joined(separator: ", "))")
        }
        return text.lowercased()
    }

    /// `100/60s`, `5000/1h` (requests per window, a duration as `duration` reads it); `off` or
    /// empty is no limit.
    static func rateLimit(_ text: String, name: String) throws(ValueError) -> RateLimiter.Policy? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed.isEmpty || trimmed == "off" || trimmed == "none" { return nil }
        let parts = trimmed.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let requests = Int(parts[0]), requests >= 1,
            let window = try? duration(String(parts[1]))
        else { throw ValueError(message: "expected requests/window like 100/60s or 5000/1h, or off") }
        return RateLimiter.Policy(name: name, requests: requests, windowMillis: window)
    }

    static func bool(_ text: String) throws(ValueError) -> Bool {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw ValueError(message: "expected true or false")
        }
    }

    /// A duration like `500ms`, `30s`, `5m`, `2h` or `7d` in milliseconds; nil when it is not one.
    public static func milliseconds(_ text: String) -> Int64? { try? duration(text) }

    /// A size in bytes: `1048576`, `512KB`, `32MB`, `1GB` (powers of 1024; `KiB`, `MiB`, `GiB` too),
    /// from 1 byte to 16 GiB.
    static func byteSize(_ text: String) throws(ValueError) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let (kib, mib, gib) = (1024.0, 1_048_576.0, 1_073_741_824.0)
        let units: [(String, Double)] = [
            ("KIB", kib), ("MIB", mib), ("GIB", gib), ("KB", kib), ("MB", mib), ("GB", gib), ("K", kib), ("M", mib),
            ("G", gib), ("B", 1),
        ]
        var bytes: Double?
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            if let number = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)) {
                bytes = number * factor
                break
            }
        }
        if bytes == nil { bytes = Double(trimmed) }
        guard let bytes, bytes.isFinite, bytes >= 1, bytes <= 16 * gib else {
            throw ValueError(message: "expected a size like 1048576, 512KB, 32MB or 1GB (at most 16GB)")
        }
        return Int(bytes)
    }

    /// The longest duration a setting takes: ten years, far past any cadence or retention, and far
    /// from the overflow of the arithmetic done with it.
    static let maxDurationMillis: Int64 = 10 * 366 * 86_400_000

    /// `500ms`, `30s`, `5m`, `1h`, `7d`, or a plain number of seconds; at most ten years.
    static func duration(_ text: String) throws(ValueError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var millis: Double?
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            if let number = Double(trimmed.dropLast(suffix.count)) {
                millis = number * factor
                break
            }
        }
        if millis == nil, let seconds = Double(trimmed) { millis = seconds * 1000 }
        guard let millis, millis.isFinite, millis >= 1, millis <= Double(maxDurationMillis) else {
            throw ValueError(message: "expected a positive duration like 500ms, 30s, 5m, 1h or 7d (at most 10 years)")
        }
        return Int64(millis)
    }
}

extension Node {
    /// 1-based line of the node in its file.
    var line: Int { mark?.line ?? 0 }
}
