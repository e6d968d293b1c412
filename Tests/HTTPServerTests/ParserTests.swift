import Testing
@testable import HTTPServer

/// What a parser made of some bytes, in a form two runs can be compared by.
struct ParseOutcome: Equatable, CustomStringConvertible {
    struct Request: Equatable {
        var method: HTTPMethod
        var target: String
        var path: String
        var query: String?
        var version: HTTPVersion
        var headers: [String]
        var body: [UInt8]
        var keepAlive: Bool
    }

    var requests: [Request] = []
    var failure: HTTPParseError?
    var partialRequestLeft = false

    var description: String {
        "requests: \(requests.map { "\($0.method) \($0.target) body=\($0.body.count)" }), failure: \(failure.map(\.description) ?? "none"), partial: \(partialRequestLeft)"
    }
}

func parse(
    _ chunks: [[UInt8]], limits: HTTPParserLimits = HTTPParserLimits(), maxBody: Int = 1 << 20,
    sawContinue: UnsafeMutablePointer<Bool>? = nil
) -> ParseOutcome {
    let parser = HTTPRequestParser(limits: limits)
    var outcome = ParseOutcome()
    for chunk in chunks {
        parser.append(chunk)
        reading: while true {
            switch parser.next(maximumBodyBytes: { _, _ in maxBody }) {
            case .request(let request, let keepAlive):
                outcome.requests.append(.init(
                    method: request.method, target: request.target, path: request.path, query: request.query,
                    version: request.version, headers: request.headers.map { "\($0.name)=\($0.value)" },
                    body: request.body, keepAlive: keepAlive))
            case .failure(let error):
                outcome.failure = error
                return outcome
            case .expectsContinue:
                sawContinue?.pointee = true
                continue
            case .needMoreData:
                break reading
            }
        }
    }
    outcome.partialRequestLeft = parser.hasPartialRequest
    return outcome
}

