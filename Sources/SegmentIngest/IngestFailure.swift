import HTTPServer
import JSONKit

/// A whole request refused before any event in it is considered: the answer is the status and
/// the JSON body `{"success":false,"error":"…"}`.
///
/// Messages say what is wrong and what to send instead, and never quote a secret.
public struct IngestFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    public var message: String
    /// Set for 503 answers: how long a client (Segment retries 5xx) should wait.
    public var retryAfterSeconds: Int?

    public init(status: HTTPStatus, message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status.code) \(message)" }

    public static func badRequest(_ message: String) -> IngestFailure {
        IngestFailure(status: .badRequest, message: message)
    }

    public static func unauthorized(_ message: String) -> IngestFailure {
        IngestFailure(status: .unauthorized, message: message)
    }

    public static func payloadTooLarge(_ message: String) -> IngestFailure {
        IngestFailure(status: .payloadTooLarge, message: message)
    }

    public static func unsupportedMediaType(_ message: String) -> IngestFailure {
        IngestFailure(status: .unsupportedMediaType, message: message)
    }

    public static func serviceUnavailable(_ message: String, retryAfterSeconds: Int) -> IngestFailure {
        IngestFailure(status: .serviceUnavailable, message: message, retryAfterSeconds: retryAfterSeconds)
    }

    /// The HTTP answer for this failure.
    public var response: HTTPResponse {
        var response = HTTPResponse.json(status, IngestAnswer.failureBody(message: message))
        if let retryAfterSeconds {
            response.headers.add(name: "Retry-After", value: String(retryAfterSeconds))
        }
        return response
    }
}
