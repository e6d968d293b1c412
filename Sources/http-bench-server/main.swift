// A minimal HTTPServer for benchmarks; see scripts/bench-http.sh.
//
//   http-bench-server [--port N] [--threads N] [--host ADDR]
//
// GET /health answers {"status":"ok"}; POST /echo-size answers the size of the JSON body it got.
#if canImport(Glibc)
import Glibc
#endif
import HTTPServer
import Logging

func writeLine(_ text: String, to fd: Int32) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

func usage(_ problem: String) -> Never {
    writeLine("http-bench-server: \(problem)\nusage: http-bench-server [--port N] [--threads N] [--host ADDR]", to: 2)
    exit(2)
}

var configuration = HTTPServer.Configuration()
configuration.host = "127.0.0.1"
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { usage("\(flag) needs a value") }
    switch flag {
    case "--port":
        guard let port = Int(value), (0...65535).contains(port) else { usage("--port must be 0...65535, got \(value)") }
        configuration.port = port
    case "--threads":
        guard let threads = Int(value), threads >= 0 else { usage("--threads must be a non-negative number, got \(value)") }
        configuration.eventLoopCount = threads
    case "--host":
        configuration.host = value
    default:
        usage("unknown option \(flag)")
    }
}

var logger = Logger(label: "http-bench-server")
logger.logLevel = .warning

let healthBody = Array(#"{"status":"ok"}"#.utf8)
var router = Router()
router.add(.GET, "/health") { _, writer in
    writer.send(.json(.ok, healthBody))
}
router.add(.POST, "/echo-size", maxBodyBytes: 1 << 20) { request, writer in
    writer.send(.json(.ok, Array("{\"receivedBytes\":\(request.body.count)}".utf8)))
}

let server = HTTPServer(configuration: configuration, responder: router, logger: logger)
do {
    try server.start()
} catch {
    writeLine("http-bench-server: \(error)", to: 2)
    exit(1)
}
writeLine("http-bench-server listening on \(configuration.host):\(server.port)", to: 1)

// SIGINT/SIGTERM: shut down gracefully. The handler only writes to a pipe; the main thread
// waits on it, so nothing unsafe runs in signal context.
var signalPipe: [Int32] = [0, 0]
pipe(&signalPipe)
nonisolated(unsafe) var signalWriteFD: Int32 = signalPipe[1]
signal(SIGINT) { _ in var byte: UInt8 = 1; _ = write(signalWriteFD, &byte, 1) }
signal(SIGTERM) { _ in var byte: UInt8 = 1; _ = write(signalWriteFD, &byte, 1) }
var byte: UInt8 = 0
_ = read(signalPipe[0], &byte, 1)
server.shutdown(gracePeriodSeconds: 5)
