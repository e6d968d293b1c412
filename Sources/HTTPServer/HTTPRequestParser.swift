#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a request was refused before it reached the responder: the status to answer with and a
/// plain-text reason that names the limit or rule and what the client should do.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    public var reason: String

    public init(status: HTTPStatus, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status.code) \(status.reason): \(reason)" }
}

/// Size limits the parser enforces while bytes arrive, before it has seen a whole request.
public struct HTTPParserLimits: Sendable {
    /// The header fields after the request line, including their line ends (431 beyond).
    public var maxHeaderBytes: Int = 16 * 1024
    /// Header fields per request, and trailer fields per chunked body (431 beyond).
    public var maxHeaderCount: Int = 100
    /// The request line without its CRLF (414 beyond).
    public var maxRequestLineBytes: Int = 8 * 1024
    /// A chunk-size line with its extensions (400 beyond).
    public var maxChunkLineBytes: Int = 4 * 1024

    public init() {}
}

/// What the parser found in the bytes buffered so far.
public enum HTTPParserEvent: Sendable {
    /// The buffered bytes hold no further complete request; feed more.
    case needMoreData
    /// The head of a request carrying `Expect: 100-continue` is parsed, its body is within the
    /// limit and none of it has arrived: the client waits for `100 Continue`.
    case expectsContinue
    /// A complete request; `keepAlive` says whether the connection may carry another.
    case request(HTTPRequest, keepAlive: Bool)
    /// The request is refused; the connection must answer `error.status` and close.
    case failure(HTTPParseError)
}

/// An incremental HTTP/1.1 request parser in the manner of picohttpparser: bytes are appended as
/// they arrive, the head is scanned once for its line ends (never rescanned), and is parsed in
/// place once complete. Only the strings a handler sees (target, header names and values) and
/// the body are copied out.
///
/// Every limit is decided from byte positions, never from how the bytes were split into reads,
/// so a request parses identically however it arrives (the tests and the fuzzer check this).
public final class HTTPRequestParser {
    public let limits: HTTPParserLimits

    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// The first byte not yet consumed.
    private var readerIndex = 0
    /// One past the last byte received.
    private var writerIndex = 0

    // Head scanning state; offsets are relative to `readerIndex` so compaction keeps them valid.
    /// Where the next unscanned line of the head starts.
    private var scanOffset = 0
    /// One past the LF of the request line, or -1 until that line is complete.
    private var requestLineEnd = -1
    private var headerLineCount = 0

    private enum Phase {
        case head
        case fixedBody(length: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailer
        case failed
    }

    private var phase = Phase.head
    private var pendingRequest: HTTPRequest?
    private var pendingKeepAlive = false
    private var bodyLimit = 0
    private var body: [UInt8] = []
    private var trailerBytes = 0
    private var trailerCount = 0
    private var failure: HTTPParseError?

    private static let initialCapacity = 4096
    /// A buffer that grew past this for one large request is given back once it is empty.
    private static let retainedCapacity = 64 * 1024

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
        capacity = Self.initialCapacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        storage.deallocate()
    }

    /// Bytes received and not yet consumed by a complete request.
    public var bufferedByteCount: Int { writerIndex - readerIndex }

    /// True while part of a request has arrived (bytes buffered or a body under way).
    public var hasPartialRequest: Bool {
        if case .head = phase { return readerIndex != writerIndex }
        return true
    }

    /// How many bytes the next read should make room for: the rest of a fixed-length body in
    /// one go, otherwise a modest slice.
    var preferredReadSize: Int {
        if case .fixedBody(let length) = phase {
            return max(Self.initialCapacity, length - bufferedByteCount)
        }
        return Self.initialCapacity
    }

    // MARK: Feeding bytes

    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        reserveTail(bytes.count)
        (storage + writerIndex).update(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        writerIndex += bytes.count
    }

    public func append(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { append($0) }
    }

