import Foundation
import MetropulseAPI
import MetropulseApp
import MetropulseConnectors
import MetropulseCore
import MetropulseKafka
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    @Test("no file: the demo city on SQLite with 16 workers on 127.0.0.1:8080")
    func defaults() throws {
        let configuration = try ConfigurationLoader.load(path: nil, environment: [:])
        #expect(
            configuration.sources.map(\.id) == [
                "demo-bikes", "demo-metro-trips", "demo-metro-vehicles", "demo-metro-alerts", "demo-siri-stop",
                "demo-siri-messages", "demo-weather-centre", "demo-weather-nord", "demo-weather-sud", "demo-air-centre",
                "demo-air-nord", "demo-air-sud", "demo-power", "demo-311", "demo-traffic",
            ])
        #expect(configuration.demoEnabled)
        #expect(configuration.workers.concurrency == 16)
        #expect(configuration.api.port == 8080)
        #expect(configuration.database.path == "metropulse.sqlite")
        #expect(configuration.api.adminKey == nil)
    }

    @Test("the example files are valid; Paris polls Vélib' every 60 s without the demo")
    func examples() throws {
        let paris = try ConfigurationLoader.load(path: Self.packageRoot + "/examples/paris.yaml", environment: [:])
        let velib = try #require(paris.sources.first)
        #expect(paris.sources.count == 1)
        #expect(velib.kind == .gbfs)
        #expect(velib.intervalMillis == 60_000)
        #expect(velib.urls.first?.contains("Velib_Metropole/gbfs.json") == true)
        #expect(velib.fallbacks.map(\.kind) == [.odsRecords])
        #expect(velib.fallbacks.first?.urls.first?.hasSuffix("velib-disponibilite-en-temps-reel/records") == true)
        #expect(velib.stationKey == .code)
        #expect(!paris.demoEnabled)
        let demo = try ConfigurationLoader.load(path: Self.packageRoot + "/examples/demo.yaml", environment: [:])
        #expect(demo.sources.first?.intervalMillis == 10_000)
        #expect(demo.workers.leaseMillis == 60_000)
        #expect(demo.workers.retryBaseDelayMillis == 2_000)
        #expect(demo.workers.maxRetryDelayMillis == 300_000)
        #expect(demo.retention.tasksMillis == 7 * 86_400_000)
        #expect(demo.retention.taskRunsMillis == 30 * 86_400_000)
        let nyc = try ConfigurationLoader.load(path: Self.packageRoot + "/examples/nyc.yaml", environment: [:])
        let bicycles = try #require(nyc.sources.first)
        #expect(
            bicycles.kind == .json && bicycles.format == "socrata"
                && bicycles.mapping?.fields == ["bicycles": "/counts"])
        #expect(bicycles.apiKeyHeader == "X-App-Token" && nyc.cities.first?.zones.count == 5)
    }

    @Test("the web and metrics sections are read from the file")
    func webAndMetricsSections() {
        let (configuration, errors) = ConfigurationLoader.validate(
            yaml: "web:\n  enabled: false\n  map_center: 48.85,2.35\nmetrics:\n  port: 9464\n")
        #expect(errors.isEmpty, "\(errors)")
        #expect(!configuration.web.enabled && configuration.web.mapCenter == "48.85,2.35")
        #expect(configuration.metrics.port == 9464)
    }

    @Test("rate limits: requests/window, or off")
    func rateLimits() {
        let (configuration, errors) = ConfigurationLoader.validate(
            yaml: "api:\n  rate_limit: 100/60s\n  rate_limit_keyed: 5000/1h\n  rate_limit_admin: \"off\"\n")
        #expect(errors.isEmpty, "\(errors)")
        #expect(configuration.api.rateLimit == .init(name: "anonymous", requests: 100, windowMillis: 60_000))
        #expect(configuration.api.rateLimitKeyed == .init(name: "keyed", requests: 5_000, windowMillis: 3_600_000))
        #expect(configuration.api.rateLimitAdmin == nil)
        for bad in ["100", "0/60s", "-1/60s", "100/soon", "/60s", "100/99999999999999999d"] {
            let (_, errors) = ConfigurationLoader.validate(yaml: "api:\n  rate_limit: \"\(bad)\"\n")
            #expect(errors.map(\.key) == ["api.rate_limit"], "\(bad): \(errors)")
        }
    }

    @Test("every setting can be overridden from METROPULSE_* variables")
    func environment() throws {
        let configuration = try ConfigurationLoader.load(
            path: Self.packageRoot + "/examples/paris.yaml",
            environment: [
                "METROPULSE_DATABASE_PATH": "/tmp/x.sqlite", "METROPULSE_WORKERS_CONCURRENCY": "3",
                "METROPULSE_API_PORT": "9999", "METROPULSE_API_ADMIN_KEY": "k", "METROPULSE_WORKERS_LEASE": "2m",
                "METROPULSE_DEMO_ENABLED": "yes", "METROPULSE_LOG_LEVEL": "DEBUG", "METROPULSE_WORKERS_PREFETCH": "0",
            ])
        #expect(configuration.database.path == "/tmp/x.sqlite")
        #expect(configuration.workers.concurrency == 3)
        #expect(configuration.workers.prefetch == 0)
        #expect(configuration.api.port == 9999)
        #expect(configuration.api.adminKey == "k")
        #expect(configuration.workers.leaseMillis == 120_000)
        #expect(configuration.demoEnabled)
        #expect(configuration.logLevel == "debug")
        #expect(ConfigurationLoader.environmentVariables.contains("METROPULSE_WORKERS_MAX_RETRY_DELAY"))

        let error = try #require(throws: ConfigurationErrors.self) {
            try ConfigurationLoader.load(path: nil, environment: ["METROPULSE_WORKERS_CONCURRENCY": "many"])
        }
        #expect(
            error.errors == [
                ConfigurationError(
                    line: nil, key: "METROPULSE_WORKERS_CONCURRENCY", message: "expected an integer from 1 to 4096")
            ])
    }

    @Test("validation reports every problem with its line and key")
    func validation() {
        let yaml = """
            workers:
              concurrency: lots
            api:
              prot: 8080
            sources:
              - id: a
                kind: gbfs
                url: https://example.org/gbfs.json
                interval: soon
              - id: a
                kind: gbfs
                url: https://example.org/other.json
              - id: b
                kind: carrier-pigeon
                url: ftp://example.org
              - kind: gbfs
                url: https://example.org/gbfs.json
            """
        let errors = ConfigurationLoader.validate(yaml: yaml).errors
        #expect(
            errors.map(\.description) == [
                "line 2: workers.concurrency: expected an integer from 1 to 4096",
                "line 4: api.prot: unknown setting",
                "line 9: sources[0].interval: expected a positive duration like 500ms, 30s, 5m, 1h or 7d (at most 10 years)",
                "line 10: sources[1].id: duplicate source id 'a'",
                "line 14: sources[2].kind: unknown kind 'carrier-pigeon' (expected gbfs, ods-records, gtfs-rt, siri-lite, city, json)",
                "line 15: sources[2].url: 'ftp://example.org' is not an http(s) or demo: URL",
                "line 16: sources[3].id: missing",
            ])
        let broken = ConfigurationLoader.validate(yaml: "sources: [unclosed").errors
        #expect(broken.count == 1)
        #expect(broken.first?.line != nil)
        #expect(broken.first?.message.hasPrefix("not valid YAML") == true)
    }

    @Test("fallbacks and station_key are checked with their line and key")
    func fallbackValidation() {
        let yaml = """
            sources:
              - id: v
                kind: gbfs
                url: https://example.org/gbfs.json
                station_key: name
                fallbacks:
                  - kind: ods-records
                  - kind: telegraph
                    url: https://example.org/x
                  - url: gopher://x
            """
        #expect(
            ConfigurationLoader.validate(yaml: yaml).errors.map(\.description) == [
                "line 5: sources[0].station_key: expected id or code",
                "line 7: sources[0].fallbacks[0].url: missing (give url or urls)",
                "line 8: sources[0].fallbacks[1].kind: unknown kind 'telegraph' (expected gbfs, ods-records, gtfs-rt, siri-lite, city, json)",
                "line 10: sources[0].fallbacks[2].kind: missing",
                "line 10: sources[0].fallbacks[2].url: 'gopher://x' is not an http(s) or demo: URL",
            ])
    }

    @Test("static_gtfs: transit kinds only, a URL or a readable file, checked with line and key")
    func staticGTFSValidation() throws {
        let yaml = """
            sources:
              - id: t
                kind: gtfs-rt
                url: https://example.org/trips.pb
                static_gtfs: https://example.org/gtfs.zip
              - id: b
                kind: gbfs
                url: https://example.org/gbfs.json
                static_gtfs: https://example.org/gtfs.zip
              - id: s
                kind: siri-lite
                url: https://example.org/siri.json
                static_gtfs: /nowhere/gtfs.zip
              - id: f
                kind: gtfs-rt
                url: https://example.org/trips.pb
                static_gtfs: ftp://example.org/gtfs.zip
            """
        let result = ConfigurationLoader.validate(yaml: yaml)
        #expect(
            result.errors.map(\.description) == [
                "line 9: sources[1].static_gtfs: only gtfs-rt, siri-lite sources take static_gtfs (this one is gbfs)",
                "line 13: sources[2].static_gtfs: no readable file at '/nowhere/gtfs.zip'",
                "line 17: sources[3].static_gtfs: 'ftp://example.org/gtfs.zip' is not an http(s) or demo: URL",
            ])
    }

    @Test("keys only some connectors read are refused on the other kinds, naming the kinds that take them")
    func keysOfOtherKinds() {
        let yaml = """
            sources:
              - id: b
                kind: gbfs
                url: https://example.org/gbfs.json
                format: socrata
                mapping: {records: /r, id: /id, fields: {v: /v}}
              - id: w
                kind: city
                url: https://example.org/w
                station_key: code
                format: nowcast
            """
        let result = ConfigurationLoader.validate(yaml: yaml)
        #expect(
            result.errors.map(\.description) == [
                "line 5: sources[0].format: only city, json sources take format (this one is gbfs)",
                "line 6: sources[0].mapping: only json sources take mapping (this one is gbfs)",
                "line 10: sources[1].station_key: only gbfs, ods-records sources take station_key (this one is city)",
                "line 11: sources[1].format: unknown format 'nowcast' (expected open-meteo, openaq, eia, socrata-311, open311, here-flow, tomtom-incidents)",
            ])
    }

    @Test("api_key_param: a city source's key goes in the query, only on the request; other kinds refuse it")
    func apiKeyParameter() throws {
        let yaml = """
            sources:
              - id: eia
                kind: city
                format: eia
                url: https://api.eia.gov/v2/electricity/rto/region-data/data/?frequency=hourly
                api_key_env: EIA_API_KEY
                api_key_param: api_key
              - id: b
                kind: gbfs
                url: https://example.org/gbfs.json
                api_key_param: key
            """
        let result = ConfigurationLoader.validate(yaml: yaml)
        #expect(
            result.errors.map(\.description) == [
                "line 11: sources[1].api_key_param: only city, json sources take api_key_param (this one is gbfs)"
            ])
        let eia = try #require(result.configuration.sources.first)
        #expect(try eia.requestHeaders(environment: ["EIA_API_KEY": "k&1"]).isEmpty)
        #expect(
            try eia.requestURL(eia.urls[0], environment: ["EIA_API_KEY": "k&1"])
                == "https://api.eia.gov/v2/electricity/rto/region-data/data/?frequency=hourly&api_key=k%261")
        #expect(throws: FetchError.self) { _ = try eia.requestURL(eia.urls[0], environment: [:]) }
    }

    @Test("the kinds table of docs/configuration.md is the connectors' own description")
    func kindsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- connectors:begin -->\n"))
        let end = try #require(text.range(of: "\n<!-- connectors:end -->"))
        let documented = String(text[begin.upperBound..<end.lowerBound])
        #expect(
            documented == StandardConnectors.descriptions.markdown,
            "regenerate it with `metropulse sources kinds --markdown`")
        // Every kind has a connector that describes itself.
        #expect(Set(StandardConnectors.descriptions.all.map(\.kind)) == Set(SourceKind.allCases))
    }

    @Test("kafka settings: brokers, topic names, librdkafka properties from YAML and the environment")
    func kafkaSettings() throws {
        let yaml = """
            kafka:
              brokers: b1:9092,b2:9092
              topic_prefix: city-
              tasks_topic: jobs
              partitions: 6
              stall_after: 90s
              properties:
                security.protocol: SASL_SSL
                sasl.mechanisms: PLAIN
            """
        let (configuration, errors) = ConfigurationLoader.validate(yaml: yaml)
        #expect(errors.isEmpty)
        #expect(configuration.kafka.brokers == "b1:9092,b2:9092")
        #expect(configuration.kafka.topicPrefix == "city-")
        #expect(configuration.kafka.topics.tasks == "jobs")
        #expect(configuration.kafka.topics.retry == "fetch.tasks.retry")
        #expect(configuration.kafka.topics.partitions == 6)
        #expect(configuration.kafka.stallAfterMillis == 90_000)
        #expect(configuration.kafka.properties == ["security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN"])

        let fromEnvironment = try ConfigurationLoader.load(
            path: nil,
            environment: [
                "METROPULSE_KAFKA_BROKERS": "127.0.0.1:9092",
                "METROPULSE_KAFKA_PROPERTIES": "sasl.username=u, sasl.password=p=q",
            ])
        #expect(fromEnvironment.kafka.brokers == "127.0.0.1:9092")
        #expect(fromEnvironment.kafka.properties == ["sasl.username": "u", "sasl.password": "p=q"])
        #expect(try ConfigurationLoader.load(path: nil, environment: [:]).kafka.brokers == nil)

        let error = try #require(throws: ConfigurationErrors.self) {
            try ConfigurationLoader.load(path: nil, environment: ["METROPULSE_KAFKA_PROPERTIES": "no-equals-sign"])
        }
        #expect(error.errors.first?.key == "METROPULSE_KAFKA_PROPERTIES")
    }

    @Test("a json source needs a mapping of JSON pointers, checked with line and key")
    func mappingValidation() {
        let yaml = """
            sources:
              - id: load
                kind: json
                url: https://example.org/load.json
                mapping:
                  records: zones
                  fields: {demand: demand_mw}
              - id: other
                kind: json
                url: https://example.org/other.json
            """
        #expect(
            ConfigurationLoader.validate(yaml: yaml).errors.map(\.description) == [
                "line 6: sources[0].mapping.records: expected a JSON pointer like /data/items (or empty for the root)",
                "line 6: sources[0].mapping.id: missing",
                "line 7: sources[0].mapping.fields.demand: expected a JSON pointer like /value",
                "line 8: sources[1].mapping: missing (a json source needs records, id and fields)",
            ])
    }

    @Test("cities declare zones as points or polygons; bad ones are reported with line and key")
    func cities() throws {
        let yaml = """
            cities:
              - id: paris
                zones:
                  - {id: centre, point: [48.8566, 2.3522]}
                  - id: nord
                    polygon: [[48.88, 2.30], [48.88, 2.40], [48.92, 2.40]]
                  - {id: moon, point: [123, 0]}
                  - {id: blob, polygon: [[1, 1], [2, 2]]}
                  - {id: nowhere}
            """
        let (configuration, errors) = ConfigurationLoader.validate(yaml: yaml)
        #expect(
            errors.map(\.description) == [
                "line 7: cities[0].zones[2].point: expected [latitude, longitude]",
                "line 8: cities[0].zones[3].polygon: expected at least three [latitude, longitude] points",
                "line 9: cities[0].zones[4]: give a point or a polygon",
            ])
        let paris = try #require(configuration.cities.first)
        #expect(paris.id == "paris" && paris.zones.map(\.id) == ["centre", "nord"])
        #expect(paris.zone(for: GeoPoint(latitude: 48.89, longitude: 2.38)) == "nord")
        let demo = try ConfigurationLoader.load(path: Self.packageRoot + "/examples/demo.yaml", environment: [:])
        #expect(demo.cities == MetropulseConfiguration.demoCities)
        #expect(demo.sources.map(\.id) == MetropulseConfiguration.demoSources.map(\.id))
    }

    @Test("fetch limits: the fetch section, a source's own fetch block over it, and the environment")
    func fetchLimits() throws {
        let yaml = """
            fetch:
              max_body_size: 8MB
              max_redirects: 2
            sources:
              - id: a
                kind: gbfs
                url: https://example.org/gbfs.json
              - id: b
                kind: gbfs
                url: https://example.org/b.json
                fetch:
                  max_body_size: 512KB
                  allow_private_addresses: true
                  max_retry_after: 10m
              - id: c
                kind: gbfs
                url: https://example.org/c.json
                fetch:
                  max_redirects: lots
            """
        let (configuration, errors) = ConfigurationLoader.validate(yaml: yaml)
        #expect(
            errors.map(\.description) == ["line 19: sources[2].fetch.max_redirects: expected an integer from 0 to 20"])
        let a = try #require(configuration.sources.first { $0.id == "a" })
        #expect(a.limits.maxBodyBytes == 8 << 20 && a.limits.maxRedirects == 2 && !a.limits.allowPrivateAddresses)
        let b = try #require(configuration.sources.first { $0.id == "b" })
        #expect(b.limits.maxBodyBytes == 512 << 10 && b.limits.maxRedirects == 2 && b.limits.allowPrivateAddresses)
        #expect(b.limits.maxRetryAfterMillis == 600_000)

        let folder = try temporaryFolder()
        try yaml.replacingOccurrences(of: "lots", with: "1").write(
            toFile: folder + "/s.yaml", atomically: true, encoding: .utf8)
        let loaded = try ConfigurationLoader.load(
            path: folder + "/s.yaml", environment: ["METROPULSE_FETCH_ALLOW_PRIVATE_ADDRESSES": "true"])
        #expect(loaded.sources.allSatisfy { $0.limits.allowPrivateAddresses })
        #expect(loaded.sources.first { $0.id == "c" }?.limits.maxRedirects == 1)
        // The demo city may always reach its loopback feed server.
        #expect(MetropulseConfiguration().sources.allSatisfy { $0.limits.allowPrivateAddresses })
        #expect(throws: ConfigurationErrors.self) {
            try ConfigurationLoader.load(path: nil, environment: ["METROPULSE_FETCH_MAX_BODY_SIZE": "1e30GB"])
        }
    }
}
