/// Why an HTTP exchange with Adobe Target ended without an answer. Every case is retryable:
/// none says anything about the request itself, only about the network or the server.
enum HTTPClientFailure: Error, Sendable, Hashable {
    /// The request deadline (`requestTimeoutSeconds`) passed.
    case timedOut
    /// `shutdown()` or the calling task's cancellation.
    case cancelled
    case resolutionFailed(detail: String)
    case connectFailed(detail: String)
    case tlsFailed(detail: String)
    /// The connection closed or was reset. `answerStarted` tells whether any byte of the
    /// answer had arrived; a connection lost before that may be retried (see the pool).
    case connectionLost(detail: String, answerStarted: Bool)
    case malformedAnswer(detail: String)
    /// The request could not be written as HTTP/1.1 (a line break in a header value).
    case unsendable(detail: String)

    /// The sentence a delivery records; names neither the bearer token nor any other secret.
    func reason(baseURL: String, timeoutDescription: String) -> String {
        switch self {
        case .timedOut:
            return "no answer from Adobe Target within \(timeoutDescription) s (requestTimeout)"
        case .cancelled:
            return "the request to Adobe Target was cancelled (shutting down)"
        case .resolutionFailed(let detail):
            return "could not resolve the Adobe Target host of \(baseURL) (\(detail)); check adobeTarget.baseURL"
        case .connectFailed(let detail):
            return "could not connect to Adobe Target at \(baseURL) (\(detail))"
        case .tlsFailed(let detail):
            return "the TLS connection to Adobe Target at \(baseURL) failed: \(detail)"
        case .connectionLost(let detail, let answerStarted):
            return answerStarted
                ? "the connection to Adobe Target was lost in the middle of the answer (\(detail))"
                : "the connection to Adobe Target was lost before the answer arrived (\(detail))"
        case .malformedAnswer(let detail):
            return "Adobe Target sent a malformed answer: \(detail)"
        case .unsendable(let detail):
            return "the request to Adobe Target could not be sent: \(detail)"
        }
    }
}
