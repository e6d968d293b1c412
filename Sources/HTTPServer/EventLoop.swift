#if canImport(Glibc)
import Glibc
#endif
import Logging

/// What every event loop of one server shares.
final class ServerContext: @unchecked Sendable {
    let configuration: HTTPServer.Configuration
    let responder: any HTTPResponder
    let logger: Logger
    let limits: HTTPParserLimits
    private let countLock = Lock()
    private var openConnections = 0
    private var nextLoopIndex = 0
    /// Set once by `HTTPServer.start()` before any loop thread runs.
    var loops: [EventLoop] = []

    init(configuration: HTTPServer.Configuration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        var limits = HTTPParserLimits()
        limits.maxHeaderBytes = configuration.maxHeaderBytes
        limits.maxHeaderCount = configuration.maxHeaderCount
        limits.maxRequestLineBytes = configuration.maxRequestLineBytes
        self.limits = limits
    }

    /// Reserves a slot for one more connection and names the loop that should own it (round
    /// robin), or returns nil when the cap is reached.
    func acquireConnectionSlot() -> Int? {
        countLock.withLock {
            guard openConnections < configuration.maxConnections else { return nil }
            openConnections += 1
            nextLoopIndex = (nextLoopIndex + 1) % max(1, loops.count)
            return nextLoopIndex
        }
    }

    func releaseConnectionSlot() {
        countLock.withLock { openConnections -= 1 }
    }

    var hasConnectionRoom: Bool {
        countLock.withLock { openConnections < configuration.maxConnections }
    }
}

/// How a request is answered.
enum Reply: Sendable {
    case response(HTTPResponse)
    /// Close the connection with a reset instead of answering.
    case abort
}

/// One request awaiting its answer; `HTTPResponseWriter` holds it.
final class ResponseToken: @unchecked Sendable {
    let loop: EventLoop
    /// Touched only on the loop's thread.
    let connection: Connection
    let serial: UInt64
    /// Guarded by `loop.inboxLock`: a second `send` is ignored.
    var answered = false

    init(loop: EventLoop, connection: Connection, serial: UInt64) {
        self.loop = loop
        self.connection = connection
        self.serial = serial
    }
}

/// One client connection; lives on exactly one event loop and is touched only by its thread.
final class Connection {
    let fd: Int32
    let remoteAddress: String
    let parser: HTTPRequestParser
    var output: [UInt8] = []
    var outputSent = 0
    /// Edge-triggered readiness as last reported by epoll and not yet used up.
    var readable = false
    var writable = true
    var peerClosed = false
    /// epoll reported EPOLLRDHUP: the FIN is queued behind the data, so a short read does not
    /// mean the socket is drained of events (the edge is spent); read on until end of stream.
    var peerHalfClosedReported = false
    var closeAfterFlush = false
    var closed = false
    var awaitingResponse = false
    var serial: UInt64 = 0
    var respondingToHead = false
    var respondingKeepAlive = true
    var respondingVersion = HTTPVersion.http1_1
    var requestsServed = 0
    /// When the first byte of the request now arriving came in; 0 while between requests.
    var requestStartedAt = 0.0
    var lastActivity: Double

    init(fd: Int32, remoteAddress: String, limits: HTTPParserLimits, now: Double) {
        self.fd = fd
        self.remoteAddress = remoteAddress
        parser = HTTPRequestParser(limits: limits)
        lastActivity = now
    }

    var pendingOutput: Int { output.count - outputSent }

    /// Nothing under way: no partial request, no answer awaited, nothing left to write.
    var isIdle: Bool { !awaitingResponse && pendingOutput == 0 && !parser.hasPartialRequest }
}

