#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Testing
@testable import HTTPServer

@Suite struct ServerTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            for _ in 0..<3 {
                let response = try client.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(response.status == 200)
                #expect(response.text == #"{"status":"ok"}"#)
                #expect(response.header("Content-Length") == "15")
                #expect(response.header("Date")?.hasSuffix(" GMT") == true)
                #expect(response.header("Connection") == nil)
            }
        }
    }

    @Test func hundredPipelinedRequestsInOneWriteAreAnsweredInOrder() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            let requests = (0..<100).map { "GET /echo-target?i=\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined()
            try client.send(requests)
            for index in 0..<100 {
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "/echo-target?i=\(index)")
            }
        }
    }

    @Test func chunkedUploadWithExtensionsAndTrailers() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            let response = try client.request(
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "4;sig=abc\r\nWiki\r\n5 ;x=\"y z\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.text == "Wikipedia in\r\n\r\nchunks.")
            #expect(try client.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }

    @Test func clientSendingOneByteAtATime() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            let request = Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world".utf8)
            for byte in request {
                try client.send([byte])
                usleep(500)
            }
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello world")
        }
    }

    @Test func fiveHundredConcurrentConnections() throws {
        try withServer { server in
            let clients = try (0..<500).map { _ in try TestClient(port: server.port) }
            for (index, client) in clients.enumerated() {
                try client.send("GET /echo-target?c=\(index) HTTP/1.1\r\nHost: t\r\n\r\n")
            }
            for (index, client) in clients.enumerated() {
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "/echo-target?c=\(index)")
            }
        }
    }

    @Test func stalledClientDoesNotDelayOthers() throws {
        try withServer { server in
            let stalled = try TestClient(port: server.port)
            try stalled.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly a part")
            let other = try TestClient(port: server.port)
            let start = monotonicSeconds()
            for _ in 0..<50 {
                #expect(try other.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
            }
            #expect(monotonicSeconds() - start < 2)
        }
    }

    @Test func connectionCloseIsHonoured() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            let response = try client.request("GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.header("Connection") == "close")
            #expect(try client.isClosedByServer())
        }
    }

    @Test func handlerCanAskToCloseTheConnection() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            let response = try client.request("GET /goodbye HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.text == "bye")
            #expect(response.headers.filter { $0.name.lowercased() == "connection" }.map(\.value) == ["close"])
            #expect(try client.isClosedByServer())
        }
    }

    @Test func halfClosedClientGetsItsAnswersThenTheConnectionCloses() throws {
        try withServer { server in
            let client = try TestClient(port: server.port, timeoutSeconds: 3)
            try client.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /echo-target?2 HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = Glibc.shutdown(client.fd, Int32(SHUT_WR))
            let start = monotonicSeconds()
            #expect(try client.readResponse().status == 200)
            #expect(try client.readResponse().text == "/echo-target?2")
            #expect(try client.isClosedByServer())
            // Well before the 3 s the client would wait, and the idle timeout (60 s).
            #expect(monotonicSeconds() - start < 1.5)
        }
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() throws {
        try withServer { server in
            let plain = try TestClient(port: server.port)
            let first = try plain.request("GET /health HTTP/1.0\r\n\r\n")
            #expect(first.status == 200)
            #expect(first.header("Connection") == "close")
            #expect(try plain.isClosedByServer())

            let keepAlive = try TestClient(port: server.port)
            let second = try keepAlive.request("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(second.header("Connection") == "keep-alive")
            #expect(try keepAlive.request("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").status == 200)
        }
    }

    @Test func headAnswersWithoutBody() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            try client.send("HEAD /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try client.readResponse(headRequest: true)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "15")
            // Had the HEAD answer carried a body, this would read it as a status line.
            let get = try client.readResponse()
            #expect(get.text == #"{"status":"ok"}"#)
        }
    }

    @Test func expectContinueWithinTheLimit() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let interim = try client.readResponse()
            #expect(interim.status == 100)
            try client.send("hello")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello")
        }
    }

    @Test func expectContinueOverTheLimitIsRefusedAtOnce() throws {
        try withServer(configure: { $0.maxBodyBytes = 1000 }) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.text.contains("1000 bytes"))
            #expect(response.header("Connection") == "close")
            #expect(try client.isClosedByServer())
        }
    }

    @Test func routeLimitOverridesTheDefault() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            let response = try client.request("POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n")
            #expect(response.status == 413)
            let fits = try TestClient(port: server.port).request(
                "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n\r\n0123456789abcdef")
            #expect(fits.text == "got 16")
        }
    }

    @Test func asynchronousAnswersKeepPipelinedOrder() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            try client.send(
                "GET /async?ms=150 HTTP/1.1\r\nHost: t\r\n\r\nGET /echo-target?second HTTP/1.1\r\nHost: t\r\n\r\nGET /async?ms=10 HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse().text == "async /async?ms=150")
            #expect(try client.readResponse().text == "/echo-target?second")
            #expect(try client.readResponse().text == "async /async?ms=10")
        }
    }

    @Test func routerAnswers404And405AndPathParameters() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            #expect(try client.request("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n").status == 404)
            let notAllowed = try client.request("DELETE /health HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(notAllowed.status == 405)
            #expect(notAllowed.header("Allow") == "GET, HEAD")
            #expect(try client.request("GET /items/a%20b HTTP/1.1\r\nHost: t\r\n\r\n").text == "item a b")
        }
    }

    @Test func gracefulShutdownFinishesTheRequestInFlight() throws {
        var configuration = HTTPServer.Configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.eventLoopCount = 2
        let server = HTTPServer(configuration: configuration, responder: testRouter(), logger: .init(label: "test"))
        try server.start()
        let port = server.port
        let busy = try TestClient(port: port)
        let idle = try TestClient(port: port)
        #expect(try idle.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        try busy.send("GET /async?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n")
        sleepSeconds(0.1)
        let start = monotonicSeconds()
        server.shutdown(gracePeriodSeconds: 3)
        let took = monotonicSeconds() - start
        #expect(took < 3)
        let response = try busy.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "async /async?ms=400")
        #expect(response.header("Connection") == "close")
        #expect(try busy.isClosedByServer())
        #expect(try idle.isClosedByServer())
        #expect(throws: TestFailure.self) { _ = try TestClient(port: port) }
    }

    @Test func shutdownGivesUpAfterTheGracePeriod() throws {
        var configuration = HTTPServer.Configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let server = HTTPServer(configuration: configuration, responder: testRouter(), logger: .init(label: "test"))
        try server.start()
        let busy = try TestClient(port: server.port)
        try busy.send("GET /async?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
        sleepSeconds(0.05)
        let start = monotonicSeconds()
        server.shutdown(gracePeriodSeconds: 0.3)
        let took = monotonicSeconds() - start
        #expect(took >= 0.25 && took < 1.5)
        #expect(try busy.isClosedByServer())
    }
}