    /// Lets `body` write up to the offered count of bytes straight into the buffer (a `read`
    /// from the socket) and returns what it returned; a positive result counts as received.
    func receive(minimumSpace: Int, _ body: (UnsafeMutablePointer<UInt8>, Int) -> Int) -> Int {
        reserveTail(minimumSpace)
        let received = body(storage + writerIndex, capacity - writerIndex)
        if received > 0 { writerIndex += received }
        return received
    }

    /// Gives back a buffer that grew for one large request, once nothing is buffered.
    func releaseExcessCapacity() {
        guard readerIndex == writerIndex, capacity > Self.retainedCapacity else { return }
        storage.deallocate()
        capacity = Self.initialCapacity
        storage = .allocate(capacity: capacity)
        readerIndex = 0
        writerIndex = 0
    }

    private func reserveTail(_ needed: Int) {
        if capacity - writerIndex >= needed { return }
        if readerIndex > 0 {
            let live = writerIndex - readerIndex
            if live > 0 { (storage).update(from: storage + readerIndex, count: live) }
            readerIndex = 0
            writerIndex = live
            if capacity - writerIndex >= needed { return }
        }
        var newCapacity = capacity * 2
        while newCapacity - writerIndex < needed { newCapacity *= 2 }
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: storage, count: writerIndex)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    // MARK: Parsing

    /// Parses as far as the buffered bytes allow. `maximumBodyBytes` is asked once per request,
    /// with its method and path, as soon as the head is parsed: a body over it fails with 413
    /// before any of it is read.
    public func next(maximumBodyBytes: (HTTPMethod, String) -> Int) -> HTTPParserEvent {
        switch phase {
        case .failed:
            return .failure(failure ?? HTTPParseError(status: .badRequest, reason: "the request was refused"))
        case .head:
            return parseHead(maximumBodyBytes)
        case .fixedBody(let length):
            return finishFixedBody(length: length)
        case .chunkSize, .chunkData, .chunkDataEnd, .trailer:
            return parseChunked()
        }
    }

    private func fail(_ status: HTTPStatus, _ reason: String) -> HTTPParserEvent {
        let error = HTTPParseError(status: status, reason: reason)
        phase = .failed
        failure = error
        pendingRequest = nil
        body = []
        return .failure(error)
    }

    private func parseHead(_ maximumBodyBytes: (HTTPMethod, String) -> Int) -> HTTPParserEvent {
        if requestLineEnd < 0 {
            // RFC 9112 §2.2: ignore empty lines before the request line (some clients send a
            // CRLF after a POST body).
            while writerIndex - readerIndex >= 1, storage[readerIndex] == ASCII.cr {
                if writerIndex - readerIndex < 2 { return .needMoreData }
                guard storage[readerIndex + 1] == ASCII.lf else { break }
                readerIndex += 2
                scanOffset = 0
            }
        }
        while true {
            let lineStart = readerIndex + scanOffset
            let available = writerIndex - lineStart
            guard available > 0, let found = memchr(storage + lineStart, Int32(ASCII.lf), available) else {
                // The line is still open; it will be at least `available - 1` bytes long.
                if requestLineEnd < 0 {
                    if available - 1 > limits.maxRequestLineBytes { return failRequestLineTooLong() }
                } else if writerIndex - (readerIndex + requestLineEnd) + 1 > limits.maxHeaderBytes {
                    return failHeaderBytes()
                }
                return .needMoreData
            }
            let lfIndex = storage.distance(to: found.assumingMemoryBound(to: UInt8.self))
            guard lfIndex > lineStart, storage[lfIndex - 1] == ASCII.cr else {
                return fail(.badRequest, "a line of the request head ends in a bare LF; end every line with CRLF")
            }
            let lineLength = lfIndex - 1 - lineStart
            scanOffset = lfIndex + 1 - readerIndex
            if requestLineEnd < 0 {
                if lineLength > limits.maxRequestLineBytes { return failRequestLineTooLong() }
                requestLineEnd = scanOffset
                continue
            }
            if scanOffset - requestLineEnd > limits.maxHeaderBytes { return failHeaderBytes() }
            if lineLength == 0 { return parseCompleteHead(maximumBodyBytes) }
            headerLineCount += 1
            if headerLineCount > limits.maxHeaderCount {
                return fail(
                    .requestHeaderFieldsTooLarge,
                    "the request has more than \(limits.maxHeaderCount) header fields, the limit; send fewer headers")
            }
        }
    }

