import Foundation
import Testing

@Suite struct CheckConfigCommandTests {
    @Test func validConfigPrintsSummaryWithoutSecrets() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("c.json", #"{"adobeTarget": {"clientCode": "acme", "bearerToken": "file-token-xyz"}}"#)
        let result = try Executable.run(
            ["check-config", "--config", path],
            environment: ["SEGMENT_SHARED_SECRET": "shared-secret-abc", "ADMIN_TOKEN": "admin-token-0123456789", "SEGMENT_WRITE_KEYS": "wk-1,wk-2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("client code acme"))
        #expect(result.stdout.contains("bearer token set"))
        #expect(result.stdout.contains("2 write key(s)"))
        for secret in ["file-token-xyz", "shared-secret-abc", "admin-token-0123456789", "wk-1", "wk-2"] {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
        }
    }

    @Test func invalidConfigExitsOneListingEveryProblem() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("c.json", #"{"server": {"port": 70000}, "mappings": [{"id": "x", "subscription": "type = \"identify\"", "mapping": {}}]}"#)
        let result = try Executable.run(["check-config", "--config", path], environment: ["LOG_LEVEL": "loud"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("$.server.port"))
        #expect(result.stderr.contains("$.mappings[0].mapping.traits"))
        #expect(result.stderr.contains("LOG_LEVEL"))
    }

    @Test func missingFileIsNamed() throws {
        let result = try Executable.run(["check-config", "--config", "/nonexistent/dir/c.json"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/dir/c.json"))
    }

    @Test func serveRefusesAnInvalidConfigWithoutListening() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("c.json", #"{"mappings": [{"id": "x", "subscription": "type = \"identify\"", "mapping": {"user_id": "u"}}]}"#)
        let result = try Executable.run(["serve", "--config", path, "--port", "0", "--data-dir", directory.url.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("$.mappings[0].mapping.traits"))
    }
}
