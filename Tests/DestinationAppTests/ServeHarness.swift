import Foundation
import JSONKit
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One `adobe-target-destination serve` child process on a free loopback port, with its own
/// config file and a data dir the caller owns (so a test can restart on the same one).
///
/// Its stderr goes to a file, so nothing can block the child and the whole log can be searched
/// afterwards (secrets, shutdown messages). A process still running when the value goes away
/// is killed, so a failing test never leaves a server behind.
final class ServeProcess: @unchecked Sendable {
    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    let port: Int
    let dataDirectory: String
    let logURL: URL
    private let process: Process

    /// Environment variables of the contract that a developer's shell might have set; the
    /// child never inherits them, so each test says exactly what it configures.
    static let contractVariables = [
        "PORT", "DATA_DIR", "LOG_LEVEL", "ADOBE_TARGET_CLIENT_CODE", "ADOBE_TARGET_BEARER_TOKEN",
        "ADOBE_TARGET_BASE_URL", "SEGMENT_SHARED_SECRET", "SEGMENT_WRITE_KEYS", "ADMIN_TOKEN", "LOG_FORMAT",
        "DATABASE_URL", "REPLICA_ID",
    ]

    /// Starts `serve` and returns once `GET /health` answers 200.
    ///
    /// The port is found by binding port 0 and releasing it; another process may take it in
    /// between, so a start that fails to listen is retried on a new port.
    static func start(
        config: String, dataDirectory: String, scratch: TemporaryDirectory, environment: [String: String] = [:],
        logLevel: String = "debug", healthTimeout: TimeInterval = 30
    ) throws -> ServeProcess {
        let configPath = try scratch.write("config-\(UUID().uuidString).json", config)
        var lastFailure = ""
        for _ in 0..<4 {
            let port = try freeLoopbackPort()
            let logURL = scratch.url.appendingPathComponent("serve-\(port)-\(UUID().uuidString.prefix(8)).log")
            let serve = try ServeProcess(
                port: port, configPath: configPath, dataDirectory: dataDirectory, logURL: logURL,
                environment: environment, logLevel: logLevel)
            if try serve.waitUntilHealthy(timeout: healthTimeout) { return serve }
            lastFailure = serve.log
            serve.kill()
            if !lastFailure.lowercased().contains("in use") { break }
        }
        throw StartError(description: "serve did not become healthy; its log:\n\(lastFailure)")
    }

    private init(
        port: Int, configPath: String, dataDirectory: String, logURL: URL, environment: [String: String],
        logLevel: String
    ) throws {
        self.port = port
        self.configPath = configPath
        self.dataDirectory = dataDirectory
        self.logURL = logURL
        process = Process()
        process.executableURL = Executable.url
        process.arguments = [
            "serve", "--config", configPath, "--host", "127.0.0.1", "--port", String(port),
            "--data-dir", dataDirectory, "--log-level", logLevel,
        ]
        var env = ProcessInfo.processInfo.environment
        for name in Self.contractVariables { env[name] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: logURL)
        process.standardOutput = try FileHandle(forWritingTo: logURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill() }
    }

    /// The config file it was started with; rewrite it and send SIGHUP to reload.
    let configPath: String

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Everything the process wrote to stderr and stdout so far.
    var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    var client: HTTPTestClient { HTTPTestClient(port: port) }

    /// `true` once `/health` answers 200; `false` if the process exited or time ran out.
    private func waitUntilHealthy(timeout: TimeInterval) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { return false }
            if let response = try? client.send("GET", "/health", timeout: 2), response.status == 200 {
                return true
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status, or `nil` if the process
    /// was still running after `timeout` (it is then killed so the test can go on).
    @discardableResult
    func terminate(timeout: TimeInterval = 10) -> ExitOutcome? {
        Glibc.kill(process.processIdentifier, SIGTERM)
        guard waitForExit(timeout: timeout) else {
            kill()
            return nil
        }
        return outcome
    }

    /// Sends a signal and returns at once.
    func send(signal: Int32) {
        Glibc.kill(process.processIdentifier, signal)
    }

    /// SIGKILL, as a crash or `kill -9` would; waits until the process is gone.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(timeout: 10)
    }

    struct ExitOutcome: Equatable, CustomStringConvertible {
        var status: Int32
        var bySignal: Bool

        var description: String { bySignal ? "killed by signal \(status)" : "exit \(status)" }
        static let success = ExitOutcome(status: 0, bySignal: false)
    }

