import Foundation
import JSONKit
import Testing

@testable import AdobeTarget

/// The HTTP/1.1 client against hand-written servers that misbehave in the ways real ones do.
@Suite("HTTP client framing and connection reuse", .timeLimit(.minutes(2)))
struct HTTPClientTests {
    private func pool(_ server: ScriptedServer, maximumConnections: Int = 4) throws -> HTTPConnectionPool {
        HTTPConnectionPool(
            settings: .init(
                origin: try HTTPOrigin(baseURL: "http://127.0.0.1:\(server.port)"), tls: nil,
                maximumConnections: maximumConnections))
    }

    /// Runs `body` with a pool on the server `makeServer` starts; shuts both down after.
    private func withPool(
        _ makeServer: @autoclosure () throws -> ScriptedServer, maximumConnections: Int = 4,
        _ body: (HTTPConnectionPool, ScriptedServer) async throws -> Void
    ) async throws {
        let server = try makeServer()
        defer { server.stop() }
        let pool = try pool(server, maximumConnections: maximumConnections)
        defer { pool.shutdown() }
        try await body(pool, server)
    }

    private func get(_ pool: HTTPConnectionPool, _ path: String = "/x", timeout: Double = 3) async
        -> Result<HTTPAnswer, HTTPClientFailure>
    {
        await pool.execute(Array("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n".utf8), timeoutSeconds: timeout)
    }

    /// Answers every request on the connection with `answer(requestHead)` until the client closes.
    private func serving(_ answer: @escaping @Sendable (String) -> String) -> @Sendable (ScriptedConnection) -> Void {
        { connection in
            while let head = connection.readRequest() { connection.write(answer(head)) }
        }
    }

    private func body(_ result: Result<HTTPAnswer, HTTPClientFailure>) -> String? {
        guard case .success(let answer) = result else { return nil }
        return String(decoding: answer.body, as: UTF8.self)
    }

    private func failure(_ result: Result<HTTPAnswer, HTTPClientFailure>) -> HTTPClientFailure? {
        guard case .failure(let failure) = result else { return nil }
        return failure
    }

    @Test func contentLengthAnswersReuseOneConnection() async throws {
        try await withPool(try ScriptedServer(script: serving { head in
            let path = head.split(separator: " ")[1]
            return "HTTP/1.1 200 OK\r\nContent-Length: \(path.utf8.count)\r\n\r\n\(path)"
        })) { pool, server in
            for index in 0..<5 { #expect(body(await get(pool, "/n\(index)")) == "/n\(index)") }
            #expect(server.connectionsAccepted == 1)
        }
    }

    @Test func chunkedAnswerInTinyPiecesWithExtensionsAndTrailers() async throws {
        try await withPool(try ScriptedServer { connection in
            while connection.readRequest() != nil {
                connection.writeSlowly(
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After:  17 \r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5;name=value\r\nhello\r\n1A\r\n, chunked world of bytes!!\r\n0\r\nX-Trailer: yes\r\n\r\n")
            }
        }) { pool, server in
            for _ in 0..<2 {
                let result = await get(pool)
                guard case .success(let answer) = result else {
                    Issue.record("expected an answer, got \(result)")
                    return
                }
                #expect(answer.status == 429 && answer.retryAfter == "17" && answer.keepsConnection)
                #expect(String(decoding: answer.body, as: UTF8.self) == "hello, chunked world of bytes!!")
            }
            #expect(server.connectionsAccepted == 1)
        }
    }

    @Test func bodyUntilCloseIsReadAndTheConnectionNotReused() async throws {
        try await withPool(try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            connection.writeSlowly("HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\n\r\nno length here", piece: 4)
        }) { pool, server in
            #expect(body(await get(pool)) == "no length here")
            #expect(body(await get(pool)) == "no length here")
            #expect(server.connectionsAccepted == 2)
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withPool(try ScriptedServer(script: serving { _ in "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok" })) { pool, server in
            #expect(body(await get(pool)) == "ok")
            #expect(body(await get(pool)) == "ok")
            #expect(server.connectionsAccepted == 2)
        }
    }

    @Test func interimContinueAnswersAreSkipped() async throws {
        try await withPool(try ScriptedServer(script: serving { _ in
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
        })) { pool, server in
            let result = await get(pool)
            guard case .success(let answer) = result else {
                Issue.record("expected an answer, got \(result)")
                return
            }
            #expect(answer.status == 204 && answer.body.isEmpty && answer.keepsConnection)
        }
    }

    @Test func closeInTheMiddleOfTheBodyIsMalformed() async throws {
        try await withPool(try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        }) { pool, server in
            #expect(failure(await get(pool)) == .malformedAnswer(detail: "the server closed the connection after 10 of 100 body bytes"))
        }
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n", "over 16384 bytes"),
        ("HTTP/2 200\r\n\r\n", "is not HTTP/1.x"),
        ("SSH-2.0-OpenSSH\r\n\r\n", "is not HTTP/1.x"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "conflicting Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "is not a byte count"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "not a hexadecimal byte count"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", "not a hexadecimal byte count"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", "longer than its size"),
        ("HTTP/1.1 200 OK\r\n folded: header\r\n\r\n", "obsolete line folding"),
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"),
        ("HTTP/1.1 200 OK\r\nContent-", "in the middle of the headers"),
    ])
    func malformedAnswersFailWithAReason(answer: String, reason: String) async throws {
        try await withPool(try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            connection.write(answer)
        }) { pool, server in
            let result = await get(pool)
            guard case .malformedAnswer(let detail) = failure(result) else {
                Issue.record("expected a malformed answer, got \(result)")
                return
            }
            #expect(detail.contains(reason))
            #expect(!detail.contains("aaaa"))
        }
    }

