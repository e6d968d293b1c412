#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import Testing
@testable import HTTPServer

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct TestResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A raw-bytes HTTP client over a blocking socket with a receive timeout.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        setTimeout(timeoutSeconds)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            // No close here: a class whose stored properties are all set runs `deinit` even
            // when its init throws, and a second close could hit a descriptor another thread
            // has just been given.
            throw TestFailure("connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

    func setTimeout(_ seconds: Double) {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw TestFailure("send failed: errno \(errno)") }
            sent += count
        }
    }

    /// Reads more bytes; false on end of stream. Throws on timeout.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[..<count])
            return true
        }
        if count == 0 { return false }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw TestFailure("timed out waiting for the server") }
        if errno == ECONNRESET { return false }
        throw TestFailure("recv failed: errno \(errno)")
    }

    private func takeLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 0x0A), index > 0, buffer[index - 1] == 0x0D {
                let line = String(decoding: buffer[..<(index - 1)], as: UTF8.self)
                buffer.removeFirst(index + 1)
                return line
            }
            guard try fill() else { throw TestFailure("connection closed in the middle of a response head") }
        }
    }

    /// Reads one response; `headRequest` for the answer to HEAD (no body despite Content-Length).
    func readResponse(headRequest: Bool = false) throws -> TestResponse {
        let statusLine = try takeLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw TestFailure("bad status line: \(statusLine)")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try takeLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw TestFailure("bad header line: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces()))
        }
        var response = TestResponse(status: status, headers: headers, body: [])
        if status < 200 || headRequest { return response }
        guard let lengthText = response.header("Content-Length"), let length = Int(lengthText) else {
            throw TestFailure("response without Content-Length: \(statusLine)")
        }
        while buffer.count < length {
            guard try fill() else { throw TestFailure("connection closed in the middle of a response body") }
        }
        response.body = Array(buffer[..<length])
        buffer.removeFirst(length)
        return response
    }

    /// True when the server closed the connection with nothing (more) to read.
    func isClosedByServer() throws -> Bool {
        if !buffer.isEmpty { return false }
        return try !fill()
    }

    func request(_ text: String) throws -> TestResponse {
        try send(text)
        return try readResponse()
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

/// Starts a real server on 127.0.0.1 with a free port, runs `body`, and shuts it down.
func withServer<T>(
    router: Router = testRouter(),
    configure: (inout HTTPServer.Configuration) -> Void = { _ in },
    _ body: (HTTPServer) throws -> T
) throws -> T {
    var configuration = HTTPServer.Configuration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.eventLoopCount = 2
    configuration.requestTimeoutSeconds = 5
    configure(&configuration)
    var logger = Logger(label: "HTTPServerTests")
    logger.logLevel = .critical
    let server = HTTPServer(configuration: configuration, responder: router, logger: logger)
    try server.start()
    defer { server.shutdown(gracePeriodSeconds: 1) }
    return try body(server)
}

func testRouter() -> Router {
    var router = Router()
    router.add(.GET, "/health") { _, writer in
        writer.send(.json(.ok, Array(#"{"status":"ok"}"#.utf8)))
    }
    router.add(.GET, "/echo-target") { request, writer in
        writer.send(.text(.ok, request.target))
    }
    router.add(.POST, "/echo") { request, writer in
        var response = HTTPResponse(status: .ok, body: request.body)
        response.headers.add(name: "X-Body-Bytes", value: String(request.body.count))
        writer.send(response)
    }
    router.add(.POST, "/small", maxBodyBytes: 16) { request, writer in
        writer.send(.text(.ok, "got \(request.body.count)"))
    }
    router.add(.GET, "/goodbye") { _, writer in
        var response = HTTPResponse.text(.ok, "bye")
        response.headers.add(name: "Connection", value: "close")
        writer.send(response)
    }
    router.add(.GET, "/items/{id}") { request, writer in
        writer.send(.text(.ok, "item \(request.pathParameters["id"] ?? "?")"))
    }
    router.add(.GET, "/async") { request, writer in
        let delay = Int(request.query?.split(separator: "=").last ?? "50") ?? 50
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) {
            writer.send(.text(.ok, "async \(request.target)"))
        }
    }
    return router
}

func sleepSeconds(_ seconds: Double) {
    usleep(UInt32(seconds * 1_000_000))
}