@Suite struct LimitTests {
    @Test func oversizedHeaderBlockGets431() throws {
        try withServer(configure: { $0.maxHeaderBytes = 1024 }) { server in
            let client = try TestClient(port: server.port)
            let response = try client.request(
                "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "a", count: 2000) + "\r\n\r\n")
            #expect(response.status == 431)
            #expect(response.text.contains("1024 bytes"))
            #expect(try client.isClosedByServer())
        }
    }

    @Test func tooManyHeadersGets431() throws {
        try withServer(configure: { $0.maxHeaderCount = 5 }) { server in
            let headers = (0..<6).map { "X-\($0): v\r\n" }.joined()
            let response = try TestClient(port: server.port).request("GET /health HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n")
            #expect(response.status == 431)
        }
    }

    @Test func overlongTargetGets414() throws {
        try withServer(configure: { $0.maxRequestLineBytes = 256 }) { server in
            let response = try TestClient(port: server.port).request(
                "GET /" + String(repeating: "p", count: 300) + " HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.status == 414)
        }
    }

    @Test func bodyOverTheDefaultLimitGets413BeforeItIsSent() throws {
        try withServer(configure: { $0.maxBodyBytes = 100 }) { server in
            let client = try TestClient(port: server.port)
            // Only the head is sent: the answer must not wait for the body.
            let response = try client.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n")
            #expect(response.status == 413)
            #expect(try client.isClosedByServer())
            let chunked = try TestClient(port: server.port).request(
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n")
            #expect(chunked.status == 413)
        }
    }

    @Test func slowClientGets408() throws {
        try withServer(configure: { $0.requestTimeoutSeconds = 0.3 }) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            let start = monotonicSeconds()
            let response = try client.readResponse()
            #expect(response.status == 408)
            #expect(response.text.contains("requestTimeoutSeconds"))
            #expect(monotonicSeconds() - start < 1.5)
            #expect(try client.isClosedByServer())
        }
    }

    @Test func slowlorisHeadGets408() throws {
        try withServer(configure: { $0.requestTimeoutSeconds = 0.4 }) { server in
            let client = try TestClient(port: server.port)
            try client.send("GET /health HTTP/1.1\r\n")
            for index in 0..<4 {
                try client.send("X-\(index): v\r\n")
                sleepSeconds(0.1)
            }
            sleepSeconds(0.2)
            #expect(try client.readResponse().status == 408)
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() throws {
        try withServer(configure: { $0.keepAliveIdleTimeoutSeconds = 0.3 }) { server in
            let client = try TestClient(port: server.port)
            #expect(try client.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
            let start = monotonicSeconds()
            #expect(try client.isClosedByServer())
            #expect(monotonicSeconds() - start < 1.5)
        }
    }

    @Test func connectionCapStopsAcceptingAndResumes() throws {
        try withServer(configure: { $0.maxConnections = 3 }) { server in
            var clients = try (0..<3).map { _ in try TestClient(port: server.port) }
            for client in clients {
                #expect(try client.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
            }
            // The kernel completes the handshake, but the server does not take the connection.
            let waiting = try TestClient(port: server.port, timeoutSeconds: 0.4)
            try waiting.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(throws: TestFailure.self) { _ = try waiting.readResponse() }
            clients.removeFirst()
            waiting.setTimeout(3)
            #expect(try waiting.readResponse().status == 200)
            #expect(try clients[0].request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }

    /// Every refused shape with its exact status; the server closes that connection and keeps
    /// serving others.
    @Test(arguments: [
        ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", 400),
        ("GET /health HTTP/1.1\r\nHost: t\r\nX-A: b\r\n folded\r\n\r\n", 400),
        ("GET /health HTTP/1.1\r\nHost: t\r\nX-A: b\rc\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nabc\r\n0\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
        ("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501),
        ("GET /health HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("GET /health HTTP/1.2\r\nHost: t\r\n\r\n", 505),
        ("GET /health HTTX/1.1\r\nHost: t\r\n\r\n", 400),
        ("GET\r\n\r\n", 400),
    ])
    func refusedShapesOverTheWire(text: String, status: Int) throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            let response = try client.request(text)
            #expect(response.status == status)
            #expect(response.header("Connection") == "close")
            #expect(!response.text.isEmpty)
            #expect(try client.isClosedByServer())
            #expect(try TestClient(port: server.port).request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }

    @Test func clientThatNeverReadsDoesNotGrowMemoryWithoutBound() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            // Small receive buffer on our side; ask for far more output than the kernel buffers hold.
            var small: Int32 = 4096
            setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            let request = Array("GET /echo-target?padding=\(String(repeating: "x", count: 1000)) HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
            var batch: [UInt8] = []
            for _ in 0..<200 { batch += request }
            // Send without reading until the server stops reading from us: a send that still
            // finds no room after a pause means the server holds back (it would otherwise keep
            // parsing and queueing answers in memory).
            var flags = fcntl(client.fd, F_GETFL)
            flags |= O_NONBLOCK
            _ = fcntl(client.fd, F_SETFL, flags)
            var sentTotal = 0
            var serverStoppedReading = false
            // Requests must stay whole across partial sends, or the server would refuse the
            // garbled stream (and stop reading for that reason instead).
            var offset = 0
            func sendSome() -> Int {
                let count = batch.withUnsafeBytes {
                    Glibc.send(client.fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
                }
                if count > 0 {
                    sentTotal += count
                    offset = (offset + count) % batch.count
                }
                return count
            }
            let deadline = monotonicSeconds() + 8
            while monotonicSeconds() < deadline {
                if sendSome() > 0 { continue }
                guard errno == EAGAIN || errno == EWOULDBLOCK else { break }
                usleep(300_000)
                if sendSome() < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    serverStoppedReading = true
                    break
                }
            }
            #expect(serverStoppedReading)
            #expect(sentTotal < 32 * 1024 * 1024)
            // Others are still served.
            #expect(try TestClient(port: server.port).request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }
}
