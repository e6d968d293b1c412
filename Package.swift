// swift-tools-version:6.1
import PackageDescription

// Module graph (arrows point at what a module imports):
//
//   adobe-target-destination (executable) → DestinationApp
//   DestinationApp → SegmentIngest, DeliveryQueue, AdobeTargetSimulator, HTTPServer, MappingKit, …
//   SegmentIngest  → EventStore, MappingKit, HTTPServer, JSONKit, COpenSSL, CZlib
//   DeliveryQueue  → EventStore, AdobeTarget, JSONKit
//   AdobeTarget    → JSONKit, COpenSSL (its own HTTP/1.1 + TLS client)
//   AdobeTargetSimulator → HTTPServer, JSONKit
//   EventStore     → JSONKit, GRDB
//   PostgresEventStore → EventStore, JSONKit, CLibPQ
//   MappingKit     → JSONKit
//   HTTPServer     → (swift-log only; knows nothing of Segment or Adobe)
//   JSONKit        → (nothing)

let package = Package(
    name: "adobe-target-destination",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "adobe-target-destination", targets: ["adobe-target-destination"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries named by the design card.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),

        .target(name: "JSONKit"),
        .target(name: "HTTPServer", dependencies: [
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "MappingKit", dependencies: ["JSONKit"]),
        .target(name: "EventStore", dependencies: [
            "JSONKit",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The PostgreSQL backend of the EventStore protocol, for several replicas sharing one queue.
        .target(name: "PostgresEventStore", dependencies: [
            "EventStore", "JSONKit", "CLibPQ",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SegmentIngest", dependencies: [
            "JSONKit", "MappingKit", "EventStore", "HTTPServer", "COpenSSL", "CZlib",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "AdobeTarget", dependencies: [
            "JSONKit", "COpenSSL",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "AdobeTargetSimulator", dependencies: [
            "HTTPServer", "JSONKit",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "DeliveryQueue", dependencies: [
            "EventStore", "AdobeTarget", "JSONKit",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "DestinationApp", dependencies: [
            "JSONKit", "HTTPServer", "MappingKit", "EventStore", "PostgresEventStore", "SegmentIngest",
            "AdobeTarget", "AdobeTargetSimulator", "DeliveryQueue",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "adobe-target-destination", dependencies: ["DestinationApp"]),

        // Benchmarks of pure code (`make bench` runs it in release mode beside wrk).
        .executableTarget(name: "destination-bench", dependencies: [
            "JSONKit", "MappingKit", "AdobeTarget",
        ]),
        // A minimal server on the HTTPServer module alone, so `make bench` can measure the
        // server core apart from the application.
        .executableTarget(name: "http-bench-server", dependencies: [
            "HTTPServer",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // libFuzzer entry point for the HTTP parser; built only by `make fuzz`
        // with -sanitize=fuzzer (see scripts/fuzz.sh).
        .executableTarget(name: "HTTPParserFuzz", dependencies: ["HTTPServer"]),

        .testTarget(name: "JSONKitTests", dependencies: ["JSONKit"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "MappingKitTests", dependencies: ["MappingKit", "JSONKit"]),
        .testTarget(name: "EventStoreTests", dependencies: ["EventStore", "JSONKit"]),
        .testTarget(name: "PostgresEventStoreTests", dependencies: ["PostgresEventStore", "EventStore", "JSONKit"]),
        .testTarget(name: "SegmentIngestTests", dependencies: ["SegmentIngest", "HTTPServer", "JSONKit", "MappingKit", "EventStore", "CZlib"]),
        .testTarget(name: "AdobeTargetTests", dependencies: ["AdobeTarget", "AdobeTargetSimulator", "JSONKit", "HTTPServer"]),
        .testTarget(name: "DeliveryQueueTests", dependencies: [
            "DeliveryQueue", "EventStore", "AdobeTarget", "AdobeTargetSimulator", "JSONKit", "HTTPServer",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "DestinationAppTests", dependencies: [
            "DestinationApp", "JSONKit", "HTTPServer", "EventStore", "AdobeTargetSimulator",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)
