import Foundation
import HTTPServer
import Logging
import Metrics

/// Counts requests by route and status (`http_requests_total`), times them
/// (`http_request_duration_seconds`), and logs each one at debug.
final class RequestObserver: RouteObserver, @unchecked Sendable {
    private let logger: Logger
    private let lock = NSLock()
    /// Counters are made once per (method, route, status): labels are bounded by the routes.
    private var counters: [String: Counter] = [:]
    private var timers: [String: Metrics.Timer] = [:]

    init(logger: Logger) {
        self.logger = logger
    }

    func observe(pattern: String, request: HTTPRequest, response: HTTPResponse, duration: Duration) {
        let status = response.status.code
        let key = "\(request.method.rawValue) \(pattern) \(status)"
        let (counter, timer) = lock.withLock { () -> (Counter, Metrics.Timer) in
            if let counter = counters[key], let timer = timers[pattern] { return (counter, timer) }
            let counter = counters[key] ?? Counter(label: "http_requests_total", dimensions: [
                ("method", request.method.rawValue), ("route", pattern), ("status", String(status)),
            ])
            counters[key] = counter
            let timer = timers[pattern] ?? Metrics.Timer(label: "http_request_duration_seconds", dimensions: [("route", pattern)])
            timers[pattern] = timer
            return (counter, timer)
        }
        counter.increment()
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        if logger.logLevel <= .debug {
            logger.debug("request", metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.path)", "status": "\(status)",
                "route": "\(pattern)", "remote": "\(request.remoteAddress)",
                "durationMs": "\(Double(seconds * 1_000_000_000 + attoseconds / 1_000_000_000) / 1e6)",
            ])
        }
    }
}
