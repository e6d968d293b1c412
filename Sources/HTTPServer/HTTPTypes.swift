/// Request methods the server knows. Anything else is answered 501.
public enum HTTPMethod: String, Sendable, Hashable, CaseIterable {
    case GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT
}

public enum HTTPVersion: Sendable, Hashable {
    case http1_0
    case http1_1
}

public struct HTTPStatus: Sendable, Hashable {
    public var code: Int
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    public static let `continue` = HTTPStatus(code: 100, reason: "Continue")
    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let accepted = HTTPStatus(code: 202, reason: "Accepted")
    public static let noContent = HTTPStatus(code: 204, reason: "No Content")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let unauthorized = HTTPStatus(code: 401, reason: "Unauthorized")
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    public static let conflict = HTTPStatus(code: 409, reason: "Conflict")
    public static let lengthRequired = HTTPStatus(code: 411, reason: "Length Required")
    public static let payloadTooLarge = HTTPStatus(code: 413, reason: "Content Too Large")
    public static let uriTooLong = HTTPStatus(code: 414, reason: "URI Too Long")
    public static let unsupportedMediaType = HTTPStatus(code: 415, reason: "Unsupported Media Type")
    public static let expectationFailed = HTTPStatus(code: 417, reason: "Expectation Failed")
    public static let unprocessableContent = HTTPStatus(code: 422, reason: "Unprocessable Content")
    public static let tooManyRequests = HTTPStatus(code: 429, reason: "Too Many Requests")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let badGateway = HTTPStatus(code: 502, reason: "Bad Gateway")
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    public static let gatewayTimeout = HTTPStatus(code: 504, reason: "Gateway Timeout")
    public static let httpVersionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")
}

/// Header fields in arrival order; names compare case-insensitively (ASCII).
///
/// Lookups compare names byte by byte without lowercasing copies, so reading a header on the
/// request path allocates nothing.
public struct HTTPHeaders: Sendable, Hashable, Sequence {
    public typealias Element = (name: String, value: String)

    private var fields: [(name: String, value: String)]

    public init() { fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// Takes the parser's fields as they are, without another pass over them.
    init(parsedFields: [(name: String, value: String)]) {
        fields = parsedFields
    }

    public var count: Int { fields.count }

    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field of that name with one.
    public mutating func replaceOrAdd(name: String, value: String) {
        fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
        fields.append((name: name, value: value))
    }

    public mutating func remove(name: String) {
        fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
    }

    /// The first value of the named field.
    public subscript(name: String) -> String? {
        for field in fields where asciiCaseInsensitiveEquals(field.name, name) {
            return field.value
        }
        return nil
    }

    public func contains(name: String) -> Bool {
        fields.contains { asciiCaseInsensitiveEquals($0.name, name) }
    }

    public func values(for name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }
}

/// Compares two strings as HTTP field names: ASCII letters match regardless of case.

func asciiCaseInsensitiveEquals(_ lhs: String, _ rhs: String) -> Bool {
    var lhs = lhs, rhs = rhs
    return lhs.withUTF8 { left in
        rhs.withUTF8 { right in
            guard left.count == right.count else { return false }
            for index in 0..<left.count {
                let a = left[index], b = right[index]
                if a == b { continue }
                let lowerA = (a >= 0x41 && a <= 0x5A) ? a | 0x20 : a
                let lowerB = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
                if lowerA != lowerB { return false }
            }
            return true
        }
    }
}

/// A complete request as handlers see it: the body is fully read (and de-chunked).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request-target exactly as sent, e.g. `/v1/batch?x=1`.
    public var target: String
    /// The part of `target` before `?`, not percent-decoded.
    public var path: String
    /// The part of `target` after `?`, if any, not percent-decoded.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Values of `{name}` segments of the matched route pattern.
    public var pathParameters: [String: String]
    /// The peer, as `127.0.0.1:54321`; for logs only.
    public var remoteAddress: String

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [], pathParameters: [String: String] = [:], remoteAddress: String = ""
    ) {
        self.method = method
        self.target = target
        if let question = target.firstIndex(of: "?") {
            path = String(target[..<question])
            query = String(target[target.index(after: question)...])
        } else {
            path = target
            query = nil
        }
        self.version = version
        self.headers = headers
        self.body = body
        self.pathParameters = pathParameters
        self.remoteAddress = remoteAddress
    }
}

public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    /// The server adds `Content-Length`, `Connection` and `Date`; handlers set the rest.
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ status: HTTPStatus, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: body)
    }

    public static func text(_ status: HTTPStatus, _ text: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")]),
            body: Array(text.utf8))
    }
}
