import Logging

/// An HTTP/1.1 server on non-blocking POSIX sockets with one epoll loop per thread.
///
/// PLACEHOLDER API: the server-core work implements it.
public final class HTTPServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host: String = "0.0.0.0"
        /// 0 picks a free port; read it back from `HTTPServer.port` after `start()`.
        public var port: Int = 8080
        /// Event-loop threads; one per core by default.
        public var eventLoopCount: Int = 0
        /// Default cap on a request body when the responder names none.
        public var maxBodyBytes: Int = 4 * 1024 * 1024
        public var maxHeaderBytes: Int = 16 * 1024
        public var maxHeaderCount: Int = 100
        public var maxRequestLineBytes: Int = 8 * 1024
        /// A request's head and body must arrive within this, else 408.
        public var requestTimeoutSeconds: Double = 10
        /// An idle keep-alive connection is closed after this.
        public var keepAliveIdleTimeoutSeconds: Double = 60
        /// Above this many open connections the server stops accepting.
        public var maxConnections: Int = 10_000
        public var listenBacklog: Int32 = 1024

        public init() {}
    }

    public let configuration: Configuration

    public init(configuration: Configuration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
    }

    /// Binds, listens and starts the event loops; returns once the socket accepts.
    public func start() throws {
        fatalError("HTTPServer.start is not implemented yet")
    }

    /// The bound port (useful with port 0).
    public var port: Int { configuration.port }

    /// Stops accepting, lets requests in flight finish for up to `gracePeriodSeconds`,
    /// then closes every connection.
    public func shutdown(gracePeriodSeconds: Double = 10) {}

    /// Blocks until the server has stopped.
    public func waitUntilStopped() {}
}
