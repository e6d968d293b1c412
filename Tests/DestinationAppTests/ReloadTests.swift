import Foundation
import JSONKit
import Testing

/// SIGHUP re-reads the config file: mappings (while the admin API has not taken them over)
/// and the Adobe token; a broken file leaves the running configuration in force.
@Suite struct ReloadTests {
    static let adminToken = "reload-admin-token-0123456789"

    func mappingIDs(_ serve: ServeProcess) throws -> [String] {
        let answer = try serve.client.get("/admin/mappings", headers: [("Authorization", "Bearer \(Self.adminToken)")])
        #expect(answer.status == 200)
        return answer.json["mappings"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }

    func waitFor(_ condition: () throws -> Bool) throws -> Bool {
        for _ in 0..<50 {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    @Test func sighupReloadsMappingsAndKeepsTheOldConfigWhenTheNewOneIsBroken() throws {
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path,
            scratch: scratch, environment: ["ADMIN_TOKEN": Self.adminToken])
        defer { _ = serve.terminate() }
        #expect(try mappingIDs(serve) == ["update-profile"])

        let second = #"{"id": "second", "subscription": "type = \"track\"", "mapping": {"traits": {"@path": "$.properties"}}}"#
        try Data(SegmentFixtures.config(mappings: "[\(SegmentFixtures.updateProfileMapping), \(second)]").utf8)
            .write(to: URL(fileURLWithPath: serve.configPath))
        serve.send(signal: SIGHUP)
        #expect(try waitFor { try mappingIDs(serve) == ["update-profile", "second"] })

        try Data(#"{"mappings": [{"id": "broken", "subscription": "type = ", "mapping": {}}]}"#.utf8)
            .write(to: URL(fileURLWithPath: serve.configPath))
        serve.send(signal: SIGHUP)
        #expect(try waitFor { serve.log.contains("SIGHUP ignored") })
        #expect(try mappingIDs(serve) == ["update-profile", "second"])
        #expect(try serve.client.get("/health").status == 200)
    }
}