/// One thread running an epoll loop over its own connections (edge-triggered) and, unless
/// paused, the listening socket (level-triggered, shared with the other loops).
final class EventLoop: @unchecked Sendable {
    private static let wakeID = UInt64.max
    private static let listenerID = UInt64.max - 1
    /// Stop reading from a client whose unwritten output is above this (it does not read).
    private static let outputHighWater = 256 * 1024
    private static let continueBytes = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    let index: Int
    private let context: ServerContext
    private let configuration: HTTPServer.Configuration
    private let responder: any HTTPResponder
    private let logger: Logger
    private let epollFD: Int32
    private let wakeFD: Int32
    private let listenFD: Int32
    private var listenerRegistered = false
    private var listenerRetryAt = 0.0

    /// The loop's thread; written once under `inboxLock` as the loop starts, read under it.
    private var threadID = pthread_t()

    // Loop-thread state.
    private var connections: [Connection?] = []
    private var connectionCount = 0
    private var now = 0.0
    private var dateCache = DateHeaderCache()
    private var dispatchingToken: ResponseToken?
    private var synchronousReply: Reply?
    private var draining = false
    private var drainDeadline = 0.0
    private let tickSeconds: Double

    // Cross-thread state, guarded by `inboxLock`.
    let inboxLock = Lock()
    private var inbox: [(ResponseToken, Reply)] = []
    private var wakePending = false
    private var requestedDrainDeadline: Double?
    /// Connections accepted by another loop and handed to this one.
    private var adoptions: [(fd: Int32, remoteAddress: String)] = []
    private var stopped = false

    init(index: Int, context: ServerContext, listenFD: Int32) throws {
        self.index = index
        self.context = context
        configuration = context.configuration
        responder = context.responder
        logger = context.logger
        self.listenFD = listenFD
        epollFD = Epoll.create()
        guard epollFD >= 0 else { throw HTTPServerError.system("epoll_create1", errno) }
        wakeFD = Epoll.makeEventFD()
        guard wakeFD >= 0 else {
            close(epollFD)
            throw HTTPServerError.system("eventfd", errno)
        }
        // Sweep for timeouts a few times per shortest timeout, at most every 250 ms.
        let shortest = min(configuration.requestTimeoutSeconds, configuration.keepAliveIdleTimeoutSeconds)
        tickSeconds = max(0.01, min(0.25, shortest / 4))
        _ = Epoll.control(epollFD, Epoll.add, wakeFD, events: Epoll.readable, data: Self.wakeID)
    }

    deinit {
        close(wakeFD)
        close(epollFD)
    }

    // MARK: Cross-thread entry points

    /// Called by `HTTPResponseWriter.send` and `abortConnection`, from any thread.
    func deliver(_ token: ResponseToken, _ reply: Reply) {
        inboxLock.lock()
        if token.answered {
            inboxLock.unlock()
            logger.warning(
                "a request was answered twice through its HTTPResponseWriter (send or abortConnection); the second answer is dropped")
            return
        }
        token.answered = true
        if pthread_equal(threadID, pthread_self()) != 0 && dispatchingToken === token {
            inboxLock.unlock()
            synchronousReply = reply
            return
        }
        inbox.append((token, reply))
        let mustWake = !wakePending
        wakePending = true
        inboxLock.unlock()
        if mustWake { Epoll.signal(wakeFD) }
    }

    /// Hands this loop a connection another loop accepted; false once this loop has stopped
    /// (the caller keeps the connection).
    func adopt(fd: Int32, remoteAddress: String) -> Bool {
        inboxLock.lock()
        if stopped {
            inboxLock.unlock()
            return false
        }
        adoptions.append((fd, remoteAddress))
        let mustWake = !wakePending
        wakePending = true
        inboxLock.unlock()
        if mustWake { Epoll.signal(wakeFD) }
        return true
    }

    /// Asks the loop to stop accepting and finish what is in flight by `deadline`.
    func requestDrain(deadline: Double) {
        inboxLock.withLock {
            requestedDrainDeadline = deadline
            wakePending = true
        }
        Epoll.signal(wakeFD)
    }

    // MARK: The loop