    @Test func largeBodiesAreCutAndDrainedOrTheConnectionGivenUp() async throws {
        let limits = HTTPAnswerLimits()
        let drainable = 100_000
        let huge = limits.keptBodyBytes + limits.drainedBodyBytes + 10
        try await withPool(try ScriptedServer(script: serving { head in
            let size = head.contains("/huge") ? huge : drainable
            return "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n" + String(repeating: "b", count: size)
        })) { pool, server in
            guard case .success(let drained) = await get(pool, "/drained") else {
                Issue.record("no answer to /drained")
                return
            }
            #expect(drained.body.count == limits.keptBodyBytes && drained.keepsConnection)
            guard case .success(let cut) = await get(pool, "/huge") else {
                Issue.record("no answer to /huge")
                return
            }
            #expect(cut.body.count == limits.keptBodyBytes && !cut.keepsConnection)
            #expect(body(await get(pool, "/drained"))?.count == limits.keptBodyBytes)
            #expect(server.connectionsAccepted == 2)
        }
    }

    @Test func hugeChunkedBodyIsCutAndTheConnectionGivenUp() async throws {
        let limits = HTTPAnswerLimits()
        let chunk = String(repeating: "c", count: 64 * 1024)
        let chunks = (limits.keptBodyBytes + limits.drainedBodyBytes) / chunk.utf8.count + 2
        try await withPool(try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in 0..<chunks { connection.write("10000\r\n\(chunk)\r\n") }
            connection.write("0\r\n\r\n")
            _ = connection.readRequest()
        }) { pool, server in
            guard case .success(let answer) = await get(pool) else {
                Issue.record("no answer")
                return
            }
            #expect(answer.status == 503 && answer.body.count == limits.keptBodyBytes && !answer.keepsConnection)
        }
    }

    @Test func http10AnswersCloseUnlessKeptAlive() async throws {
        try await withPool(try ScriptedServer(script: serving { head in
            head.contains("/keep")
                ? "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nkeep"
                : "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nonce"
        })) { pool, server in
            #expect(body(await get(pool, "/keep")) == "keep")
            #expect(body(await get(pool, "/keep")) == "keep")
            #expect(server.connectionsAccepted == 1)
            #expect(body(await get(pool, "/once")) == "once")
            #expect(body(await get(pool, "/once")) == "once")
            #expect(server.connectionsAccepted == 2)
        }
    }

    @Test func bothContentLengthAndChunkedNeverReuseTheConnection() async throws {
        try await withPool(try ScriptedServer(script: serving { _ in
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
        })) { pool, server in
            #expect(body(await get(pool)) == "ok")
            #expect(body(await get(pool)) == "ok")
            #expect(server.connectionsAccepted == 2)
        }
    }

    @Test func idleConnectionClosedByTheServerIsReplaced() async throws {
        // Answers one request per connection without saying so, then closes: the client finds
        // the connection dead before reusing it.
        try await withPool(try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }) { pool, server in
            #expect(body(await get(pool)) == "ok")
            try await Task.sleep(for: .milliseconds(50))
            #expect(body(await get(pool)) == "ok")
            #expect(server.connectionsAccepted == 2)
        }
    }

    @Test func requestLostOnAReusedConnectionIsRetriedOnceOnAFreshOne() async throws {
        // The race the retry exists for: the server takes the second request on a kept-alive
        // connection and closes without answering. The client resends it on a new connection.
        try await withPool(try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
            guard connection.readRequest() != nil else { return }
            connection.reset()
        }) { pool, server in
            #expect(body(await get(pool)) == "first")
            #expect(body(await get(pool)) == "first")
            #expect(server.connectionsAccepted == 2)
            // Not more than once: a fresh connection that loses the request fails the request.
            let dropping = try ScriptedServer { connection in
                guard connection.readRequest() != nil else { return }
                connection.reset()
            }
            defer { dropping.stop() }
            let droppingPool = try self.pool(dropping)
            defer { droppingPool.shutdown() }
            guard case .connectionLost(_, answerStarted: false) = failure(await get(droppingPool)) else {
                Issue.record("expected the lost connection to be reported")
                return
            }
            #expect(dropping.connectionsAccepted == 1)
        }
    }

    @Test func silentServerTimesOutAtTheDeadline() async throws {
        try await withPool(try ScriptedServer { connection in
            _ = connection.readRequest()
            _ = connection.readRequest()
        }) { pool, server in
            let start = ContinuousClock.now
            // The server never answers, so only the deadline can end the request: the reason says
            // which ended it. No upper bound on the time: a loaded test machine can stall any task.
            #expect(failure(await get(pool, timeout: 0.3)) == .timedOut)
            #expect(ContinuousClock.now - start >= .milliseconds(290))
        }
    }

    @Test func shutdownFailsRequestsInFlightAndQueuedAtOnce() async throws {
        let server = try ScriptedServer { connection in
            _ = connection.readRequest()
            _ = connection.readRequest()
        }
        defer { server.stop() }
        let pool = try pool(server, maximumConnections: 1)
        // Both would otherwise wait out their 60 s deadline: "cancelled" shows shutdown ended
        // them (the reason, not the clock, so a loaded machine cannot fail this).
        async let first = get(pool, timeout: 60)
        async let second = get(pool, timeout: 60)
        try await Task.sleep(for: .milliseconds(200))
        pool.shutdown()
        let results = await [first, second]
        #expect(results.map(failure) == [.cancelled, .cancelled])
        #expect(failure(await get(pool)) == .cancelled)
    }

    @Test func taskCancellationEndsTheRequest() async throws {
        try await withPool(try ScriptedServer { connection in
            _ = connection.readRequest()
            _ = connection.readRequest()
        }) { pool, server in
            let task = Task { await get(pool, timeout: 10) }
            try await Task.sleep(for: .milliseconds(200))
            task.cancel()
            #expect(failure(await task.value) == .cancelled)
        }
    }

    @Test func neverMoreConnectionsThanTheMaximum() async throws {
        try await withPool(try ScriptedServer { connection in
            while connection.readRequest() != nil {
                usleep(20_000)
                connection.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            }
        }, maximumConnections: 3) { pool, server in
            let answered = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<24 { group.addTask { if case .success = await get(pool) { true } else { false } } }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(answered == 24)
            #expect(server.mostConcurrentConnections == 3 && server.connectionsAccepted == 3)
        }
    }

    @Test func ipv6LoopbackAndLocalhostNameResolve() async throws {
        let server = try ScriptedServer(ipv6: true, script: serving { _ in "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6" })
        defer { server.stop() }
        let pool = HTTPConnectionPool(
            settings: .init(origin: try HTTPOrigin(baseURL: "http://[::1]:\(server.port)"), tls: nil, maximumConnections: 1))
        defer { pool.shutdown() }
        #expect(body(await get(pool)) == "v6")

        let v4 = try ScriptedServer(script: serving { _ in "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv4" })
        defer { v4.stop() }
        // `localhost` may resolve to ::1 first, where nothing listens on this port: the
        // client goes on to 127.0.0.1.
        let named = HTTPConnectionPool(
            settings: .init(origin: try HTTPOrigin(baseURL: "http://localhost:\(v4.port)"), tls: nil, maximumConnections: 1))
        defer { named.shutdown() }
        #expect(body(await get(named)) == "v4")
    }

    @Test func originsAreParsed() throws {
        let plain = try HTTPOrigin(baseURL: "http://127.0.0.1:8080/base")
        #expect(plain.host == "127.0.0.1" && plain.port == 8080 && !plain.isSecure && plain.hostIsIPAddress)
        #expect(plain.prefix == "http://127.0.0.1:8080" && plain.authority == "127.0.0.1:8080")
        let adobe = try HTTPOrigin(baseURL: "https://acme.tt.omtrdc.net")
        #expect(adobe.host == "acme.tt.omtrdc.net" && adobe.port == 443 && adobe.isSecure && !adobe.hostIsIPAddress)
        let v6 = try HTTPOrigin(baseURL: "http://[::1]:9")
        #expect(v6.host == "::1" && v6.port == 9 && v6.authority == "[::1]:9" && v6.hostIsIPAddress)
        #expect(throws: AdobeTargetConfigurationError.self) { try HTTPOrigin(baseURL: "http://host:99999") }
        #expect(throws: AdobeTargetConfigurationError.self) { try HTTPOrigin(baseURL: "http://user:pw@host") }
    }
}

