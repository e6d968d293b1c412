#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Why the server could not start.
public enum HTTPServerError: Error, CustomStringConvertible, Sendable {
    case system(String, Int32)
    case invalidHost(String)
    case bindFailed(host: String, port: Int, errno: Int32)
    case alreadyStarted

    public var description: String {
        switch self {
        case .system(let call, let code):
            return "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .invalidHost(let host):
            return "the host `\(host)` is not a numeric IPv4 or IPv6 address; use e.g. 0.0.0.0 or 127.0.0.1"
        case .bindFailed(let host, let port, let code):
            return "cannot listen on \(host):\(port): \(String(cString: strerror(code))); choose another port or stop the process using it"
        case .alreadyStarted:
            return "the server was already started; create a new HTTPServer to start again"
        }
    }
}

/// An HTTP/1.1 server on non-blocking POSIX sockets with one epoll loop per thread.
///
/// All loops share one listening socket (registered with `EPOLLEXCLUSIVE`, so a new connection
/// wakes one loop); each connection then stays on the loop that accepted it. Handlers run on
/// that loop's thread and answer through `HTTPResponseWriter`, from any thread.
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

    private enum State {
        case idle
        case running
        case stopping
        case stopped
    }

    public let configuration: Configuration
    private let context: ServerContext
    private let logger: Logger
    private let stateLock = Lock()
    private var state = State.idle
    private var loops: [EventLoop] = []
    private var runningLoops = 0
    private var listenFD: Int32 = -1
    private var boundPort = 0

    public init(configuration: Configuration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        context = ServerContext(configuration: configuration, responder: responder, logger: logger)
    }

    deinit {
        if listenFD >= 0 { close(listenFD) }
    }

    /// Binds, listens and starts the event loops; returns once the socket accepts.
    public func start() throws {
        try stateLock.withLock {
            guard state == .idle else { throw HTTPServerError.alreadyStarted }
            let fd = try Self.makeListener(configuration)
            var createdLoops: [EventLoop] = []
            do {
                let count = configuration.eventLoopCount > 0
                    ? configuration.eventLoopCount : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
                for index in 0..<count {
                    createdLoops.append(try EventLoop(index: index, context: context, listenFD: fd))
                }
            } catch {
                close(fd)
                throw error
            }
            listenFD = fd
            boundPort = Self.localPort(fd) ?? configuration.port
            loops = createdLoops
            context.loops = createdLoops
            runningLoops = createdLoops.count
            state = .running
        }
        for loop in loops {
            startThread { [self] in
                loop.run()
                loopFinished()
            }
        }
        logger.info(
            "HTTP server listening",
            metadata: ["host": "\(configuration.host)", "port": "\(boundPort)", "eventLoops": "\(loops.count)"])
    }

    /// The bound port (useful with port 0).
    public var port: Int {
        stateLock.withLock { state == .idle ? configuration.port : boundPort }
    }

    /// Stops accepting, lets requests in flight finish for up to `gracePeriodSeconds`,
    /// then closes every connection. Idle keep-alive connections close at once; a connection
    /// with a request under way gets its response (with `Connection: close`) and then closes.
    /// Returns once every loop has stopped, within the grace period; when called from a
    /// handler (an event-loop thread) it returns at once and the loops stop on their own.
    public func shutdown(gracePeriodSeconds: Double = 10) {
        let loopsToStop: [EventLoop] = stateLock.withLock {
            guard state == .running else { return [] }
            state = .stopping
            return loops
        }
        if !loopsToStop.isEmpty {
            logger.info("HTTP server shutting down", metadata: ["gracePeriodSeconds": "\(gracePeriodSeconds)"])
            let deadline = monotonicSeconds() + max(0, gracePeriodSeconds)
            for loop in loopsToStop { loop.requestDrain(deadline: deadline) }
        }
        let onLoopThread = stateLock.withLock { loops }.contains { $0.isCurrentThread }
        if !onLoopThread { waitUntilStopped() }
    }

    /// Blocks until the server has stopped (at once if it never started).
    public func waitUntilStopped() {
        stateLock.lock()
        while state == .running || state == .stopping { stateLock.wait() }
        stateLock.unlock()
    }

    private func loopFinished() {
        stateLock.withLock {
            runningLoops -= 1
            if runningLoops == 0 {
                if listenFD >= 0 {
                    close(listenFD)
                    listenFD = -1
                }
                state = .stopped
                stateLock.broadcast()
            }
        }
        if stateLock.withLock({ state == .stopped }) { logger.info("HTTP server stopped") }
    }

    // MARK: Sockets

    private static func makeListener(_ configuration: Configuration) throws -> Int32 {
        let isIPv6 = configuration.host.contains(":")
        let fd = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError.system("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        if isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(truncatingIfNeeded: configuration.port).bigEndian
            guard inet_pton(AF_INET6, configuration.host, &address.sin6_addr) == 1 else {
                close(fd)
                throw HTTPServerError.invalidHost(configuration.host)
            }
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(truncatingIfNeeded: configuration.port).bigEndian
            guard inet_pton(AF_INET, configuration.host, &address.sin_addr) == 1 else {
                close(fd)
                throw HTTPServerError.invalidHost(configuration.host)
            }
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw HTTPServerError.bindFailed(host: configuration.host, port: configuration.port, errno: code)
        }
        guard listen(fd, configuration.listenBacklog) == 0 else {
            let code = errno
            close(fd)
            throw HTTPServerError.bindFailed(host: configuration.host, port: configuration.port, errno: code)
        }
        return fd
    }

    private static func localPort(_ fd: Int32) -> Int? {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }
}

/// Runs `body` on a new detached pthread.
private func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(result == 0, "pthread_create failed (errno \(result)); the server cannot run its event loops")
    pthread_detach(thread)
}