    /// True when called on this loop's thread.
    var isCurrentThread: Bool {
        inboxLock.withLock { pthread_equal(threadID, pthread_self()) != 0 }
    }

    func run() {
        inboxLock.withLock { threadID = pthread_self() }
        now = monotonicSeconds()
        registerListener()
        let events = EpollEvents(capacity: 512)
        var nextSweep = now + tickSeconds
        while true {
            var timeoutMilliseconds = Int32(tickSeconds * 1000)
            if draining {
                timeoutMilliseconds = Int32(max(0, min(tickSeconds, drainDeadline - now)) * 1000)
            }
            let count = Epoll.wait(epollFD, into: events, timeoutMilliseconds: timeoutMilliseconds)
            now = monotonicSeconds()
            dateCache.refresh()
            if count < 0 && errno != EINTR {
                logger.error("epoll_wait failed; the event loop stops", metadata: ["errno": "\(errno)"])
                break
            }
            for position in 0..<max(0, Int(count)) {
                let data = events.data(at: position)
                switch data {
                case Self.wakeID: handleWake()
                case Self.listenerID: acceptConnections()
                default:
                    let fd = Int(data)
                    if fd < connections.count, let connection = connections[fd] {
                        handle(connection, events: events.events(at: position))
                    }
                }
            }
            if now >= nextSweep {
                sweepTimeouts()
                resumeListenerIfPossible()
                nextSweep = now + tickSeconds
            }
            if draining && (connectionCount == 0 || now >= drainDeadline) { break }
        }
        for case let connection? in connections { closeConnection(connection) }
        unregisterListener()
        let orphans: [(fd: Int32, remoteAddress: String)] = inboxLock.withLock {
            stopped = true
            defer { adoptions = [] }
            return adoptions
        }
        for orphan in orphans {
            close(orphan.fd)
            context.releaseConnectionSlot()
        }
    }

    private func handleWake() {
        Epoll.drain(wakeFD)
        inboxLock.lock()
        let delivered = inbox
        inbox.removeAll(keepingCapacity: true)
        wakePending = false
        let drainDeadline = requestedDrainDeadline
        requestedDrainDeadline = nil
        let adopted = adoptions
        adoptions.removeAll()
        inboxLock.unlock()
        for (token, reply) in delivered { complete(token, reply) }
        for connection in adopted {
            if draining {
                close(connection.fd)
                context.releaseConnectionSlot()
            } else {
                register(fd: connection.fd, remoteAddress: connection.remoteAddress)
            }
        }
        if let drainDeadline, !draining { beginDrain(deadline: drainDeadline) }
    }

    private func beginDrain(deadline: Double) {
        draining = true
        drainDeadline = deadline
        unregisterListener()
        for case let connection? in connections where connection.isIdle {
            closeConnection(connection)
        }
    }

    // MARK: Accepting

    private func registerListener() {
        guard !listenerRegistered, !draining else { return }
        // EPOLLEXCLUSIVE: one loop wakes per new connection instead of all of them.
        let events = Epoll.readable | Epoll.exclusive
        if Epoll.control(epollFD, Epoll.add, listenFD, events: events, data: Self.listenerID) == 0 {
            listenerRegistered = true
        }
    }

    private func unregisterListener() {
        guard listenerRegistered else { return }
        _ = Epoll.control(epollFD, Epoll.delete, listenFD, events: 0, data: 0)
        listenerRegistered = false
    }

    private func resumeListenerIfPossible() {
        guard !listenerRegistered, !draining, now >= listenerRetryAt, context.hasConnectionRoom else { return }
        registerListener()
        logger.debug("accepting connections again", metadata: ["loop": "\(index)"])
    }

