/// Hands the answer to a request back to the server, from any thread, exactly once.
///
/// Answering before `respond(to:writer:)` returns is the fast path (no thread hop);
/// answering later (after a disk commit, say) wakes the connection's event loop.
public struct HTTPResponseWriter: Sendable {
    private let sendResponse: @Sendable (HTTPResponse) -> Void

    public init(_ send: @escaping @Sendable (HTTPResponse) -> Void) {
        sendResponse = send
    }

    public func send(_ response: HTTPResponse) {
        sendResponse(response)
    }
}

/// What the server calls for each complete request.
public protocol HTTPResponder: Sendable {
    /// Called on an event-loop thread; must not block. Answer through `writer`.
    func respond(to request: HTTPRequest, writer: HTTPResponseWriter)

    /// The largest body this request may carry, decided from its head alone so that an
    /// oversized upload is refused with 413 before its bytes are read.
    /// `nil` means the server's configured default.
    func maximumBodyBytes(method: HTTPMethod, path: String) -> Int?
}

extension HTTPResponder {
    public func maximumBodyBytes(method: HTTPMethod, path: String) -> Int? { nil }
}
