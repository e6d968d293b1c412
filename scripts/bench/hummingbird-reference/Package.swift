// swift-tools-version:6.1
import PackageDescription

// The Hummingbird 2 reference for scripts/bench-ingest.sh: the same batch parsed with
// JSONSerialization and stored nowhere, measured in the same run as `serve` and nginx.
// A package of its own so that SwiftNIO and Hummingbird never enter the server's build.
let package = Package(
    name: "hummingbird-reference",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Default traits minus ConfigurationSupport: the reference reads no configuration
        // files, and swift-configuration would only lengthen this (already long) build.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1",
                 traits: ["FullFoundation"]),
    ],
    targets: [
        .executableTarget(
            name: "hummingbird-reference",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        ),
    ]
)
