import Foundation
import JSONKit
import Testing

@testable import DestinationApp

@Suite struct ConfigurationTests {
    func load(_ json: String, environment: [String: String] = [:], overrides: ConfigurationOverrides = ConfigurationOverrides())
        throws -> Result<DestinationConfiguration, ProblemLines>
    {
        let document = try JSONValue(parsing: json)
        return ConfigurationLoader.load(document: document, environment: environment, overrides: overrides)
            .mapError { ProblemLines(lines: $0.problems.map(\.description)) }
    }

    struct ProblemLines: Error { var lines: [String] }

    @Test func exampleConfigLoadsWithContractDefaults() throws {
        let path = Repository.root.appendingPathComponent("Config/destination.json").path
        let configuration = try ConfigurationLoader.load(path: path, environment: [:]).get()
        #expect(configuration.server.port == 8080)
        #expect(configuration.server.host == "0.0.0.0")
        #expect(configuration.server.maxBodyBytes == 4_194_304)
        #expect(configuration.server.maxEventBytes == 32_768)
        #expect(configuration.delivery.concurrency == 8)
        #expect(configuration.delivery.profileNotFoundRetrySeconds == 7_200)
        #expect(configuration.mappings.map(\.id) == ["update-profile"])
        #expect(configuration.dataDirectory == "./data")
    }

    @Test func precedenceIsFlagsThenEnvironmentThenFileThenDefaults() throws {
        let json = #"{"server": {"port": 9000}, "adobeTarget": {"clientCode": "filecode"}}"#
        let fileOnly = try load(json).get()
        #expect(fileOnly.server.port == 9000)
        #expect(fileOnly.adobeTarget.clientCode == "filecode")

        let withEnvironment = try load(json, environment: ["PORT": "9100", "ADOBE_TARGET_CLIENT_CODE": "envcode"]).get()
        #expect(withEnvironment.server.port == 9100)
        #expect(withEnvironment.adobeTarget.clientCode == "envcode")

        let withFlags = try load(json, environment: ["PORT": "9100"], overrides: ConfigurationOverrides(port: 9200)).get()
        #expect(withFlags.server.port == 9200)
    }

    @Test func environmentSecretsAndLists() throws {
        let configuration = try load("{}", environment: [
            "SEGMENT_WRITE_KEYS": " key1, key2 ,,", "SEGMENT_SHARED_SECRET": "s3cret", "ADMIN_TOKEN": "admintoken-long-enough",
            "ADOBE_TARGET_BEARER_TOKEN": "tok", "ADOBE_TARGET_BASE_URL": "http://127.0.0.1:9999", "DATA_DIR": "/tmp/x",
            "LOG_LEVEL": "DEBUG",
        ]).get()
        #expect(configuration.segment.writeKeys.map(\.revealedValue) == ["key1", "key2"])
        #expect(configuration.segment.sharedSecret?.revealedValue == "s3cret")
        #expect(configuration.admin.token?.revealedValue == "admintoken-long-enough")
        #expect(configuration.adobeTarget.baseURL == "http://127.0.0.1:9999")
        #expect(configuration.dataDirectory == "/tmp/x")
        #expect(configuration.logLevel == .debug)
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
    }

    @Test func everyProblemIsListedWithItsPath() throws {
        let json = #"""
            {
              "server": {"port": 0, "maxBodyBytes": "big", "extra": true},
              "segment": {"writeKeys": ["ok", 3]},
              "adobeTarget": {"clientCode": "has space", "baseURL": "ftp://x"},
              "delivery": {"concurrency": 0, "maxAgeSeconds": -1},
              "mappings": [
                {"id": "a", "subscription": "type = \"identify\"", "action": "updateProfile", "mapping": {"user_id": {"@path": "$.userId"}}},
                {"id": "a", "subscription": "type = \"identify\"", "action": "deleteProfile", "mapping": {"traits": {"@path": "$.traits"}}},
                {"subscription": "type = \"identify\"", "mapping": 5}
              ]
            }
            """#
        let problems = try #require(throws: ProblemLines.self) { try load(json).get() }
        let paths = problems.lines.map { String($0.prefix { $0 != ":" }) }
        #expect(paths.contains("$.server.port"))
        #expect(paths.contains("$.server.maxBodyBytes"))
        #expect(paths.contains("$.server.extra"))
        #expect(paths.contains("$.segment.writeKeys[1]"))
        #expect(paths.contains("$.adobeTarget.clientCode"))
        #expect(paths.contains("$.adobeTarget.baseURL"))
        #expect(paths.contains("$.delivery.concurrency"))
        #expect(paths.contains("$.delivery.maxAgeSeconds"))
        #expect(paths.contains("$.mappings[0].mapping.traits"))
        #expect(paths.contains("$.mappings[1].id"))
        #expect(paths.contains("$.mappings[1].action"))
        #expect(paths.contains("$.mappings[2].id"))
        #expect(paths.contains("$.mappings[2].mapping"))
    }

    @Test func delaysTakeFractionsWithinTheirBounds() throws {
        let valid = try load(#"{"adobeTarget": {"requestTimeoutSeconds": 2.5}, "delivery": {"coalesceSeconds": 0}}"#).get()
        #expect(valid.adobeTarget.requestTimeoutSeconds == 2.5)
        #expect(valid.delivery.coalesceSeconds == 0)
        #expect(try load("{}").get().delivery.coalesceSeconds == 3)

        let problems = try #require(throws: ProblemLines.self) {
            try load(#"{"adobeTarget": {"requestTimeoutSeconds": 301}, "delivery": {"coalesceSeconds": -1}}"#).get()
        }
        #expect(problems.lines.contains("$.adobeTarget.requestTimeoutSeconds: must be a number of seconds above 0 up to 300, got 301"))
        #expect(problems.lines.contains("$.delivery.coalesceSeconds: must be a number of seconds from 0 up to 300, got -1"))
    }

    @Test func moreThanFiftyMappingsAreRefused() throws {
        let mappings = (0..<51).map {
            #"{"id": "m\#($0)", "subscription": "type = \"identify\"", "mapping": {"traits": {"@path": "$.traits"}}}"#
        }
        let json = #"{"mappings": [\#(mappings.joined(separator: ","))]}"#
        let problems = try #require(throws: ProblemLines.self) { try load(json).get() }
        #expect(problems.lines.contains { $0.hasPrefix("$.mappings: has 51 mappings; at most 50") })
    }

    @Test func missingUserIDGetsSegmentsDefault() throws {
        let json = #"{"mappings": [{"id": "m", "subscription": "type = \"identify\"", "mapping": {"traits": {"@path": "$.traits"}}}]}"#
        let configuration = try load(json).get()
        let mapping = try #require(configuration.mappings.first)
        #expect(mapping.mappingJSON["user_id"] == nil)
    }
}