    private func acceptConnections() {
        for _ in 0..<64 {
            guard let owner = context.acquireConnectionSlot() else {
                unregisterListener()
                logger.warning(
                    "open connections reached maxConnections; not accepting until some close",
                    metadata: ["maxConnections": "\(configuration.maxConnections)"])
                return
            }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Epoll.accept(listenFD, $0, &length)
                }
            }
            if fd < 0 {
                let error = errno
                context.releaseConnectionSlot()
                switch error {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: back off briefly rather than spin on a ready listener.
                    logger.warning(
                        "accept failed for lack of resources; pausing accepts for 100 ms (raise the file descriptor limit or lower maxConnections)",
                        metadata: ["errno": "\(error)"])
                    unregisterListener()
                    listenerRetryAt = now + 0.1
                    return
                default:
                    logger.warning("accept failed", metadata: ["errno": "\(error)"])
                    return
                }
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let remoteAddress = Self.describe(&address)
            // The loop woken for the listener accepts a burst of connections at once; spreading
            // them round robin keeps every loop busy (else one loop may own them all).
            let ownerLoop = context.loops.isEmpty ? self : context.loops[owner]
            if ownerLoop !== self && ownerLoop.adopt(fd: fd, remoteAddress: remoteAddress) { continue }
            register(fd: fd, remoteAddress: remoteAddress)
        }
    }

    private func register(fd: Int32, remoteAddress: String) {
        let connection = Connection(fd: fd, remoteAddress: remoteAddress, limits: context.limits, now: now)
        if Int(fd) >= connections.count {
            connections.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - connections.count + 64))
        }
        connections[Int(fd)] = connection
        connectionCount += 1
        let events = Epoll.readable | Epoll.writable | Epoll.peerHalfClosed | Epoll.edgeTriggered
        if Epoll.control(epollFD, Epoll.add, fd, events: events, data: UInt64(fd)) != 0 {
            logger.warning("epoll_ctl ADD failed for a new connection; closing it", metadata: ["errno": "\(errno)"])
            closeConnection(connection)
        }
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func describe(_ address: inout sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                    var ip = inet.pointee.sin_addr
                    inet_ntop(AF_INET, &ip, &text, socklen_t(text.count))
                    return Self.string(text) + ":" + String(UInt16(bigEndian: inet.pointee.sin_port))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { inet in
                    var ip = inet.pointee.sin6_addr
                    inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count))
                    return "[" + Self.string(text) + "]:" + String(UInt16(bigEndian: inet.pointee.sin6_port))
                }
            }
        default:
            return "unknown"
        }
    }

    // MARK: Connections

    private func handle(_ connection: Connection, events: UInt32) {
        if events & (Epoll.error | Epoll.hangUp) != 0 {
            closeConnection(connection)
            return
        }
        if events & (Epoll.readable | Epoll.peerHalfClosed) != 0 { connection.readable = true }
        if events & Epoll.peerHalfClosed != 0 { connection.peerHalfClosedReported = true }
        if events & Epoll.writable != 0 { connection.writable = true }
        service(connection)
    }

    /// Parses and answers what is buffered, reads more while it may, writes what is due.
    private func service(_ connection: Connection) {
        while true {
            let blockedByOutput = parseAndRead(connection)
            guard !connection.closed else { return }
            flush(connection)
            guard !connection.closed else { return }
            // Pipelined requests held back while output was backed up go on once it drained.
            if blockedByOutput && connection.pendingOutput <= Self.outputHighWater { continue }
            break
        }
        if connection.pendingOutput == 0 {
            if connection.closeAfterFlush
                || (connection.peerClosed && !connection.awaitingResponse)
                || (draining && connection.isIdle)
            {
                closeConnection(connection)
            }
        }
    }

    /// Returns true when it stopped because too much output is waiting to be written.
    private func parseAndRead(_ connection: Connection) -> Bool {
        while !connection.closed {
            if connection.awaitingResponse || connection.closeAfterFlush { return false }
            if connection.pendingOutput > Self.outputHighWater { return true }
            let event = connection.parser.next { method, path in
                responder.maximumBodyBytes(method: method, path: path) ?? configuration.maxBodyBytes
            }
            switch event {
            case .request(var request, let keepAlive):
                request.remoteAddress = connection.remoteAddress
                dispatch(request, keepAlive: keepAlive, on: connection)
                continue
            case .expectsContinue:
                connection.output.append(contentsOf: Self.continueBytes)
                continue
            case .failure(let error):
                logger.debug(
                    "refused a request",
                    metadata: ["status": "\(error.status.code)", "reason": "\(error.reason)", "peer": "\(connection.remoteAddress)"])
                connection.respondingToHead = false
                connection.respondingKeepAlive = false
                writeResponse(.text(error.status, error.reason + "\n"), on: connection)
                return false
            case .needMoreData:
                if connection.requestStartedAt == 0 && connection.parser.hasPartialRequest {
                    connection.requestStartedAt = now
                }
            }
            guard connection.readable, !connection.peerClosed else { return false }
            var offered = 0
            let received = connection.parser.receive(minimumSpace: connection.parser.preferredReadSize) { pointer, count in
                offered = count
                return read(connection.fd, pointer, count)
            }
            if received > 0 {
                connection.lastActivity = now
                // A short read drained the socket; epoll reports the next arrival (edge-triggered).
                if received < offered && !connection.peerHalfClosedReported { connection.readable = false }
            } else if received == 0 {
                connection.peerClosed = true
                connection.readable = false
            } else {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: connection.readable = false
                default:
                    closeConnection(connection)
                    return false
                }
            }
        }
        return false
    }

    private func dispatch(_ request: HTTPRequest, keepAlive: Bool, on connection: Connection) {
        connection.serial &+= 1
        connection.awaitingResponse = true
        connection.respondingToHead = request.method == .HEAD
        connection.respondingKeepAlive = keepAlive
        connection.respondingVersion = request.version
        connection.requestStartedAt = 0
        connection.requestsServed += 1
        let token = ResponseToken(loop: self, connection: connection, serial: connection.serial)
        dispatchingToken = token
        responder.respond(to: request, writer: HTTPResponseWriter(token: token))
        dispatchingToken = nil
        if let reply = synchronousReply {
            synchronousReply = nil
            connection.awaitingResponse = false
            switch reply {
            case .response(let response): writeResponse(response, on: connection)
            case .abort:
                resetConnection(connection)
                return
            }
        }
        connection.parser.releaseExcessCapacity()
    }

    /// A response answered from another thread (or later on this one).
    private func complete(_ token: ResponseToken, _ reply: Reply) {
        let connection = token.connection
        guard !connection.closed, connection.awaitingResponse, connection.serial == token.serial else { return }
        connection.awaitingResponse = false
        connection.lastActivity = now
        switch reply {
        case .response(let response):
            writeResponse(response, on: connection)
            service(connection)
        case .abort:
            resetConnection(connection)
        }
    }

    /// Closes with a TCP reset (SO_LINGER 0) rather than a FIN, and drops unsent output: the
    /// peer sees ECONNRESET, as when a server or proxy dies mid-request.
    private func resetConnection(_ connection: Connection) {
        guard !connection.closed else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        connection.output = []
        connection.outputSent = 0
        closeConnection(connection)
    }

    private func writeResponse(_ response: HTTPResponse, on connection: Connection) {
        // A handler asks to end the connection with `Connection: close` (the server writes it).
        let handlerCloses = response.headers.contains(name: "connection")
            && response.headers.values(for: "connection").contains { $0.lowercased().contains("close") }
        let close = !connection.respondingKeepAlive || draining || handlerCloses
        if close { connection.closeAfterFlush = true }
        let code = response.status.code
        let hasBody = code >= 200 && code != 204 && code != 304
        var out = connection.output
        connection.output = []
        // Only when empty: reserving an exact size on every append would copy the whole
        // buffer each time a pipelined response is added (reserveCapacity does not grow geometrically).
        if out.isEmpty { out.reserveCapacity(256 + response.body.count) }
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.appendDecimal(code)
        out.append(ASCII.space)
        out.append(contentsOf: response.status.reason.utf8)
        out.append(contentsOf: "\r\n".utf8)
        var hasDate = false
        for field in response.headers {
            // The server owns the framing headers; a value with CR or LF would split the response.
            if asciiCaseInsensitiveEquals(field.name, "content-length")
                || asciiCaseInsensitiveEquals(field.name, "transfer-encoding")
                || asciiCaseInsensitiveEquals(field.name, "connection")
                || !Self.isSafeHeaderText(field.name) || !Self.isSafeHeaderText(field.value)
            {
                continue
            }
            if asciiCaseInsensitiveEquals(field.name, "date") { hasDate = true }
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        if !hasDate { out.append(contentsOf: dateCache.line) }
        if hasBody {
            out.append(contentsOf: "Content-Length: ".utf8)
            out.appendDecimal(response.body.count)
            out.append(contentsOf: "\r\n".utf8)
        }
        if close {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if connection.respondingVersion == .http1_0 {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        if hasBody && !connection.respondingToHead { out.append(contentsOf: response.body) }
        connection.output = out
    }

    private static func isSafeHeaderText(_ text: String) -> Bool {
        !text.utf8.contains { $0 == ASCII.cr || $0 == ASCII.lf || $0 == 0 }
    }

    private func flush(_ connection: Connection) {
        guard connection.writable else { return }
        while connection.pendingOutput > 0 {
            let sent = connection.output.withUnsafeBytes { buffer in
                send(
                    connection.fd, buffer.baseAddress! + connection.outputSent, connection.pendingOutput,
                    Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                connection.outputSent += sent
                connection.lastActivity = now
                continue
            }
            let error = errno
            if sent < 0 && error == EINTR { continue }
            if sent < 0 && (error == EAGAIN || error == EWOULDBLOCK) {
                connection.writable = false
                return
            }
            closeConnection(connection)
            return
        }
        // Keep a modest buffer for the next responses; give back one grown for a large body.
        if connection.output.capacity > 256 * 1024 {
            connection.output = []
        } else {
            connection.output.removeAll(keepingCapacity: true)
        }
        connection.outputSent = 0
    }

    private func closeConnection(_ connection: Connection) {
        guard !connection.closed else { return }
        connection.closed = true
        close(connection.fd)
        connections[Int(connection.fd)] = nil
        connectionCount -= 1
        context.releaseConnectionSlot()
        if !listenerRegistered { resumeListenerIfPossible() }
    }

    private func sweepTimeouts() {
        let requestTimeout = configuration.requestTimeoutSeconds
        let idleTimeout = configuration.keepAliveIdleTimeoutSeconds
        for case let connection? in connections {
            if connection.awaitingResponse { continue }
            if connection.pendingOutput > 0 {
                // A client that stopped reading: give it as long as a request may take, no more.
                if now - connection.lastActivity > requestTimeout { closeConnection(connection) }
                continue
            }
            if connection.closeAfterFlush { continue }
            if connection.requestStartedAt > 0 {
                if now - connection.requestStartedAt > requestTimeout {
                    logger.debug("request timed out", metadata: ["peer": "\(connection.remoteAddress)"])
                    connection.respondingToHead = false
                    connection.respondingKeepAlive = false
                    writeResponse(
                        .text(
                            .requestTimeout,
                            "the request did not arrive within requestTimeoutSeconds (\(requestTimeout) s); send the head and body without pausing\n"
                        ), on: connection)
                    flush(connection)
                    if !connection.closed && connection.pendingOutput == 0 { closeConnection(connection) }
                }
                continue
            }
            // A fresh connection that never sent a request gets the request timeout, not the
            // (longer) keep-alive allowance.
            let allowance = connection.requestsServed == 0 ? min(requestTimeout, idleTimeout) : idleTimeout
            if now - connection.lastActivity > allowance { closeConnection(connection) }
        }
    }
}