@Suite("Client wire format and failure wording")
struct ClientWireTests {
    @Test func requestBytesAreHTTP11WithHostAndEmptyBody() throws {
        let client = try AdobeTargetClient(configuration: .init(clientCode: "acme", baseURL: "http://127.0.0.1:9/base"))
        let update = AdobeTargetRequest.profileUpdate(
            url: "http://127.0.0.1:9/base/m2/acme/profile/update?mbox3rdPartyId=u", bearerToken: "t0k")
        guard case .success(let bytes) = client.wireBytes(of: update) else {
            Issue.record("the update was not sendable")
            return
        }
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "POST /base/m2/acme/profile/update?mbox3rdPartyId=u HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"
                + "Accept: */*\r\nUser-Agent: adobe-target-destination\r\nAuthorization: Bearer t0k\r\n"
                + "Content-Length: 0\r\n\r\n")
    }

    @Test func tokenWithALineBreakIsRefusedWithoutShowingIt() async throws {
        let tokens = BearerTokenProvider(token: "secret-9q\r\nX-Evil: 1")
        let client = try AdobeTargetClient(
            configuration: .init(clientCode: "acme", baseURL: "http://127.0.0.1:9"), tokenProvider: tokens)
        let result = await client.deliver(userID: "u", traits: JSONObject([("a", "1")]))
        guard case .retryable(let failure) = result.outcome else {
            Issue.record("expected retryable, got \(result.outcome)")
            return
        }
        #expect(failure.reason.contains("Authorization header value contains a line break"))
        #expect(!"\(result)".contains("secret-9q"))
    }

    @Test func connectionRefusedNamesTheBaseURL() async throws {
        var configuration = AdobeTargetClient.Configuration(clientCode: "acme", baseURL: "http://127.0.0.1:1")
        configuration.requestTimeoutSeconds = 2
        let client = try AdobeTargetClient(configuration: configuration, tokenProvider: BearerTokenProvider(token: "hidden-77"))
        let result = await client.deliver(userID: "u", traits: JSONObject([("a", "1")]))
        guard case .retryable(let failure) = result.outcome else {
            Issue.record("expected retryable, got \(result.outcome)")
            return
        }
        #expect(failure.reason == "could not connect to Adobe Target at http://127.0.0.1:1 (Connection refused)")
        #expect(!"\(result)".contains("hidden-77"))
    }

    @Test func shutdownMakesDeliveriesRetryableCancellations() async throws {
        let client = try AdobeTargetClient(configuration: .init(clientCode: "acme", baseURL: "http://127.0.0.1:9"))
        client.shutdown()
        let result = await client.deliver(userID: "u", traits: JSONObject([("a", "1")]))
        guard case .retryable(let failure) = result.outcome else {
            Issue.record("expected retryable, got \(result.outcome)")
            return
        }
        #expect(failure.reason == "the request to Adobe Target was cancelled (shutting down)")
    }
}