    private func failRequestLineTooLong() -> HTTPParserEvent {
        fail(
            .uriTooLong,
            "the request line is longer than \(limits.maxRequestLineBytes) bytes, the limit; use a shorter target (move data into the body)"
        )
    }

    private func failHeaderBytes() -> HTTPParserEvent {
        fail(
            .requestHeaderFieldsTooLarge,
            "the request header fields exceed \(limits.maxHeaderBytes) bytes, the limit; send fewer or smaller headers")
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func parseCompleteHead(_ maximumBodyBytes: (HTTPMethod, String) -> Int) -> HTTPParserEvent {
        let head = storage + readerIndex
        let headLength = scanOffset
        let lineEnd = requestLineEnd - 2

        // Request line: method SP request-target SP HTTP-version, single spaces, nothing else.
        var index = 0
        while index < lineEnd, ASCII.isTokenCharacter(head[index]) { index += 1 }
        let methodEnd = index
        guard methodEnd > 0, index < lineEnd, head[index] == ASCII.space else {
            return fail(.badRequest, "the request line is malformed; send `METHOD /path HTTP/1.1`")
        }
        index += 1
        let targetStart = index
        while index < lineEnd, head[index] > ASCII.space, head[index] < 0x7F { index += 1 }
        let targetEnd = index
        guard targetEnd > targetStart, index < lineEnd, head[index] == ASCII.space else {
            return fail(
                .badRequest,
                "the request line is malformed (the target is empty or holds a space, control or non-ASCII byte); percent-encode the target")
        }
        index += 1
        let versionStart = index
        guard lineEnd - versionStart == 8,
            head[versionStart] == UInt8(ascii: "H"), head[versionStart + 1] == UInt8(ascii: "T"),
            head[versionStart + 2] == UInt8(ascii: "T"), head[versionStart + 3] == UInt8(ascii: "P"),
            head[versionStart + 4] == UInt8(ascii: "/"), ASCII.isDigit(head[versionStart + 5]),
            head[versionStart + 6] == UInt8(ascii: "."), ASCII.isDigit(head[versionStart + 7])
        else {
            return fail(.badRequest, "the request line has no valid HTTP version; end it with `HTTP/1.1`")
        }
        let version: HTTPVersion
        switch (head[versionStart + 5], head[versionStart + 7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): version = .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): version = .http1_0
        default:
            return fail(.httpVersionNotSupported, "this server speaks HTTP/1.1 and HTTP/1.0 only; send HTTP/1.1")
        }
        guard let method = ASCII.method(head + 0, count: methodEnd) else {
            return fail(.notImplemented, "the request method is not supported; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS")
        }
        let firstTargetByte = head[targetStart]
        let isAsterisk = targetEnd - targetStart == 1 && firstTargetByte == UInt8(ascii: "*")
        guard firstTargetByte == UInt8(ascii: "/") || (isAsterisk && method == .OPTIONS)
            || ASCII.hasHTTPScheme(head + targetStart, count: targetEnd - targetStart)
        else {
            return fail(.badRequest, "the request target must be a path starting with `/` (or an absolute http URL)")
        }
        let target = ASCII.string(head + targetStart, count: targetEnd - targetStart)

        // Header fields.
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(headerLineCount)
        var contentLength: Int?
        var transferEncodingSeen = false
        var chunkedCount = 0
        var finalCodingIsChunked = false
        var otherCodingSeen = false
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false
        var hostCount = 0

        var lineStart = requestLineEnd
        while lineStart < headLength - 2 {
            let found = memchr(head + lineStart, Int32(ASCII.lf), headLength - lineStart)!
            let lfIndex = head.distance(to: found.assumingMemoryBound(to: UInt8.self))
            let fieldEnd = lfIndex - 1
            let field: FieldLine
            switch Self.splitField(head, start: lineStart, end: fieldEnd) {
            case .success(let value): field = value
            case .failure(let error): return fail(error.status, error.reason)
            }
            lineStart = lfIndex + 1

            let nameBase = head + field.nameStart
            let nameLength = field.nameEnd - field.nameStart
            let valueBase = head + field.valueStart
            let valueLength = field.valueEnd - field.valueStart
            switch nameLength {
            case 4 where ASCII.equalsLowercase(nameBase, nameLength, "host"):
                hostCount += 1
            case 6 where ASCII.equalsLowercase(nameBase, nameLength, "expect"):
                guard ASCII.equalsLowercase(valueBase, valueLength, "100-continue") else {
                    return fail(.expectationFailed, "the only expectation understood is `Expect: 100-continue`; remove the Expect header")
                }
                expectContinue = true
            case 10 where ASCII.equalsLowercase(nameBase, nameLength, "connection"):
                ASCII.forEachListElement(valueBase, valueLength) { base, count in
                    if ASCII.equalsLowercase(base, count, "close") { connectionClose = true }
                    if ASCII.equalsLowercase(base, count, "keep-alive") { connectionKeepAlive = true }
                }
            case 14 where ASCII.equalsLowercase(nameBase, nameLength, "content-length"):
                var invalid = false
                var conflicting = false
                ASCII.forEachListElement(valueBase, valueLength, includingEmpty: true) { base, count in
                    guard let length = ASCII.decimal(base, count: count) else {
                        invalid = true
                        return
                    }
                    if let known = contentLength, known != length { conflicting = true }
                    contentLength = length
                }
                if invalid {
                    return fail(.badRequest, "Content-Length must be a decimal number of bytes; send one valid Content-Length")
                }
                if conflicting {
                    return fail(.badRequest, "the request carries differing Content-Length values; send exactly one")
                }
            case 17 where ASCII.equalsLowercase(nameBase, nameLength, "transfer-encoding"):
                transferEncodingSeen = true
                ASCII.forEachListElement(valueBase, valueLength) { base, count in
                    if ASCII.equalsLowercase(base, count, "chunked") {
                        chunkedCount += 1
                        finalCodingIsChunked = true
                    } else {
                        otherCodingSeen = true
                        finalCodingIsChunked = false
                    }
                }
            default:
                break
            }
            fields.append((name: ASCII.string(nameBase, count: nameLength), value: ASCII.string(valueBase, count: valueLength)))
        }

        // Framing rules that keep this server and any proxy in front of it agreeing on where a
        // request ends (RFC 9112 §6.1, §6.3): anything ambiguous is refused, never guessed.
        var chunked = false
        if transferEncodingSeen {
            if contentLength != nil {
                return fail(.badRequest, "the request carries both Content-Length and Transfer-Encoding; send only one")
            }
            if version == .http1_0 {
                return fail(.badRequest, "Transfer-Encoding is not allowed in HTTP/1.0 requests; send Content-Length")
            }
            guard finalCodingIsChunked, chunkedCount == 1 else {
                return fail(.badRequest, "the final Transfer-Encoding must be `chunked`, applied once; send `Transfer-Encoding: chunked`")
            }
            if otherCodingSeen {
                return fail(.notImplemented, "only the `chunked` transfer coding is supported; use Content-Encoding for compression")
            }
            chunked = true
        }
        if version == .http1_1 && hostCount != 1 {
            return fail(.badRequest, "an HTTP/1.1 request needs exactly one Host header; send one")
        }

        let keepAlive = connectionClose ? false : (version == .http1_1 || connectionKeepAlive)
        let request = HTTPRequest(method: method, target: target, version: version, headers: HTTPHeaders(parsedFields: fields))
        readerIndex += headLength
        scanOffset = 0
        requestLineEnd = -1
        headerLineCount = 0

        let limit = maximumBodyBytes(method, request.path)
        let waitsForContinue = expectContinue && version == .http1_1 && readerIndex == writerIndex
        if chunked {
            pendingRequest = request
            pendingKeepAlive = keepAlive
            bodyLimit = limit
            body = []
            phase = .chunkSize
            let event = parseChunked()
            if case .needMoreData = event, waitsForContinue { return .expectsContinue }
            return event
        }
        let length = contentLength ?? 0
        if length > limit {
            return fail(
                .payloadTooLarge,
                "the request body of \(length) bytes exceeds the limit of \(limit) bytes for \(method.rawValue) \(request.path); send a smaller body or split it"
            )
        }
        pendingRequest = request
        pendingKeepAlive = keepAlive
        let event = finishFixedBody(length: length)
        if case .needMoreData = event, waitsForContinue { return .expectsContinue }
        return event
    }