    var outcome: ExitOutcome {
        ExitOutcome(status: process.terminationStatus, bySignal: process.terminationReason == .uncaughtSignal)
    }

    func waitForExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return true
    }
}

extension Tag {
    /// Needs the delivery queue wired into `serve`: updates reach the Adobe Target simulator.
    @Tag static var needsDelivery: Self
}

extension Logger {
    /// For in-process simulators: their per-request info lines would drown the test output.
    static var quiet: Logger {
        var logger = Logger(label: "test-simulator")
        logger.logLevel = .warning
        return logger
    }
}

/// A port nobody listens on right now.
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { throw HTTPTestClient.ClientError(description: "socket() failed: errno \(errno)") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HTTPTestClient.ClientError(description: "bind() failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs `body` on `count` threads of its own and waits for all of them. Blocking socket
/// clients must not run on the (two-thread) cooperative pool.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

/// A lock-protected value shared between client threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withLock { $0 } }
}

// MARK: - HTTP

/// A blocking HTTP/1.1 client for 127.0.0.1 that sends exactly the bytes a test means to:
/// no compression, retries or header rewriting.
struct HTTPTestClient: Sendable {
    struct ClientError: Error, CustomStringConvertible {
        var description: String
    }

    let port: Int

    @discardableResult
    func send(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
        timeout: TimeInterval = 10
    ) throws -> HTTPTestResponse {
        let connection = try HTTPTestConnection(port: port, timeout: timeout)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if method != "GET" || !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try connection.write(Array(head.utf8) + body)
        return try connection.readResponse()
    }

    func post(_ path: String, json: String, headers: [(String, String)] = []) throws -> HTTPTestResponse {
        try send("POST", path, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    func get(_ path: String, headers: [(String, String)] = []) throws -> HTTPTestResponse {
        try send("GET", path, headers: headers)
    }
}

/// One TCP connection, for tests that send a request in pieces.
final class HTTPTestConnection {
    private let descriptor: Int32
    private var received: [UInt8] = []

    init(port: Int, timeout: TimeInterval = 10) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HTTPTestClient.ClientError(description: "socket() failed: errno \(errno)") }
        var interval = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            // No close here: `deinit` runs even though init throws (every stored property is
            // set), and closing twice could close a descriptor another thread just opened.
            throw HTTPTestClient.ClientError(description: "connect to 127.0.0.1:\(port) failed: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(descriptor)
    }

    func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else {
                throw HTTPTestClient.ClientError(description: "write failed: \(String(cString: strerror(errno)))")
            }
            sent += written
        }
    }

    func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    /// Reads one complete response (by `Content-Length`, or to the end of the stream).
    func readResponse() throws -> HTTPTestResponse {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let (response, consumed) = HTTPTestResponse.parse(received, complete: false) {
                received.removeFirst(consumed)
                return response
            }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                throw HTTPTestClient.ClientError(description: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 {
                guard let (response, _) = HTTPTestResponse.parse(received, complete: true) else {
                    throw HTTPTestClient.ClientError(
                        description: "the connection closed before a complete response; got \(received.count) bytes: \(String(decoding: received, as: UTF8.self))")
                }
                received = []
                return response
            }
            received.append(contentsOf: buffer[0..<count])
        }
    }
}

struct HTTPTestResponse: Sendable, CustomStringConvertible {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON; `.null` when it is not JSON, so expectations on it fail readably.
    var json: JSONValue { (try? JSONParser().parse(body)) ?? .null }

    var description: String { "\(status) \(text)" }

