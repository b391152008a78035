import ArgumentParser
import Foundation
import Logging
import MetropulseApp
import MetropulseBench
import MetropulseCore
import MetropulseKafka
import MetropulseSQLite

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print a ratio against a baseline run alongside.",
        subcommands: [
            Ingest.self, Queue.self, Overhead.self, Parse.self, Kafka.self, Scale.self, Soak.self, Dashboard.self,
            Analytics.self, Forecast.self, Webhooks.self, Freshness.self, Serve.self, Fanout.self, FanoutClients.self,
            FanoutServer.self,
        ])

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "A source's stations (300, 1,500, gzip), a line board and a near query under wrk: Metropulse against FastAPI + uvicorn and nginx, in one run.",
            discussion: """
                Needs wrk and nginx (Debian: apt-get install wrk nginx-light) and a Python with fastapi, uvicorn \
                and orjson (python3 -m venv .build/serve-venv && .build/serve-venv/bin/pip install fastapi \
                uvicorn orjson).
                """)

        @Option(help: "The Python with fastapi, uvicorn and orjson.")
        var python = ".build/serve-venv/bin/python"

        @Option(help: "nginx.")
        var nginx = "/usr/sbin/nginx"

        @Option(help: "wrk.")
        var wrk = "/usr/bin/wrk"

        @Option(help: "Seconds of load per server and case.")
        var seconds = 10

        @Option(help: "Connections at once (wrk -c).")
        var connections = 32

        @Option(help: "Where to create the throwaway databases and files.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            let python =
                self.python.hasPrefix("/") ? self.python : FileManager.default.currentDirectoryPath + "/" + self.python
            print(
                try await ServeBenchmark(
                    python: python, nginx: nginx, wrk: wrk, seconds: seconds, connections: connections,
                    directory: directory
                ).run())
        }
    }

    struct Fanout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One station update published to 10,000 SSE subscribers: Metropulse against FastAPI + sse-starlette, in one run.",
            discussion: """
                Needs a Python with fastapi, uvicorn and sse-starlette (python3 -m venv .build/serve-venv && \
                .build/serve-venv/bin/pip install fastapi uvicorn sse-starlette). Each side holds its subscribers in \
                one process; the subscribers are a child process of this command. Exits 1 unless Metropulse's p99 is \
                under 100 ms at --subscribers with every update delivered, and under 10 KiB per idle subscriber.
                """)

        @Option(help: "Subscribers at once (each side then tries half as many until it holds the p99).")
        var subscribers = 10_000

        @Option(help: "Updates published to them (the first a warm-up).")
        var rounds = 11

        @Option(help: "Stations of the source they subscribe to (their snapshot).")
        var stations = 50

        @Option(help: "The Python with fastapi, uvicorn and sse-starlette.")
        var python = ".build/serve-venv/bin/python"

        @Option(help: "Where to create the throwaway databases and files.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            let python =
                self.python.hasPrefix("/") ? self.python : FileManager.default.currentDirectoryPath + "/" + self.python
            let executable =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            let report = try await FanoutBenchmark(
                subscribers: subscribers, rounds: rounds, stations: stations, python: python,
                executable: executable, directory: directory
            ).run()
            print(report)
            if !report.met { throw ExitCode(1) }
        }
    }

    struct FanoutClients: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fanout-clients", abstract: "The subscribers of bench fanout (driven by it).",
            shouldDisplay: false)

        @Option var port: Int
        @Option var path: String
        @Option var count: Int

        func run() async throws {
            try await MetropulseBench.FanoutClients(port: port, path: path, count: count).run()
        }
    }

    struct FanoutServer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fanout-server", abstract: "The Metropulse side of bench fanout (driven by it).",
            shouldDisplay: false)

        @Option var subscribers: Int
        @Option var stations: Int
        @Option var directory: String

        func run() async throws {
            try await MetropulseBench.FanoutServer(subscribers: subscribers, stations: stations, directory: directory)
                .run()
        }
    }

    struct Freshness: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "From a feed's answer complete to an SSE client having the change: api.live_interval 100 ms against 1 s, in one run."
        )

        @Option(help: "Changes measured on each side (one a second).")
        var samples = 60

        @Option(help: "Where to create the throwaway databases.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            let report = try await FreshnessBenchmark(samples: samples, directory: directory).run()
            print(report)
            if !(report.fast.percentile(0.99) < 250) { throw ExitCode(1) }
        }
    }

    /// Where a benchmark makes its throwaway store: a SQLite file in a folder, or a scratch schema.
    struct ScratchStore: ParsableArguments {
        @Option(help: "Where to create the throwaway database.")
        var directory = FileManager.default.temporaryDirectory.path

        @Option(
            help: ArgumentHelp(
                "Measure on this PostgreSQL database instead of SQLite (a scratch schema, dropped after).",
                valueName: "postgres-url"))
        var postgres: String?
    }

    struct Webhooks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Webhook deliveries per second to a loopback receiver (stored, signed, recorded), against the same POSTs unsigned and unrecorded."
        )

        @Option(help: "Deliveries to send.")
        var deliveries = 20_000

        @Option(help: "Deliveries sent at once (webhooks.concurrency).")
        var concurrency = 32

        @OptionGroup var scratch: ScratchStore

        func run() async throws {
            let report = try await WebhookBenchmark(
                deliveries: deliveries, concurrency: concurrency, directory: scratch.directory,
                postgresURL: scratch.postgres
            ).run()
            print(report)
            if report.webhookRate < 1_000 || report.signaturesValid != report.signaturesChecked { throw ExitCode(1) }
        }
    }

    struct Parse: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Decode + normalize throughput on the Vélib' GBFS and largest GTFS-Realtime captures, against CPython.")

        @Option(help: "Folder of feed captures (default: METROPULSE_FIXTURES or ../shared/fixtures).")
        var fixtures: String?

        @Option(help: "The CPython baseline script.")
        var script = "scripts/bench_parse.py"

        @Option(help: "The Python interpreter (needs the protobuf package for the GTFS-Realtime case).")
        var python = "python3"

        @Option(help: "Seconds of measuring per case and side.")
        var seconds = 3.0

        @Option(help: "Only this case: gbfs or gtfs-rt (repeatable; default all).")
        var only: [String] = []

        func run() throws {
            guard let root = fixtures ?? FixtureLocator.directory() else {
                throw ValidationError("feed captures not found: pass --fixtures or set METROPULSE_FIXTURES")
            }
            let benchmark = ParseBenchmark(
                fixtures: root, script: script, python: python, seconds: max(0.5, seconds), only: Set(only))
            print(try benchmark.run())
        }
    }

    struct Analytics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The full refresh_hourly over a Paris-size history against a plain SQL GROUP BY, and one incremental cycle (SQLite)."
        )

        @Option(help: "Stations in the generated history.")
        var stations = 1_500

        @Option(help: "Days of one snapshot a minute.")
        var days = 7

        @OptionGroup var scratch: ScratchStore

        func run() async throws {
            print(
                try await AnalyticsBenchmark(
                    stations: stations, days: days, directory: scratch.directory, postgresURL: scratch.postgres
                )
                .run())
        }
    }

    struct Forecast: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Backtest the City Live forecasts on the stored history against persistence and seasonal-naive.",
            discussion: """
                Power demand per zone (24 hours ahead, from every past hour with 2 days of history before it) \
                and bikes per station (5 to 60 minutes ahead, every 30 minutes), each forecast only from \
                what was stored before its origin. Prints the mean absolute error of the method and of both \
                baselines; exits 1 when the method does not beat both. Run it after `metropulse backfill \
                --since 7d` (and the jobs: `metropulse jobs run refresh_hourly --here`, `refresh_zone_hours`).
                """)

        @OptionGroup var options: RuntimeOptions

        @Option(help: "Stations per bike source.")
        var stations = 100

        func run() async throws {
            let configuration = try options.load()
            let catalog = SourceCatalog(configuration.sources, cities: configuration.cities)
            let limit = stations
            let scores = try await JobsCommand.withBackend(options) { backend, _ in
                let backtest = ForecastBacktest(store: backend.store, catalog: catalog)
                let now = WallClock.system.nowMillis
                return [try await backtest.power(now: now), try await backtest.bikes(now: now, stations: limit)]
            }
            print(ForecastBacktest.table(scores))
            if scores.contains(where: { $0.points > 0 && !$0.beatsBoth }) { throw ExitCode(1) }
            if scores.allSatisfy({ $0.points == 0 }) {
                print("no history to backtest: run `metropulse backfill --since 7d` and the jobs first")
                throw ExitCode(1)
            }
        }
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the Vélib' capture through parse → normalize → raw + latest (SQLite or PostgreSQL).")

        @Option(help: "Number of successive snapshots to replay.")
        var snapshots = 40

        @Option(help: "Rounds of pipeline then baselines, each on a fresh store; the medians are reported.")
        var rounds = 3

        @Option(help: "Folder of feed captures (default: METROPULSE_FIXTURES or ../shared/fixtures).")
        var fixtures: String?

        @Option(help: "SQLite synchronous mode for both the pipeline and the baseline: full or normal.")
        var synchronous = "full"

        @Option(help: "Where to create the throwaway databases.")
        var directory = FileManager.default.temporaryDirectory.path

        @Option(
            help: ArgumentHelp(
                "Measure on this PostgreSQL database instead of SQLite (a scratch schema, dropped after).",
                valueName: "postgres-url"))
        var postgres: String?

        func run() async throws {
            guard let root = fixtures ?? FixtureLocator.directory() else {
                throw ValidationError("feed captures not found: pass --fixtures or set METROPULSE_FIXTURES")
            }
            let folder = root + "/gbfs/velib-paris-2025-10"
            let benchmark = IngestBenchmark(
                statusPath: folder + "/station_status.json", informationPath: folder + "/station_information.json",
                snapshots: max(1, snapshots), directory: directory,
                synchronous: synchronous.lowercased() == "normal" ? .normal : .full, postgresURL: postgres,
                rounds: max(1, rounds))
            print(try await benchmark.run())
        }
    }

    struct Queue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enqueue no-op tasks and drain them with the worker pool; then measure latency at a steady rate.")

        @Option(help: "Tasks in the backlog to drain.")
        var tasks = 100_000

        @Option(help: "Concurrent workers in the pool.")
        var workers = 16

        @Option(help: "Tasks the pool claims ahead of free slots (default: as many as --workers, as in production).")
        var prefetch: Int?

        @Option(help: "Tasks per second offered in the steady phase.")
        var rate = 1_000

        @Option(help: "Length of the steady phase, in seconds.")
        var seconds = 10

        @Option(help: "Also run on this PostgreSQL database (default: METROPULSE_DATABASE_URL when set).")
        var postgres: String?

        @Flag(help: "Skip the embedded queue.")
        var skipEmbedded = false

        @Option(help: "Where to create the throwaway SQLite database.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            var targets: [QueueBenchmark.Target] = skipEmbedded ? [] : [.sqlite(directory: directory)]
            if let url = postgres ?? ProcessInfo.processInfo.environment["METROPULSE_DATABASE_URL"] {
                targets.append(.postgres(url: url))
            }
            guard !targets.isEmpty else {
                throw ValidationError("nothing to measure: pass --postgres or drop --skip-embedded")
            }
            let benchmark = QueueBenchmark(
                tasks: max(1, tasks), workers: max(1, workers), prefetch: prefetch.map { max(0, $0) },
                steadyRate: max(100, rate),
                steadySeconds: max(1, seconds),
                targets: targets)
            print(try await benchmark.run())
        }
    }

    struct Overhead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The queue drain with metrics and the central log off, on, and on with a line per task, in alternating rounds: the ratio of each to off."
        )

        @Option(help: "Tasks drained per round.")
        var tasks = 30_000

        @Option(help: "Concurrent workers in the pool.")
        var workers = 16

        @Option(help: "Rounds per mode (the median is reported).")
        var rounds = 5

        @Option(help: "Where to create the throwaway SQLite databases.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            let benchmark = OverheadBenchmark(
                tasks: max(100, tasks), workers: max(1, workers), rounds: max(1, rounds), directory: directory)
            print(try await benchmark.run())
        }
    }

    struct Kafka: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Produce and consume task messages through a Kafka broker, against the Python confluent-kafka client; then the work queue's latency at a steady rate."
        )

        @Option(help: "Brokers, host:port (default: METROPULSE_KAFKA_BROKERS).")
        var brokers: String?

        @Option(help: "Messages produced and consumed by each client.")
        var messages = 200_000

        @Option(help: "A Python interpreter with confluent-kafka, for the baseline ('' to skip).")
        var python = "python3"

        @Option(help: "Tasks per second offered to the work queue in the latency phase.")
        var rate = 1_000

        @Option(help: "Length of the latency phase, in seconds.")
        var seconds = 10

        @Option(help: "Produce-and-consume rounds per client (alternating; medians reported).")
        var rounds = 3

        func run() async throws {
            #if Kafka
                guard let brokers = brokers ?? ProcessInfo.processInfo.environment["METROPULSE_KAFKA_BROKERS"] else {
                    throw ValidationError("pass --brokers host:port or set METROPULSE_KAFKA_BROKERS")
                }
                let benchmark = KafkaBenchmark(
                    brokers: brokers, messages: max(1, messages), python: python.isEmpty ? nil : python,
                    steadyRate: max(100, rate), steadySeconds: max(1, seconds), rounds: max(1, rounds))
                print(try await benchmark.run())
            #else
                throw ValidationError(KafkaSupport.missing)
            #endif
        }
    }

    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One scheduler process for N sources on a local feed server: slot start drift and the scheduler's CPU, against a Python heap scheduler (SQLite)."
        )

        @Option(help: "Sources to schedule.")
        var sources = 10_000

        @Option(help: "Every source's interval: 60s, 2m...")
        var interval = "60s"

        @Option(help: "Seconds of warm-up before each measured window.")
        var warmup = 30

        @Option(help: "Seconds measured per scheduler.")
        var seconds = 120

        @Option(help: "Worker processes.")
        var workerProcesses = 2

        @Option(help: "Concurrent fetches per worker process.")
        var concurrency = 32

        @Option(
            help: "Run on this PostgreSQL server (a database of the benchmark's own); the peer runs on SQLite only.")
        var postgres: String?

        @Option(help: "The Python interpreter for the peer scheduler ('' to skip).")
        var python = "python3"

        @Option(help: "The peer scheduler script.")
        var script = "scripts/bench_scheduler.py"

        @Option(help: "Where to make the benchmark's folder.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            guard let intervalMillis = ConfigurationLoader.milliseconds(interval), intervalMillis >= 1_000 else {
                throw ValidationError("--interval must be a duration of at least 1s, like 60s or 2m")
            }
            guard (1...100_000).contains(sources) else { throw ValidationError("--sources must be from 1 to 100000") }
            guard (1...16).contains(workerProcesses), (1...1_024).contains(concurrency) else {
                throw ValidationError("--worker-processes must be from 1 to 16, --concurrency from 1 to 1024")
            }
            var logger = Logger(label: "metropulse-bench")
            logger.logLevel = .error
            let benchmark = ScaleBenchmark(
                sources: sources, intervalMillis: intervalMillis, warmupSeconds: max(0, warmup),
                seconds: max(10, seconds), workerProcesses: workerProcesses, concurrency: concurrency,
                postgresURL: postgres, python: python.isEmpty ? nil : python, script: script,
                binary: DrillCommand.executablePath, directory: directory, logger: logger, say: DrillCommand.say)
            DrillCommand.say(try await benchmark.run())
        }
    }

    struct Soak: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "serve at the Paris load, then at ten times it for an hour: memory growth, latency, errors (not in CI)."
        )

        @Option(help: "Minutes at --load times the Paris load.")
        var minutes = 60

        @Option(help: "Minutes at the Paris load first (0 skips it).")
        var parisMinutes = 10

        @Option(help: "Multiple of the Paris load (1,500 stations a minute and ten transit feeds).")
        var load = 10

        @Option(help: "Seconds between samples.")
        var sample = 10

        @Option(help: "Where to make the benchmark's folder.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            guard (0...1_440).contains(minutes), (0...1_440).contains(parisMinutes), minutes + parisMinutes > 0 else {
                throw ValidationError("--minutes and --paris-minutes must be from 0 to 1440, not both 0")
            }
            guard (1...100).contains(load), (1...600).contains(sample) else {
                throw ValidationError("--load must be from 1 to 100, --sample from 1 to 600")
            }
            var logger = Logger(label: "metropulse-bench")
            logger.logLevel = .error
            let benchmark = SoakBenchmark(
                minutes: minutes, parisMinutes: parisMinutes, load: load, sampleSeconds: sample,
                binary: DrillCommand.executablePath, directory: directory, logger: logger, say: DrillCommand.say)
            DrillCommand.say(try await benchmark.run())
        }
    }

    struct Dashboard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "the live map with a Paris-size city in headless Chromium: first render and a full update, against the empty page."
        )

        @Option(help: "Stations on the map.")
        var stations = 1_500

        @Option(help: "Vehicles on the map.")
        var vehicles = 300

        @Option(help: "Measured rounds (after one warm-up), alternating with the baseline.")
        var rounds = 5

        @Option(help: "Debian's Chromium.")
        var chromium = "/usr/bin/chromium"

        @Option(help: "Debian's chromedriver (chromium-driver).")
        var chromedriver = "/usr/bin/chromedriver"

        @Option(help: "Where to make the benchmark's folder.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            guard (1...100_000).contains(stations), (0...100_000).contains(vehicles), (1...100).contains(rounds) else {
                throw ValidationError("--stations 1...100000, --vehicles 0...100000, --rounds 1...100")
            }
            var logger = Logger(label: "metropulse-bench")
            logger.logLevel = .error
            let benchmark = DashboardBenchmark(
                stations: stations, vehicles: vehicles, rounds: rounds, chromium: chromium, chromedriver: chromedriver,
                directory: directory, logger: logger)
            DrillCommand.say(try await benchmark.run())
        }
    }
}
