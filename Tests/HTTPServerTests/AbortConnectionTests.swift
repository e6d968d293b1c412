#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Testing
@testable import HTTPServer

/// `HTTPResponseWriter.abortConnection()`: the connection ends with a reset and no answer,
/// the server goes on serving everyone else.
@Suite struct AbortConnectionTests {
    private func abortingRouter() -> Router {
        var router = testRouter()
        router.add(.GET, "/abort") { _, writer in
            writer.abortConnection()
            // Ignored: the abort was the answer.
            writer.send(.text(.ok, "too late"))
        }
        router.add(.GET, "/abort-later") { _, writer in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) {
                writer.abortConnection()
            }
        }
        router.add(.GET, "/answer-then-abort") { _, writer in
            writer.send(.text(.ok, "answered"))
            // Ignored: the response was the answer; the connection stays open.
            writer.abortConnection()
        }
        return router
    }

    /// What the client's next read sees: bytes, an orderly end, or an error number.
    private enum ReadResult: Equatable {
        case bytes(Int)
        case endOfStream
        case error(Int32)
    }

    private func readOnce(_ client: TestClient) -> ReadResult {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .bytes(count) }
        if count == 0 { return .endOfStream }
        return .error(errno)
    }

    @Test(arguments: ["/abort", "/abort-later"])
    func abortedConnectionIsResetWithoutAnAnswer(path: String) throws {
        try withServer(router: abortingRouter()) { server in
            let bystander = try TestClient(port: server.port)
            #expect(try bystander.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)

            let victim = try TestClient(port: server.port, timeoutSeconds: 2)
            try victim.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            // A reset, not a FIN and not a timeout (which would be EAGAIN).
            #expect(readOnce(victim) == .error(ECONNRESET))

            // The connection opened before keeps working, and new ones are accepted.
            #expect(try bystander.request("GET /echo-target?after HTTP/1.1\r\nHost: t\r\n\r\n").text == "/echo-target?after")
            let newcomer = try TestClient(port: server.port)
            #expect(try newcomer.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }

    @Test func pipelinedRequestsBehindAnAbortAreDropped() throws {
        try withServer(router: abortingRouter()) { server in
            let client = try TestClient(port: server.port, timeoutSeconds: 2)
            try client.send(
                "GET /echo-target?first HTTP/1.1\r\nHost: t\r\n\r\nGET /abort HTTP/1.1\r\nHost: t\r\n\r\nGET /echo-target?third HTTP/1.1\r\nHost: t\r\n\r\n")
            // The first answer may or may not get out before the reset discards it; nothing
            // after the abort is ever answered.
            var received: [UInt8] = []
            while true {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    received += chunk[..<count]
                    continue
                }
                #expect(count < 0 && errno == ECONNRESET)
                break
            }
            let text = String(decoding: received, as: UTF8.self)
            #expect(!text.contains("third"))
            #expect(!text.contains("too late"))
        }
    }

    @Test func abortAfterTheAnswerIsIgnored() throws {
        try withServer(router: abortingRouter()) { server in
            let client = try TestClient(port: server.port)
            let response = try client.request("GET /answer-then-abort HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.status == 200 && response.text == "answered")
            #expect(try client.request("GET /echo-target?still-open HTTP/1.1\r\nHost: t\r\n\r\n").text == "/echo-target?still-open")
        }
    }

    @Test func manyAbortsDoNotLeakConnectionSlots() throws {
        try withServer(router: abortingRouter(), configure: { $0.maxConnections = 4 }) { server in
            for _ in 0..<20 {
                let victim = try TestClient(port: server.port, timeoutSeconds: 2)
                try victim.send("GET /abort HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(readOnce(victim) == .error(ECONNRESET))
            }
            // Every aborted connection gave its slot back; a leak would stop accepts at 4.
            let client = try TestClient(port: server.port, timeoutSeconds: 2)
            #expect(try client.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }

    @Test func writerMadeOutsideAServerCallsItsAbortClosure() {
        final class Flag: @unchecked Sendable { var aborted = false }
        let flag = Flag()
        let writer = HTTPResponseWriter({ _ in }, abort: { flag.aborted = true })
        writer.abortConnection()
        #expect(flag.aborted)
    }
}
