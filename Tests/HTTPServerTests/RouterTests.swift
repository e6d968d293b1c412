#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import HTTPServer

/// Collects what a responder answered synchronously.
final class AnswerBox: @unchecked Sendable {
    var response: HTTPResponse?
}

func answer(_ router: Router, _ method: HTTPMethod, _ target: String) -> HTTPResponse? {
    let box = AnswerBox()
    router.respond(to: HTTPRequest(method: method, target: target), writer: HTTPResponseWriter { box.response = $0 })
    return box.response
}

@Suite struct RouterTests {
    func router() -> Router {
        var router = Router()
        router.add(.GET, "/admin/mappings") { _, writer in writer.send(.text(.ok, "list")) }
        router.add(.PUT, "/admin/mappings/{id}", maxBodyBytes: 1234) { request, writer in
            writer.send(.text(.ok, "put \(request.pathParameters["id"] ?? "")"))
        }
        router.add(.DELETE, "/admin/mappings/{id}") { request, writer in
            writer.send(.text(.ok, "delete \(request.pathParameters["id"] ?? "")"))
        }
        router.add(.POST, "/admin/dead-letters/replay") { _, writer in writer.send(.text(.ok, "replay")) }
        router.add(.GET, "/admin/dead-letters/{id}") { request, writer in
            writer.send(.text(.ok, "letter \(request.pathParameters["id"] ?? "")"))
        }
        return router
    }

    @Test func exactAndPatternRoutes() {
        let router = router()
        #expect(answer(router, .GET, "/admin/mappings?x=1").map { String(decoding: $0.body, as: UTF8.self) } == "list")
        #expect(answer(router, .PUT, "/admin/mappings/update-profile").map { String(decoding: $0.body, as: UTF8.self) } == "put update-profile")
        #expect(answer(router, .DELETE, "/admin/mappings/a%2Fb").map { String(decoding: $0.body, as: UTF8.self) } == "delete a/b")
        #expect(answer(router, .POST, "/admin/dead-letters/replay").map { String(decoding: $0.body, as: UTF8.self) } == "replay")
        #expect(answer(router, .GET, "/admin/dead-letters/7").map { String(decoding: $0.body, as: UTF8.self) } == "letter 7")
    }

    @Test func unknownPathIs404AndWrongMethodIs405WithAllow() {
        let router = router()
        #expect(answer(router, .GET, "/admin/mappings/a/b")?.status.code == 404)
        #expect(answer(router, .GET, "/admin/mappings/")?.status.code == 404)
        let notAllowed = answer(router, .POST, "/admin/mappings/x")
        #expect(notAllowed?.status.code == 405)
        #expect(notAllowed?.headers["Allow"] == "PUT, DELETE")
        #expect(answer(router, .DELETE, "/admin/mappings")?.headers["allow"] == "GET, HEAD")
    }

    @Test func headFallsBackToGet() {
        #expect(answer(router(), .HEAD, "/admin/mappings")?.status.code == 200)
        #expect(answer(router(), .HEAD, "/admin/dead-letters/3")?.status.code == 200)
    }

    @Test func routeBodyLimits() {
        let router = router()
        #expect(router.maximumBodyBytes(method: .PUT, path: "/admin/mappings/x") == 1234)
        #expect(router.maximumBodyBytes(method: .DELETE, path: "/admin/mappings/x") == nil)
        #expect(router.maximumBodyBytes(method: .GET, path: "/nowhere") == nil)
    }

    @Test func headersCompareNamesIgnoringCase() {
        var headers = HTTPHeaders([("Content-Type", "a"), ("X-One", "1"), ("x-one", "2")])
        #expect(headers["content-type"] == "a")
        #expect(headers.values(for: "X-ONE") == ["1", "2"])
        headers.replaceOrAdd(name: "X-One", value: "3")
        #expect(headers.values(for: "x-one") == ["3"])
        headers.remove(name: "CONTENT-TYPE")
        #expect(headers["Content-Type"] == nil)
        #expect(headers.count == 1)
    }
}

@Suite struct MalformedTrafficTests {
    /// Replays the fuzzer's seed inputs (valid and hostile) over real sockets: every one gets an
    /// answer or a close, never a crash, and the server still serves a clean client afterwards.
    @Test func fuzzSeedsOverTheWire() throws {
        let corpus = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        let directory = "/" + corpus + "/scripts/fuzz-corpus"
        guard let handle = opendir(directory) else {
            Issue.record("cannot open \(directory)")
            return
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        closedir(handle)
        #expect(names.count >= 15)
        try withServer(configure: { $0.requestTimeoutSeconds = 0.5 }) { server in
            for name in names {
                guard let file = fopen(directory + "/" + name, "rb") else { continue }
                var bytes = [UInt8](repeating: 0, count: 8192)
                let count = fread(&bytes, 1, bytes.count, file)
                fclose(file)
                let client = try TestClient(port: server.port, timeoutSeconds: 2)
                try client.send(Array(bytes[..<count]))
                // Half-close: the server answers what is complete, then closes.
                _ = Glibc.shutdown(client.fd, Int32(SHUT_WR))
                while let response = try? client.readResponse() {
                    #expect((100...599).contains(response.status), "\(name)")
                }
            }
            #expect(try TestClient(port: server.port).request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }
}