/// Parses `text` whole, split in two at every byte boundary, and one byte at a time; every
/// way must give the same outcome, which is returned.
func parseEveryWay(
    _ text: String, limits: HTTPParserLimits = HTTPParserLimits(), maxBody: Int = 1 << 20,
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseOutcome {
    let bytes = Array(text.utf8)
    let whole = parse([bytes], limits: limits, maxBody: maxBody)
    for split in 1..<max(1, bytes.count) {
        let outcome = parse([Array(bytes[..<split]), Array(bytes[split...])], limits: limits, maxBody: maxBody)
        if outcome != whole {
            Issue.record("split at byte \(split) gave \(outcome), whole gave \(whole)", sourceLocation: sourceLocation)
            break
        }
    }
    let byByte = parse(bytes.map { [$0] }, limits: limits, maxBody: maxBody)
    #expect(byByte == whole, "fed one byte at a time", sourceLocation: sourceLocation)
    return whole
}

@Suite struct ParserTests {
    @Test func simpleGet() {
        let outcome = parseEveryWay("GET /health?verbose=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */*  \r\n\r\n")
        #expect(outcome.failure == nil)
        #expect(outcome.requests.count == 1)
        let request = outcome.requests[0]
        #expect(request.method == .GET)
        #expect(request.target == "/health?verbose=1")
        #expect(request.path == "/health")
        #expect(request.query == "verbose=1")
        #expect(request.version == .http1_1)
        #expect(request.headers == ["Host=example.com", "Accept=*/*"])
        #expect(request.keepAlive)
        #expect(!outcome.partialRequestLeft)
    }

    @Test func headerLookupIgnoresCase() {
        let parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nHOST: a\r\nX-Trace-Id: 42\r\n\r\n".utf8))
        guard case .request(let request, _) = parser.next(maximumBodyBytes: { _, _ in 0 }) else {
            Issue.record("no request parsed")
            return
        }
        #expect(request.headers["x-trace-id"] == "42")
        #expect(request.headers["Host"] == "a")
        #expect(request.headers["missing"] == nil)
    }

    @Test func contentLengthBody() {
        let outcome = parseEveryWay(
            "POST /v1/track HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"type\":\"x\"}\n")
        #expect(outcome.failure == nil)
        #expect(outcome.requests.map(\.body) == [Array("{\"type\":\"x\"}\n".utf8)])
    }

    @Test func identicalDuplicateContentLengthIsAccepted() {
        let outcome = parseEveryWay("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
        #expect(outcome.failure == nil)
        #expect(outcome.requests.first?.body == Array("abc".utf8))
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        let outcome = parseEveryWay(
            "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value;quoted=\"a b\"\r\nhello\r\n"
                + "7 ; ext\r\n, world\r\n"
                + "A\r\n0123456789\r\n"
                + "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
                + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.failure == nil)
        #expect(outcome.requests.count == 2)
        #expect(outcome.requests.first?.body == Array("hello, world0123456789".utf8))
        #expect(outcome.requests.last?.target == "/next")
    }

    @Test func pipelinedRequestsAndLeadingEmptyLines() {
        let outcome = parseEveryWay(
            "GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\nGET /d HT")
        #expect(outcome.failure == nil)
        #expect(outcome.requests.map(\.target) == ["/a", "/b", "/c"])
        #expect(outcome.partialRequestLeft)
    }

    @Test func keepAliveRules() {
        #expect(parseEveryWay("GET / HTTP/1.0\r\n\r\n").requests.first?.keepAlive == false)
        #expect(parseEveryWay("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").requests.first?.keepAlive == true)
        #expect(parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n").requests.first?.keepAlive == false)
        #expect(parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\n\r\n").requests.first?.keepAlive == true)
        #expect(parseEveryWay("GET / HTTP/1.0\r\n\r\n").requests.first?.version == .http1_0)
    }

    @Test func expectContinueIsReportedWhenTheBodyIsAwaited() {
        var sawContinue = false
        let text = "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        let outcome = parse([Array(text.utf8)], sawContinue: &sawContinue)
        #expect(sawContinue)
        #expect(outcome.requests.isEmpty && outcome.partialRequestLeft)
        #expect(parseEveryWay(text + "body").requests.first?.body == Array("body".utf8))
    }

    @Test func headIsParsedAsHead() {
        #expect(parseEveryWay("HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n").requests.first?.method == .HEAD)
    }

    /// Each refused shape with the exact status it must get.
    @Test(arguments: [
        ("content-length and transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("differing duplicate content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("differing content-length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
        ("signed content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("huge content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
        ("obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400),
        ("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400),
        ("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("invalid chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400),
        ("negative chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\na\r\n0\r\n\r\n", 400),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\na\r\n0\r\n\r\n", 400),
        ("chunk data longer than size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400),
        ("non-chunked final transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("transfer-encoding identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400),
        ("chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("transfer-encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("unsupported coding before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("unknown method", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("lowercase method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
        ("HTTP/0.9 style", "GET / HTTP/0.9\r\n\r\n", 505),
        ("malformed version", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
        ("no version", "GET /\r\n\r\n", 400),
        ("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("relative target", "GET health HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("missing host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("unknown expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417),
        ("body over the limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65\r\n\r\n", 413),
        ("chunked body over the limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + String(repeating: "x", count: 32) + "\r\n21\r\n", 413),
    ])
    func refusedShapes(name: String, text: String, status: Int) {
        let outcome = parseEveryWay(text, maxBody: 64)
        #expect(outcome.failure?.status.code == status, "\(name): \(outcome)")
        #expect(outcome.requests.isEmpty, "\(name)")
        #expect(outcome.failure.map { !$0.reason.isEmpty } == true)
    }

    @Test func headerLimits() {
        var limits = HTTPParserLimits()
        limits.maxHeaderBytes = 64
        limits.maxHeaderCount = 3
        limits.maxRequestLineBytes = 32
        let tooLarge = parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "v", count: 60) + "\r\n\r\n", limits: limits)
        #expect(tooLarge.failure?.status.code == 431)
        #expect(tooLarge.failure?.reason.contains("64 bytes") == true)
        let tooMany = parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits)
        #expect(tooMany.failure?.status.code == 431)
        let fits = parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits)
        #expect(fits.failure == nil && fits.requests.count == 1)
        let longTarget = parseEveryWay("GET /" + String(repeating: "a", count: 40) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits)
        #expect(longTarget.failure?.status.code == 414)
        // Detected before the line ends, so a client cannot make the server buffer without bound.
        let unfinished = parse([Array(("GET /" + String(repeating: "a", count: 40)).utf8)], limits: limits)
        #expect(unfinished.failure?.status.code == 414)
        let endlessHeader = parse([Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 80)).utf8)], limits: limits)
        #expect(endlessHeader.failure?.status.code == 431)
        let manyTrailers = parseEveryWay(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits: limits)
        #expect(manyTrailers.failure?.status.code == 431)
    }

    @Test func bodyLimitIsDecidedFromTheHeadAlone() {
        // No body byte has arrived, yet the 413 is already known.
        let outcome = parse([Array("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n".utf8)], maxBody: 1000)
        #expect(outcome.failure?.status.code == 413)
        #expect(outcome.failure?.reason.contains("1000 bytes") == true)
    }

    @Test func largeBodyAcrossManyAppends() {
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let head = Array("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        let all = head + body
        let chunks = stride(from: 0, to: all.count, by: 1000).map { Array(all[$0..<min($0 + 1000, all.count)]) }
        let outcome = parse(chunks)
        #expect(outcome.requests.first?.body == body)
    }
}