    /// A complete response and the bytes it took, or `nil` while more are needed.
    static func parse(_ bytes: [UInt8], complete: Bool) -> (HTTPTestResponse, Int)? {
        guard let headEnd = bytes.firstRange(of: [13, 10, 13, 10])?.lowerBound else { return nil }
        let lines = String(decoding: bytes[..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let bodyStart = headEnd + 4
        if let length = headers.first(where: { $0.0.lowercased() == "content-length" }).flatMap({ Int($0.1) }) {
            guard bytes.count >= bodyStart + length else { return nil }
            return (HTTPTestResponse(status: status, headers: headers, body: Array(bytes[bodyStart..<bodyStart + length])), bodyStart + length)
        }
        // 1xx and 204/304 have no body; otherwise the body runs to the end of the stream.
        if (100..<200).contains(status) || status == 204 || status == 304 {
            return (HTTPTestResponse(status: status, headers: headers, body: []), bodyStart)
        }
        guard complete else { return nil }
        return (HTTPTestResponse(status: status, headers: headers, body: Array(bytes[bodyStart...])), bytes.count)
    }
}

// MARK: - Segment helpers

enum SegmentFixtures {
    /// The default mapping of the contract: identify → Update Profile.
    static let updateProfileMapping = #"""
        {
          "id": "update-profile",
          "name": "Update Profile",
          "enabled": true,
          "subscription": "type = \"identify\"",
          "action": "updateProfile",
          "mapping": {
            "user_id": { "@if": { "exists": { "@path": "$.userId" }, "then": { "@path": "$.userId" }, "else": { "@path": "$.anonymousId" } } },
            "traits":  { "@path": "$.traits" }
          }
        }
        """#

    /// A config with the given mappings (JSON array text) and extra top-level sections.
    /// The free-disk guard is off unless a `storage` section is given, so a nearly full
    /// build machine does not turn every test into a 503.
    static func config(mappings: String = "[\(updateProfileMapping)]", extraSections: String = "") -> String {
        var sections = extraSections.isEmpty ? [] : [extraSections]
        if !extraSections.contains(#""storage""#) { sections.append(#""storage": { "minFreeDiskBytes": 0 }"#) }
        sections.append(#""mappings": \#(mappings)"#)
        return "{\n  " + sections.joined(separator: ",\n  ") + "\n}\n"
    }

    static func identify(messageId: String, userId: String, traits: String = #"{"plan":"premium"}"#) -> String {
        #"{"type":"identify","messageId":"\#(messageId)","userId":"\#(userId)","traits":\#(traits),"timestamp":"2026-11-28T10:00:00.000Z"}"#
    }

    static func track(messageId: String, userId: String, event: String = "Order Completed") -> String {
        #"{"type":"track","messageId":"\#(messageId)","userId":"\#(userId)","event":"\#(event)","properties":{"total":27.5},"timestamp":"2026-11-28T10:00:00.000Z"}"#
    }

    /// A payload from the shared samples, which sit beside the repository (`../shared/samples`)
    /// in a checkout and in the project's workspace.
    static func sample(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: try Repository.samplePath(name))))
    }

    /// `Authorization` for the Tracking API: HTTP Basic with the write key as user name.
    static func basicAuthorization(writeKey: String) -> (String, String) {
        ("Authorization", "Basic " + Data("\(writeKey):".utf8).base64EncodedString())
    }

    /// `X-Signature` as Segment computes it: hex HMAC-SHA1 of the body with the shared secret.
    static func signature(_ body: [UInt8], secret: String) -> (String, String) {
        ("X-Signature", HMACSHA1.hex(key: Array(secret.utf8), message: body))
    }

    /// Random letters and digits: recognisable in a log, never escaped differently in JSON.
    static func randomSecret(_ prefix: String) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return prefix + String((0..<24).map { _ in alphabet.randomElement()! })
    }
}

/// gzip through the system's `gzip`, so the test does not share the server's zlib code.
func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    let scratch = try TemporaryDirectory()
    let input = try scratch.write("body", "")
    try Data(bytes).write(to: URL(fileURLWithPath: input))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = ["-c", "-n", input]
    let output = scratch.url.appendingPathComponent("body.gz")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: output)
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw HTTPTestClient.ClientError(description: "gzip failed") }
    return Array(try Data(contentsOf: output))
}

/// SHA-1 and HMAC-SHA1 (RFC 3174, RFC 2104), written here so the test's signatures do not
/// come from the code under test.
enum HMACSHA1 {
    static func hex(key: [UInt8], message: [UInt8]) -> String {
        hmac(key: key, message: message).map { String(format: "%02x", $0) }.joined()
    }

    static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? sha1(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = sha1(block.map { $0 ^ 0x36 } + message)
        return sha1(block.map { $0 ^ 0x5c } + inner)
    }

    static func sha1(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bitLength = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let base = chunk + i * 4
                w[i] = UInt32(data[base]) << 24 | UInt32(data[base + 1]) << 16 | UInt32(data[base + 2]) << 8 | UInt32(data[base + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
            }
            h[0] &+= a
            h[1] &+= b
            h[2] &+= c
            h[3] &+= d
            h[4] &+= e
        }
        return h.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt32(24 - $0 * 8)) } }
    }
}
