import Foundation
import JSONKit
import Testing

/// No Docker engine runs in CI, so these keep the Dockerfile, the Makefile and the config
/// defaults from drifting apart.
@Suite struct DockerfileTests {
    let dockerfile: String
    let makefile: String

    init() throws {
        dockerfile = try String(contentsOf: Repository.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        makefile = try String(contentsOf: Repository.root.appendingPathComponent("Makefile"), encoding: .utf8)
    }

    @Test func buildsTheSameProductAsTheMakefile() throws {
        #expect(makefile.contains("PRODUCT      := adobe-target-destination"))
        #expect(makefile.contains("$(SWIFT) build -c release --product $(PRODUCT)"))
        #expect(dockerfile.contains("swift build -c release --product adobe-target-destination"))
        #expect(dockerfile.contains(".build/release/adobe-target-destination"))
    }

    @Test func isMultiStageWithASlimNonRootRuntime() {
        let stages = dockerfile.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2)
        #expect(stages.last?.contains("slim") == true)
        #expect(dockerfile.contains("\nUSER destination\n"))
        #expect(dockerfile.contains("STOPSIGNAL SIGTERM"))
    }

    @Test func portDataDirAndHealthCheckMatchTheDefaults() throws {
        let config = try ConfigurationLoaderFacade.defaults()
        #expect(dockerfile.contains("EXPOSE \(config.port)"))
        #expect(dockerfile.contains("PORT=\(config.port)"))
        #expect(dockerfile.contains("VOLUME [\"/data\"]"))
        #expect(dockerfile.contains("DATA_DIR=/data"))
        #expect(dockerfile.contains("HEALTHCHECK"))
        #expect(dockerfile.contains("/health"))
        #expect(dockerfile.contains("COPY Config ./Config"))
        #expect(dockerfile.contains("\"serve\", \"--config\", \"Config/destination.json\""))
        #expect(makefile.contains("CONFIG       ?= Config/destination.json"))
        #expect(makefile.contains("PORT         ?= \(config.port)"))
    }

    @Test func runtimeHasTheLibrariesTheBinaryLinks() {
        for library in ["libssl3", "zlib1g", "libsqlite3-0", "libpq5", "libcurl4"] {
            #expect(dockerfile.contains(library), "runtime stage lacks \(library)")
        }
        for devPackage in ["libssl-dev", "zlib1g-dev", "libsqlite3-dev", "libpq-dev"] {
            #expect(dockerfile.contains(devPackage), "build stage lacks \(devPackage)")
        }
    }
}

/// The shipped config file's effective server settings.
enum ConfigurationLoaderFacade {
    struct Defaults { var port: Int }

    static func defaults() throws -> Defaults {
        let path = Repository.root.appendingPathComponent("Config/destination.json").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let document = try JSONValue(parsing: Array(bytes))
        let port = document["server"]?["port"]?.numberValue ?? 8080
        return Defaults(port: Int(port))
    }
}