    private func finishFixedBody(length: Int) -> HTTPParserEvent {
        guard writerIndex - readerIndex >= length else {
            phase = .fixedBody(length: length)
            return .needMoreData
        }
        body = length == 0 ? [] : Self.copy(storage + readerIndex, count: length)
        readerIndex += length
        return completeRequest()
    }

    /// One memcpy: `Array(UnsafeBufferPointer(...))` copies element by element (about two
    /// instructions a byte, per callgrind), which for a 16 KB body is 35,000 instructions.
    private static func copy(_ start: UnsafePointer<UInt8>, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.initialize(from: start, count: count)
            initialized = count
        }
    }

    private func completeRequest() -> HTTPParserEvent {
        guard var request = pendingRequest else {
            return fail(.internalServerError, "the parser lost its request; report this as a bug")
        }
        request.body = body
        body = []
        pendingRequest = nil
        phase = .head
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
        }
        return .request(request, keepAlive: pendingKeepAlive)
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func parseChunked() -> HTTPParserEvent {
        while true {
            let available = writerIndex - readerIndex
            let start = storage + readerIndex
            switch phase {
            case .chunkSize:
                let searchLength = min(available, limits.maxChunkLineBytes + 2)
                guard searchLength > 0, let found = memchr(start, Int32(ASCII.lf), searchLength) else {
                    if available - 1 > limits.maxChunkLineBytes {
                        return fail(.badRequest, "a chunk-size line is longer than \(limits.maxChunkLineBytes) bytes; send shorter chunk extensions")
                    }
                    return .needMoreData
                }
                let lfOffset = start.distance(to: found.assumingMemoryBound(to: UInt8.self))
                guard lfOffset > 0, start[lfOffset - 1] == ASCII.cr else {
                    return fail(.badRequest, "a chunk-size line ends in a bare LF; end it with CRLF")
                }
                let lineEnd = lfOffset - 1
                var index = 0
                var size = 0
                while index < lineEnd, let digit = ASCII.hexValue(start[index]) {
                    if index >= 15 {
                        return fail(.badRequest, "a chunk size has more than 15 hex digits and would overflow; send smaller chunks")
                    }
                    size = size << 4 | digit
                    index += 1
                }
                guard index > 0 else {
                    return fail(.badRequest, "a chunk size is not a hexadecimal number; send `<hex size>CRLF<data>CRLF`")
                }
                while index < lineEnd, start[index] == ASCII.space || start[index] == ASCII.tab { index += 1 }
                if index < lineEnd {
                    guard start[index] == UInt8(ascii: ";") else {
                        return fail(.badRequest, "a chunk size is followed by something other than an extension; send `<hex size>[;ext]CRLF`")
                    }
                    while index < lineEnd {
                        guard ASCII.isFieldValueByte(start[index]) else {
                            return fail(.badRequest, "a chunk extension holds a control character; remove it")
                        }
                        index += 1
                    }
                }
                readerIndex += lfOffset + 1
                if size == 0 {
                    trailerBytes = 0
                    trailerCount = 0
                    phase = .trailer
                } else {
                    if size > bodyLimit - body.count {
                        let method = pendingRequest?.method.rawValue ?? ""
                        let path = pendingRequest?.path ?? ""
                        return fail(
                            .payloadTooLarge,
                            "the chunked request body exceeds the limit of \(bodyLimit) bytes for \(method) \(path); send a smaller body or split it"
                        )
                    }
                    phase = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let count = min(available, remaining)
                guard count > 0 else { return .needMoreData }
                body.append(contentsOf: UnsafeBufferPointer(start: start, count: count))
                readerIndex += count
                phase = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            case .chunkDataEnd:
                if available >= 1, start[0] != ASCII.cr || (available >= 2 && start[1] != ASCII.lf) {
                    return fail(.badRequest, "chunk data is not followed by CRLF; the chunk size does not match its data")
                }
                guard available >= 2 else { return .needMoreData }
                readerIndex += 2
                phase = .chunkSize
            case .trailer:
                guard available > 0, let found = memchr(start, Int32(ASCII.lf), available) else {
                    if trailerBytes + available + 1 > limits.maxHeaderBytes {
                        return fail(
                            .requestHeaderFieldsTooLarge,
                            "the chunked body's trailer fields exceed \(limits.maxHeaderBytes) bytes, the limit; send fewer trailers")
                    }
                    return .needMoreData
                }
                let lfOffset = start.distance(to: found.assumingMemoryBound(to: UInt8.self))
                guard lfOffset > 0, start[lfOffset - 1] == ASCII.cr else {
                    return fail(.badRequest, "a trailer line ends in a bare LF; end it with CRLF")
                }
                trailerBytes += lfOffset + 1
                if trailerBytes > limits.maxHeaderBytes {
                    return fail(
                        .requestHeaderFieldsTooLarge,
                        "the chunked body's trailer fields exceed \(limits.maxHeaderBytes) bytes, the limit; send fewer trailers")
                }
                if lfOffset == 1 {
                    readerIndex += 2
                    return completeRequest()
                }
                trailerCount += 1
                if trailerCount > limits.maxHeaderCount {
                    return fail(
                        .requestHeaderFieldsTooLarge,
                        "the chunked body has more than \(limits.maxHeaderCount) trailer fields, the limit; send fewer trailers")
                }
                // Trailers are validated like header fields, then dropped: handlers see the head's fields only.
                if case .failure(let error) = Self.splitField(start, start: 0, end: lfOffset - 1) {
                    return fail(error.status, error.reason)
                }
                readerIndex += lfOffset + 1
            case .head, .fixedBody, .failed:
                return .needMoreData
            }
        }
    }

    private struct FieldLine {
        var nameStart: Int
        var nameEnd: Int
        var valueStart: Int
        var valueEnd: Int
    }

    /// Splits `name: value` in `[start, end)` (the line without CRLF), trimming the value's
    /// optional whitespace and refusing anything a lenient peer might read differently.
    private static func splitField(
        _ base: UnsafeMutablePointer<UInt8>, start: Int, end: Int
    ) -> Result<FieldLine, HTTPParseError> {
        if base[start] == ASCII.space || base[start] == ASCII.tab {
            return .failure(HTTPParseError(
                status: .badRequest,
                reason: "a header line starts with whitespace (obsolete line folding); put each field on one line"))
        }
        var index = start
        while index < end, ASCII.isTokenCharacter(base[index]) { index += 1 }
        guard index > start, index < end, base[index] == UInt8(ascii: ":") else {
            return .failure(HTTPParseError(
                status: .badRequest,
                reason: "a header field name is empty, holds an invalid character, or is followed by space before the colon; send `Name: value`"
            ))
        }
        let nameEnd = index
        index += 1
        while index < end, base[index] == ASCII.space || base[index] == ASCII.tab { index += 1 }
        let valueStart = index
        var valueEnd = end
        while valueEnd > valueStart, base[valueEnd - 1] == ASCII.space || base[valueEnd - 1] == ASCII.tab { valueEnd -= 1 }
        for position in valueStart..<valueEnd where !ASCII.isFieldValueByte(base[position]) {
            return .failure(HTTPParseError(
                status: .badRequest,
                reason: "a header value holds a control character (such as a bare CR); remove it"))
        }
        return .success(FieldLine(nameStart: start, nameEnd: nameEnd, valueStart: valueStart, valueEnd: valueEnd))
    }
}

