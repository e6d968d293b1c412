// hummingbird-reference --port N
//
// What a plain Hummingbird 2 service does with a Segment batch when it stores nothing: collect
// the body, parse it with Foundation's JSONSerialization, answer. scripts/bench-ingest.sh puts
// `serve` beside it to show what durability and our own parser cost or save.
import Foundation
import Hummingbird
import Logging

/// Segment batches are far smaller; 8 MiB matches nginx's client_max_body_size in the bench,
/// so both references refuse the same bodies.
let maximumBodyBytes = 8 * 1024 * 1024

func port(from arguments: [String]) -> Int {
    let usage = "usage: hummingbird-reference --port N (N from 1 to 65535)"
    guard arguments.count == 2, arguments[0] == "--port" else {
        FileHandle.standardError.write(Data("hummingbird-reference: expected --port N. \(usage)\n".utf8))
        exit(64)
    }
    guard let port = Int(arguments[1]), (1...65535).contains(port) else {
        FileHandle.standardError.write(Data("hummingbird-reference: '\(arguments[1])' is not a port. \(usage)\n".utf8))
        exit(64)
    }
    return port
}

let listenPort = port(from: Array(CommandLine.arguments.dropFirst()))

let json: HTTPFields = [.contentType: "application/json"]

let router = Router()
router.get("health") { _, _ in
    Response(status: .ok, headers: json, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
}
router.post("webhook") { request, _ in
    // Over the limit, collect throws NIOTooManyBytesError, which Hummingbird answers with 413.
    let body = try await request.body.collect(upTo: maximumBodyBytes)
    // Parsed and dropped: the reference measures reading and parsing, nothing after.
    guard (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) != nil else {
        return Response(
            status: .badRequest, headers: json,
            body: .init(byteBuffer: ByteBuffer(string: #"{"success":false,"error":"body is not JSON"}"#)))
    }
    return Response(status: .ok, headers: json, body: .init(byteBuffer: ByteBuffer(string: #"{"success":true}"#)))
}

// Warning and above only: a log line per request would measure the logger.
var logger = Logger(label: "hummingbird-reference")
logger.logLevel = .warning

let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: listenPort), serverName: "hummingbird-reference"),
    logger: logger
)
try await app.runService()
