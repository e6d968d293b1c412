import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What bounds one blocking step: the request's deadline, and a descriptor that becomes
/// readable when someone wants the step abandoned (shutdown, the caller's cancellation).
struct IOContext {
    let deadline: Deadline
    /// The read end of a pipe owned by the worker thread doing the I/O.
    let wakeDescriptor: Int32
    /// Read after a wake-up: whether to give up with `.cancelled`.
    let isInterrupted: () -> Bool
}

/// One TCP connection (plain or TLS) to Adobe Target, used by one worker thread at a time.
/// The socket is non-blocking; every wait is a `poll(2)` bounded by the request deadline.
final class HTTPConnection {
    let descriptor: Int32
    private var ssl: OpaquePointer?
    /// Exchanges completed on this connection; above 0 it is a reused keep-alive connection.
    var completedExchanges = 0

    /// Bytes received and not yet parsed are `buffer[bufferStart...]`.
    var buffer: [UInt8] = []
    var bufferStart = 0
    /// Bytes received since the current exchange began (to tell "no answer at all" apart).
    var bytesReceivedThisExchange = 0
    private static let readChunk = 16 * 1024
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: HTTPConnection.readChunk, alignment: 8)

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close()
        scratch.deallocate()
    }

    private var isClosed = false

    func close() {
        guard !isClosed else { return }
        isClosed = true
        if let ssl {
            // One non-blocking attempt at close_notify; the peer does not need it.
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            SSL_free(ssl)
            self.ssl = nil
        }
        _ = systemClose(descriptor)
    }

    // MARK: Opening

    /// Resolves the host, connects to its addresses in turn (IPv6 and IPv4, as the resolver
    /// orders them) and, for `https`, completes the TLS handshake with certificate and host
    /// name verification.
    static func open(to origin: HTTPOrigin, tls: TLSClientContext?, _ io: IOContext) throws(HTTPClientFailure)
        -> HTTPConnection
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        // getaddrinfo cannot be bounded by the deadline; it runs on the worker thread, never a
        // cooperative one, and connections are opened rarely (they are kept alive).
        let status = getaddrinfo(origin.host, String(origin.port), &hints, &list)
        guard status == 0, let list else {
            throw .resolutionFailed(detail: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }

        var lastFailure = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = list
        while let address = candidate {
            candidate = address.pointee.ai_next
            let descriptor = socket(
                address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                    | Int32(SOCK_CLOEXEC.rawValue), address.pointee.ai_protocol)
            guard descriptor >= 0 else {
                lastFailure = "socket: \(errorText(errno))"
                continue
            }
            let connection = HTTPConnection(descriptor: descriptor)
            do {
                try connection.connect(to: address.pointee.ai_addr, length: address.pointee.ai_addrlen, io)
            } catch .connectFailed(let detail) {
                connection.close()
                lastFailure = detail
                continue
            } catch {
                connection.close()
                throw error
            }
            var enabled: Int32 = 1
            _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &enabled, socklen_t(MemoryLayout<Int32>.size))
            if let tls {
                do {
                    try connection.handshake(origin: origin, context: tls, io)
                } catch {
                    connection.close()
                    throw error
                }
            }
            return connection
        }
        throw .connectFailed(detail: lastFailure)
    }

    private func connect(to address: UnsafeMutablePointer<sockaddr>?, length: socklen_t, _ io: IOContext)
        throws(HTTPClientFailure)
    {
        if systemConnect(descriptor, address, length) == 0 { return }
        guard errno == EINPROGRESS || errno == EINTR else { throw .connectFailed(detail: errorText(errno)) }
        try wait(for: Int16(POLLOUT), io)
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &size) == 0 else {
            throw .connectFailed(detail: errorText(errno))
        }
        guard error == 0 else { throw .connectFailed(detail: errorText(error)) }
    }

    private func handshake(origin: HTTPOrigin, context: TLSClientContext, _ io: IOContext) throws(HTTPClientFailure) {
        guard let ssl = SSL_new(context.context) else {
            throw .tlsFailed(detail: "OpenSSL could not set up the connection (\(TLSClientContext.lastError()))")
        }
        // Owned from here on, so that `close()` frees it whatever fails next.
        self.ssl = ssl
        guard let bio = copenssl_socket_bio_new(TLSClientContext.socketMethod, descriptor) else {
            throw .tlsFailed(detail: "OpenSSL could not set up the connection (\(TLSClientContext.lastError()))")
        }
        SSL_set_bio(ssl, bio, bio)
        if origin.hostIsIPAddress {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), origin.host) == 1 else {
                throw .tlsFailed(detail: "'\(origin.host)' is not an IP address OpenSSL can check certificates against")
            }
        } else {
            guard copenssl_set_server_name(ssl, origin.host) == 1, SSL_set1_host(ssl, origin.host) == 1 else {
                throw .tlsFailed(detail: "OpenSSL refused the host name '\(origin.host)' for SNI and verification")
            }
        }
        SSL_set_connect_state(ssl)
        while true {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 { return }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ: try wait(for: Int16(POLLIN), io)
            case SSL_ERROR_WANT_WRITE: try wait(for: Int16(POLLOUT), io)
            default:
                let verification = SSL_get_verify_result(ssl)
                if verification != X509_V_OK {
                    let text = String(cString: X509_verify_cert_error_string(verification))
                    throw .tlsFailed(
                        detail: "the server's certificate was refused (\(text)); check that adobeTarget.baseURL names "
                            + "the host the certificate is for and that the trust store (ca-certificates, or the "
                            + "configured CA file) holds its issuer")
                }
                if error == SSL_ERROR_SYSCALL {
                    let code = errno
                    ERR_clear_error()
                    throw .tlsFailed(
                        detail: code == 0
                            ? "the server closed the connection during the handshake"
                            : "the handshake failed: \(errorText(code))")
                }
                throw .tlsFailed(detail: "the handshake failed (\(TLSClientContext.lastError()))")
            }
        }
    }

    // MARK: I/O

    /// Blocks until the socket is ready for `events`, the deadline passes (`.timedOut`), or
    /// the wake descriptor fires and the exchange is interrupted (`.cancelled`).
    func wait(for events: Int16, _ io: IOContext) throws(HTTPClientFailure) {
        while true {
            var descriptors = (
                pollfd(fd: descriptor, events: events, revents: 0),
                pollfd(fd: io.wakeDescriptor, events: Int16(POLLIN), revents: 0)
            )
            let timeout = io.deadline.remainingMilliseconds
            let ready = withUnsafeMutablePointer(to: &descriptors) { pair in
                pair.withMemoryRebound(to: pollfd.self, capacity: 2) { poll($0, 2, timeout) }
            }
            if ready < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(detail: "poll: \(errorText(errno))", answerStarted: bytesReceivedThisExchange > 0)
            }
            if ready == 0 { throw .timedOut }
            if descriptors.1.revents != 0 {
                var drained = [UInt8](repeating: 0, count: 64)
                _ = read(io.wakeDescriptor, &drained, drained.count)
                if io.isInterrupted() { throw .cancelled }
            }
            // POLLERR and POLLHUP count as ready: the next send or receive reports them.
            if descriptors.0.revents != 0 { return }
        }
    }

    /// Writes all of `bytes`.
    func send(_ bytes: [UInt8], _ io: IOContext) throws(HTTPClientFailure) {
        var offset = 0
        while offset < bytes.count {
            let written: Int
            if let ssl {
                ERR_clear_error()
                let result = bytes.withUnsafeBytes { raw in
                    SSL_write(ssl, raw.baseAddress! + offset, Int32(min(raw.count - offset, Int(Int32.max))))
                }
                if result > 0 {
                    written = Int(result)
                } else {
                    switch SSL_get_error(ssl, result) {
                    case SSL_ERROR_WANT_READ: try wait(for: Int16(POLLIN), io); continue
                    case SSL_ERROR_WANT_WRITE: try wait(for: Int16(POLLOUT), io); continue
                    case SSL_ERROR_SYSCALL:
                        throw .connectionLost(detail: errorText(errno == 0 ? EPIPE : errno), answerStarted: false)
                    default:
                        throw .connectionLost(detail: "TLS: \(TLSClientContext.lastError())", answerStarted: false)
                    }
                }
            } else {
                let result = bytes.withUnsafeBytes { raw in
                    systemSend(descriptor, raw.baseAddress! + offset, raw.count - offset)
                }
                if result >= 0 {
                    written = result
                } else {
                    let code = errno
                    if code == EAGAIN || code == EWOULDBLOCK {
                        try wait(for: Int16(POLLOUT), io)
                        continue
                    }
                    if code == EINTR { continue }
                    throw .connectionLost(detail: errorText(code), answerStarted: false)
                }
            }
            offset += written
        }
    }

    /// Appends what arrives next to `buffer`; returns how many bytes, 0 at the end of the stream.
    @discardableResult
    func receive(_ io: IOContext) throws(HTTPClientFailure) -> Int {
        while true {
            let count: Int
            if let ssl {
                ERR_clear_error()
                // SSL_ERROR_SYSCALL with errno 0 means the peer closed: a stale errno must not
                // turn that into a lost connection.
                errno = 0
                let result = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
                if result > 0 {
                    count = Int(result)
                } else {
                    switch SSL_get_error(ssl, result) {
                    case SSL_ERROR_WANT_READ: try wait(for: Int16(POLLIN), io); continue
                    case SSL_ERROR_WANT_WRITE: try wait(for: Int16(POLLOUT), io); continue
                    case SSL_ERROR_ZERO_RETURN: return 0
                    case SSL_ERROR_SYSCALL:
                        let code = errno
                        if code == 0 { return 0 }
                        throw .connectionLost(detail: errorText(code), answerStarted: bytesReceivedThisExchange > 0)
                    default:
                        throw .connectionLost(
                            detail: "TLS: \(TLSClientContext.lastError())", answerStarted: bytesReceivedThisExchange > 0)
                    }
                }
            } else {
                // Poll first: right after a request the answer is rarely there yet, and a
                // recv that fails with EAGAIN would be a wasted system call.
                try wait(for: Int16(POLLIN), io)
                let result = recv(descriptor, scratch.baseAddress, scratch.count, 0)
                if result < 0 {
                    let code = errno
                    if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { continue }
                    throw .connectionLost(detail: errorText(code), answerStarted: bytesReceivedThisExchange > 0)
                }
                count = result
            }
            if count > 0 {
                if bufferStart == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    bufferStart = 0
                } else if bufferStart > 64 * 1024 {
                    buffer.removeFirst(bufferStart)
                    bufferStart = 0
                }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                bytesReceivedThisExchange += count
            }
            return count
        }
    }

    /// Whether an idle keep-alive connection can no longer carry a request: the server closed
    /// it (or, against the protocol, sent bytes nobody asked for).
    func isUnusableWhileIdle() -> Bool {
        guard bufferStart == buffer.count else { return true }
        var descriptor = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return false }
        guard let ssl else { return true }
        // TLS 1.3 servers send session tickets after the handshake: records that make the
        // socket readable without carrying data. Read them and see what is left.
        ERR_clear_error()
        let result = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
        if result > 0 { return true }
        return SSL_get_error(ssl, result) != SSL_ERROR_WANT_READ
    }
}

func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

private func systemClose(_ descriptor: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(descriptor)
    #else
    Darwin.close(descriptor)
    #endif
}

private func systemSend(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    // MSG_NOSIGNAL: a peer that closed must be an error here, not a SIGPIPE that ends the process.
    #if canImport(Glibc)
    Glibc.send(descriptor, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    Darwin.send(descriptor, bytes, count, 0)
    #endif
}

private func systemConnect(_ descriptor: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> Int32 {
    #if canImport(Glibc)
    Glibc.connect(descriptor, address, length)
    #else
    Darwin.connect(descriptor, address, length)
    #endif
}