/// Byte classes and small conversions for the parser and the response writer.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09

    /// RFC 9110 `tchar`.
    private static let tokenTable: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = true }
        for byte in "!#$%&'*+-.^_`|~".utf8 { table[Int(byte)] = true }
        return table
    }()

    @inline(__always)
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        tokenTable.withUnsafeBufferPointer { $0[Int(byte)] }
    }

    /// HTAB, SP, VCHAR and obs-text: what a field value (or chunk extension) may hold.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= space && byte != 0x7F)
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x46: return Int(byte - 0x41 + 10)
        case 0x61...0x66: return Int(byte - 0x61 + 10)
        default: return nil
        }
    }

    static func string(_ base: UnsafeMutablePointer<UInt8>, count: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }

    /// Compares bytes with a lowercase ASCII literal, ignoring the case of letters.
    static func equalsLowercase(_ base: UnsafeMutablePointer<UInt8>, _ count: Int, _ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for index in 0..<count {
            var byte = base[index]
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// Calls `body` with each comma-separated element, trimmed of optional whitespace.
    static func forEachListElement(
        _ base: UnsafeMutablePointer<UInt8>, _ count: Int, includingEmpty: Bool = false,
        _ body: (UnsafeMutablePointer<UInt8>, Int) -> Void
    ) {
        var start = 0
        while start <= count {
            var end = start
            while end < count, base[end] != UInt8(ascii: ",") { end += 1 }
            var elementStart = start
            var elementEnd = end
            while elementStart < elementEnd, base[elementStart] == space || base[elementStart] == tab { elementStart += 1 }
            while elementEnd > elementStart, base[elementEnd - 1] == space || base[elementEnd - 1] == tab { elementEnd -= 1 }
            if elementEnd > elementStart || includingEmpty {
                body(base + elementStart, elementEnd - elementStart)
            }
            start = end + 1
        }
    }

    /// A non-negative decimal of at most 18 digits (so it cannot overflow), nothing else.
    static func decimal(_ base: UnsafeMutablePointer<UInt8>, count: Int) -> Int? {
        guard count > 0, count <= 18 else { return nil }
        var value = 0
        for index in 0..<count {
            let byte = base[index]
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    static func hasHTTPScheme(_ base: UnsafeMutablePointer<UInt8>, count: Int) -> Bool {
        equalsLowercasePrefix(base, count, "http://") || equalsLowercasePrefix(base, count, "https://")
    }

    private static func equalsLowercasePrefix(_ base: UnsafeMutablePointer<UInt8>, _ count: Int, _ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        return count > length && equalsLowercase(base, length, literal)
    }

    /// Methods are case-sensitive (RFC 9110 §9.1): `get` is not GET.
    static func method(_ base: UnsafeMutablePointer<UInt8>, count: Int) -> HTTPMethod? {
        func matches(_ literal: StaticString) -> Bool {
            guard count == literal.utf8CodeUnitCount else { return false }
            return memcmp(base, literal.utf8Start, count) == 0
        }
        switch count {
        case 3:
            if matches("GET") { return .GET }
            if matches("PUT") { return .PUT }
        case 4:
            if matches("POST") { return .POST }
            if matches("HEAD") { return .HEAD }
        case 5:
            if matches("PATCH") { return .PATCH }
            if matches("TRACE") { return .TRACE }
        case 6:
            if matches("DELETE") { return .DELETE }
        case 7:
            if matches("OPTIONS") { return .OPTIONS }
            if matches("CONNECT") { return .CONNECT }
        default:
            break
        }
        return nil
    }
}
