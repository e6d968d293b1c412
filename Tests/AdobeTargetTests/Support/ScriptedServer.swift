import COpenSSL
import Foundation

@testable import AdobeTarget
#if canImport(Glibc)
import Glibc
#endif

/// A loopback server whose every connection runs a script: the misbehaving Adobe Target the
/// HTTP client must survive (split writes, early closes, bad framing, TLS).
final class ScriptedServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var accepted = 0
    private var open = 0
    private var mostOpen = 0
    private var clients: [Int32] = []
    private var stopped = false
    private let tls: OpaquePointer?

    /// Connections accepted so far.
    var connectionsAccepted: Int { lock.withLock { accepted } }
    /// The most connections open at the same time.
    var mostConcurrentConnections: Int { lock.withLock { mostOpen } }

    /// - Parameters:
    ///   - ipv6: listen on `::1` instead of `127.0.0.1`.
    ///   - tls: an `SSL_CTX` for a TLS server (handshake before the script runs).
    ///   - script: runs on its own thread for each accepted connection, which closes after.
    init(ipv6: Bool = false, tls: OpaquePointer? = nil, script: @escaping @Sendable (ScriptedConnection) -> Void) throws {
        self.tls = tls
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ScriptedServerError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_addr = in6addr_loopback
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ScriptedServerError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let rawPort = withUnsafePointer(to: &storage) { pointer -> UInt16 in
            ipv6
                ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        port = UInt16(bigEndian: rawPort)
        listener = fd
        let listener = self.listener
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                lock.withLock {
                    accepted += 1
                    open += 1
                    mostOpen = max(mostOpen, open)
                    clients.append(client)
                }
                Thread.detachNewThread { [self] in
                    let connection = ScriptedConnection(descriptor: client, tls: self.tls)
                    if connection.handshake() { script(connection) }
                    connection.close()
                    lock.withLock {
                        open -= 1
                        clients.removeAll { $0 == client }
                    }
                }
            }
        }
    }

    /// Stops accepting and cuts every open connection.
    func stop() {
        guard lock.withLock({ () -> Bool in
            defer { stopped = true }
            return !stopped
        }) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for client in lock.withLock({ clients }) { shutdown(client, Int32(SHUT_RDWR)) }
    }

    deinit { stop() }
}

struct ScriptedServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The server side of one connection (blocking I/O; tests bound it with the client's timeouts).
final class ScriptedConnection: @unchecked Sendable {
    let descriptor: Int32
    private var ssl: OpaquePointer?
    private var pending: [UInt8] = []
    private var isClosed = false

    init(descriptor: Int32, tls: OpaquePointer?) {
        self.descriptor = descriptor
        if let tls {
            ssl = SSL_new(tls)
            // The client's MSG_NOSIGNAL socket BIO: OpenSSL's own would raise SIGPIPE (and end
            // the test process) when a client that refused the certificate has gone.
            let bio = copenssl_socket_bio_new(TLSClientContext.socketMethod, descriptor)
            SSL_set_bio(ssl, bio, bio)
        }
    }

    /// `false` when the TLS handshake failed (the client refused the certificate).
    func handshake() -> Bool {
        guard let ssl else { return true }
        while true {
            let result = SSL_accept(ssl)
            if result == 1 { return true }
            guard Self.isInterruption(ssl, result) else { return false }
        }
    }

    /// A signal interrupted the blocking system call (the test process gets SIGCHLD from the
    /// crash tests' children): the socket BIO then asks for a retry, which is not a close.
    private static func isInterruption(_ ssl: OpaquePointer, _ result: Int32) -> Bool {
        let code = SSL_get_error(ssl, result)
        return code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE
    }

    /// The next request's head (up to the blank line), `nil` when the client closed.
    func readRequest() -> String? {
        while true {
            if let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                pending.removeSubrange(..<end.upperBound)
                return head
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count: Int
            if let ssl {
                let result = SSL_read(ssl, &chunk, Int32(chunk.count))
                if result <= 0 && Self.isInterruption(ssl, result) { continue }
                count = Int(result)
            } else {
                count = recv(descriptor, &chunk, chunk.count, 0)
                if count < 0 && errno == EINTR { continue }
            }
            guard count > 0 else { return nil }
            pending.append(contentsOf: chunk[..<count])
        }
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        var start = 0
        while start < bytes.count {
            let written: Int = bytes[start...].withUnsafeBytes { rest in
                if let ssl {
                    let result = SSL_write(ssl, rest.baseAddress, Int32(rest.count))
                    if result > 0 { return Int(result) }
                    return Self.isInterruption(ssl, result) ? 0 : -1
                }
                let result = send(descriptor, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
                return result < 0 && errno == EINTR ? 0 : result
            }
            // The client has gone: the script's next read sees it.
            guard written >= 0 else { return }
            start += written
        }
    }

    /// Writes `text` a few bytes at a time with pauses, so that the client sees split reads.
    func writeSlowly(_ text: String, piece: Int = 3) {
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            write(Array(bytes[start..<min(start + piece, bytes.count)]))
            start += piece
            usleep(300)
        }
    }

    /// Closes with a TCP reset instead of an orderly FIN.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        if let ssl {
            SSL_free(ssl)
            self.ssl = nil
        }
        Glibc.close(descriptor)
    }
}
