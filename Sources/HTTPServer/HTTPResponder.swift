/// Hands the answer to a request back to the server, from any thread, exactly once.
///
/// Answering before `respond(to:writer:)` returns is the fast path (no thread hop);
/// answering later (after a disk commit, say) wakes the connection's event loop.
public struct HTTPResponseWriter: Sendable {
    private enum Destination: Sendable {
        /// A request the server is waiting on (no closure allocated per request).
        case server(ResponseToken)
        case closures(send: @Sendable (HTTPResponse) -> Void, abort: @Sendable () -> Void)
    }

    private let destination: Destination

    /// `abort` runs for `abortConnection()`; writers made outside a server (in tests, say) may
    /// leave it out, and then aborting only means the request is never answered.
    public init(_ send: @escaping @Sendable (HTTPResponse) -> Void, abort: @escaping @Sendable () -> Void = {}) {
        destination = .closures(send: send, abort: abort)
    }

    init(token: ResponseToken) {
        destination = .server(token)
    }

    public func send(_ response: HTTPResponse) {
        switch destination {
        case .server(let token): token.loop.deliver(token, .response(response))
        case .closures(let send, _): send(response)
        }
    }

    /// Drops the connection without answering, with a TCP reset: what a client sees when a
    /// server or a proxy on the way crashes or gives up mid-request (for fault injection).
    /// Counts as the answer: a later `send` is ignored, and so is an abort after a `send`.
    /// Responses already written for earlier pipelined requests may be lost with it.
    public func abortConnection() {
        switch destination {
        case .server(let token): token.loop.deliver(token, .abort)
        case .closures(_, let abort): abort()
        }
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
