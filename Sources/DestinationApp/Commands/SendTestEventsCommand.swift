import ArgumentParser
import Foundation
import SegmentIngest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Posts sample Segment events to a running server, signed or keyed as configured, so an
/// operator can see the whole pipeline work.
struct SendTestEventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test-events",
        abstract: "Post sample Segment events to a running server."
    )

    @Option(name: .long, help: "The server's base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .long, help: "A folder of sample events (*.json): single events, arrays or {\"batch\": [...]}.")
    var samples = "../shared/samples"

    @Option(name: .customLong("shared-secret"), help: "Sign /webhook bodies with this secret (or SEGMENT_SHARED_SECRET).")
    var sharedSecret: String?

    @Option(name: .customLong("write-key"), help: "Send this write key to /v1/batch (or the first of SEGMENT_WRITE_KEYS).")
    var writeKey: String?

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let secret = sharedSecret ?? environment["SEGMENT_SHARED_SECRET"]
        let key = writeKey ?? environment["SEGMENT_WRITE_KEYS"]?.split(separator: ",").first.map(String.init)
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: samples).filter { $0.hasSuffix(".json") }.sorted()
        } catch {
            throw ValidationError("cannot read the samples folder \(samples): \(ConfigurationLoader.describe(error)); pass --samples DIR")
        }
        guard !files.isEmpty else { throw ValidationError("no *.json files in \(samples); pass --samples DIR") }
        var failures = 0
        for file in files {
            let body = try Data(contentsOf: URL(fileURLWithPath: samples).appendingPathComponent(file))
            let isTrackingBatch = (try? JSONSerialization.jsonObject(with: body)) is [String: Any]
                && String(decoding: body, as: UTF8.self).contains("\"batch\"")
            let path = isTrackingBatch ? "/v1/batch" : "/webhook"
            guard let target = URL(string: url + path) else { throw ValidationError("--url \(url) is not a URL") }
            var request = URLRequest(url: target)
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            if path == "/webhook", let secret {
                request.setValue(SignatureVerifier(sharedSecret: secret).signature(of: Array(body)), forHTTPHeaderField: "X-Signature")
            }
            if path == "/v1/batch", let key {
                request.setValue("Basic " + Data("\(key):".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
            }
            let (status, answer) = send(request)
            print("\(file) -> POST \(path): \(status.map(String.init) ?? "no answer") \(answer)")
            if status != 200 { failures += 1 }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func send(_ request: URLRequest) -> (Int?, String) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int?, String) = (nil, "")
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                result = (nil, "\(error.localizedDescription); is the server running at \(url)?")
            } else {
                result = ((response as? HTTPURLResponse)?.statusCode, String(decoding: data ?? Data(), as: UTF8.self))
            }
            done.signal()
        }.resume()
        done.wait()
        return result
    }
}
