// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "metropulse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "metropulse", targets: ["metropulse"]),
        /// The feed readers' libFuzzer entry points, built by `scripts/fuzz` with the fuzzer and
        /// address sanitizers; not part of the binary.
        .library(name: "MetropulseFuzz", type: .dynamic, targets: ["MetropulseFuzzTargets"]),
    ],
    traits: [
        .trait(
            name: "Kafka",
            description: "Kafka work queue, bus and record topics through librdkafka (needs librdkafka-dev)")
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        /// Domain model, seams (Store, WorkQueue, Bus), scheduler, worker pool. No I/O libraries.
        .target(
            name: "MetropulseCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The GTFS-Realtime message types, generated once from the specification's .proto with
        /// protoc-gen-swift and committed (no strict settings: generated code).
        .target(
            name: "GTFSRealtimeBindings",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        /// Feed parsers and the HTTP fetcher.
        .target(
            name: "MetropulseConnectors",
            dependencies: [
                "MetropulseCore",
                "GTFSRealtimeBindings",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        /// SQLite store and embedded work queue (GRDB, WAL).
        .target(
            name: "MetropulseSQLite",
            dependencies: [
                "MetropulseCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        /// PostgreSQL store, work queue (FOR UPDATE SKIP LOCKED) and committer.
        .target(
            name: "MetropulsePostgres",
            dependencies: [
                "MetropulseCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        /// librdkafka's C API (Debian `librdkafka-dev`); only imported with the `Kafka` trait.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        /// Work queue, control bus and record topics on Kafka. Empty unless built with
        /// `--traits Kafka`, so the default build needs no system library.
        .target(
            name: "MetropulseKafka",
            dependencies: [
                "MetropulseCore",
                .target(name: "CRdKafka", condition: .when(traits: ["Kafka"])),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The built-in demo city: a feed server with live-changing data in real formats.
        .target(
            name: "MetropulseDemo",
            dependencies: [
                "MetropulseCore",
                "MetropulseConnectors",
                "GTFSRealtimeBindings",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        /// REST API.
        .target(
            name: "MetropulseAPI",
            dependencies: [
                "MetropulseCore",
                "CMetropulseZlib",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        /// zlib (Debian `zlib1g-dev`), for the gzip encoding of the web assets and the API answers.
        .systemLibrary(
            name: "CMetropulseZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        /// The web dashboard and operator console: server-rendered pages (swift-mustache) over the
        /// API's read models, with their own CSS and JavaScript under `Site/`.
        .target(
            name: "MetropulseWeb",
            dependencies: [
                "MetropulseCore",
                "MetropulseAPI",
                "CMetropulseZlib",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Site")],
            swiftSettings: swiftSettings
        ),
        /// Configuration loading and wiring of roles into service groups.
        .target(
            name: "MetropulseApp",
            dependencies: [
                "MetropulseCore",
                "MetropulseConnectors",
                "MetropulseSQLite",
                "MetropulsePostgres",
                "MetropulseKafka",
                "MetropulseDemo",
                "MetropulseAPI",
                "MetropulseWeb",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MetropulseFuzzTargets",
            dependencies: ["MetropulseConnectors"],
            swiftSettings: swiftSettings
        ),
        // Benchmarks, their baselines and the fault drills: tools the `bench` and `drill`
        // commands run, kept out of the modules the roles link.
        .target(
            name: "MetropulseBench",
            dependencies: [
                "MetropulseApp",
                "MetropulseAPI",
                "MetropulseWeb",
                "MetropulseCore",
                "MetropulseConnectors",
                "MetropulseSQLite",
                "MetropulsePostgres",
                "MetropulseKafka",
                "MetropulseDemo",
                .target(name: "CRdKafka", condition: .when(traits: ["Kafka"])),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "metropulse",
            dependencies: [
                "MetropulseAPI",
                "MetropulseApp",
                "MetropulseBench",
                "MetropulseConnectors",
                "MetropulseCore",
                "MetropulseKafka",
                "MetropulseSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MetropulseCoreTests",
            dependencies: ["MetropulseCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MetropulseConnectorsTests",
            dependencies: [
                "MetropulseApp", "MetropulseConnectors", "MetropulseCore", "MetropulseDemo", "GTFSRealtimeBindings",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        // The API in process through HummingbirdTesting's router client, on a real SQLite store.
        .testTarget(
            name: "MetropulseAPITests",
            dependencies: [
                "MetropulseAPI", "MetropulseConnectors", "MetropulseCore", "MetropulseSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The pages in process: rendering, assets (ETag, gzip), sign-in and its cookie.
        .testTarget(
            name: "MetropulseWebTests",
            dependencies: [
                "MetropulseWeb", "MetropulseAPI", "MetropulseConnectors", "MetropulseCore", "MetropulseSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MetropulseSQLiteTests",
            dependencies: [
                "MetropulseCore", "MetropulseSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MetropulsePostgresTests",
            dependencies: [
                "MetropulseCore", "MetropulsePostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MetropulseKafkaTests",
            dependencies: ["MetropulseCore", "MetropulseKafka"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MetropulseConformanceTests",
            dependencies: [
                "MetropulseCore", "MetropulseSQLite", "MetropulsePostgres", "MetropulseKafka",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MetropulseAppTests",
            dependencies: [
                "MetropulseApp", "MetropulseAPI", "MetropulseConnectors", "MetropulseCore", "MetropulseDemo",
                "MetropulseSQLite",
                "MetropulsePostgres", "MetropulseKafka",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
