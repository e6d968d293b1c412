/// An answer as the client keeps it: the status, `Retry-After`, the start of the body.
struct HTTPAnswer: Sendable, Hashable {
    var status: Int
    var retryAfter: String?
    /// At most `HTTPAnswerLimits.keptBodyBytes` bytes; the rest was read and discarded.
    var body: [UInt8]
    /// Whether the connection may carry another request.
    var keepsConnection: Bool
}

/// What the client accepts from a server it does not trust to behave.
struct HTTPAnswerLimits: Sendable, Hashable {
    /// Status line and headers together (and the trailers of a chunked body).
    var headBytes = 16 * 1024
    /// One chunk-size line of a chunked body.
    var chunkLineBytes = 1024
    /// Body bytes kept for the answer; Adobe's error bodies are short JSON.
    var keptBodyBytes = AdobeAnswer.maximumBodyCharacters * 4
    /// Body bytes read (and discarded) past the kept part to keep the connection usable;
    /// a longer body closes the connection instead.
    var drainedBodyBytes = 1024 * 1024
    /// Interim (1xx) answers skipped before the final one.
    var interimAnswers = 8
}

private enum BodyFraming {
    case none
    case length(Int)
    case chunked
    case untilClose
}

private struct AnswerHead {
    var status = 0
    var minorVersion = 1
    var contentLength: Int?
    var transferCodings: [String] = []
    var connectionTokens: [String] = []
    var retryAfter: String?
}

extension HTTPConnection {
    /// Sends one request and reads its answer.
    func exchange(_ request: [UInt8], limits: HTTPAnswerLimits, _ io: IOContext) throws(HTTPClientFailure)
        -> HTTPAnswer
    {
        bytesReceivedThisExchange = 0
        try send(request, io)
        var interim = 0
        var head = try readHead(limits: limits, io)
        // 100 Continue (never asked for: the body is empty) and 103 Early Hints precede the
        // real answer; 101 would switch protocols, which this client never requests.
        while head.status < 200 {
            guard head.status != 101 else {
                throw .malformedAnswer(detail: "it switched protocols (101) although the request did not ask to")
            }
            interim += 1
            guard interim <= limits.interimAnswers else {
                throw .malformedAnswer(detail: "more than \(limits.interimAnswers) interim (1xx) answers")
            }
            head = try readHead(limits: limits, io)
        }

        var keepsConnection =
            !head.connectionTokens.contains("close")
            && (head.minorVersion >= 1 || head.connectionTokens.contains("keep-alive"))
        let framing: BodyFraming
        if head.status == 204 || head.status == 304 {
            framing = .none
        } else if let last = head.transferCodings.last {
            // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, and a response whose
            // final coding is not chunked is delimited by the close. A message with both
            // headers may be a smuggling attempt: never reuse its connection.
            framing = last == "chunked" ? .chunked : .untilClose
            if head.contentLength != nil || last != "chunked" { keepsConnection = false }
        } else if let length = head.contentLength {
            framing = .length(length)
        } else {
            framing = .untilClose
        }

        var body: [UInt8] = []
        var bodyIsComplete = true
        switch framing {
        case .none:
            break
        case .length(let length):
            bodyIsComplete = try readBody(count: length, into: &body, limits: limits, io)
        case .chunked:
            bodyIsComplete = try readChunkedBody(into: &body, limits: limits, io)
        case .untilClose:
            keepsConnection = false
            bodyIsComplete = try readBodyUntilClose(into: &body, limits: limits, io)
        }
        // Bytes past the answer were never asked for (HTTP/1.1 has no server push): the
        // connection's framing can no longer be trusted.
        if !bodyIsComplete || bufferStart != buffer.count { keepsConnection = false }
        completedExchanges += 1
        return HTTPAnswer(status: head.status, retryAfter: head.retryAfter, body: body, keepsConnection: keepsConnection)
    }

    // MARK: Head

    private func readHead(limits: HTTPAnswerLimits, _ io: IOContext) throws(HTTPClientFailure) -> AnswerHead {
        // Offsets from `bufferStart`: `receive` may compact the buffer and move it.
        var scanned = 0
        while true {
            if let (end, next) = findHeadEnd(from: bufferStart + scanned) {
                guard end - bufferStart <= limits.headBytes else {
                    throw .malformedAnswer(detail: "its status line and headers are over \(limits.headBytes) bytes")
                }
                let head = try parseHead(buffer[bufferStart..<end])
                bufferStart = next
                return head
            }
            guard buffer.count - bufferStart <= limits.headBytes else {
                throw .malformedAnswer(detail: "its status line and headers are over \(limits.headBytes) bytes")
            }
            scanned = max(0, buffer.count - bufferStart - 2)
            if try receive(io) == 0 {
                if bytesReceivedThisExchange == 0 {
                    throw .connectionLost(detail: "the server closed the connection", answerStarted: false)
                }
                throw .malformedAnswer(detail: "the server closed the connection in the middle of the headers")
            }
        }
    }

    /// The end of the head (where its last line ends) and the first body byte, if the blank
    /// line has arrived. Bare LF line ends are accepted, as RFC 9112 §2.2 allows.
    private func findHeadEnd(from start: Int) -> (end: Int, next: Int)? {
        var index = start
        let count = buffer.count
        while index < count {
            if buffer[index] == UInt8(ascii: "\n") {
                if index + 1 < count, buffer[index + 1] == UInt8(ascii: "\n") { return (index, index + 2) }
                if index + 2 < count, buffer[index + 1] == UInt8(ascii: "\r"), buffer[index + 2] == UInt8(ascii: "\n") {
                    return (index, index + 3)
                }
            }
            index += 1
        }
        return nil
    }

    private func parseHead(_ bytes: ArraySlice<UInt8>) throws(HTTPClientFailure) -> AnswerHead {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        // A stray CRLF before the status line is tolerated (RFC 9112 §2.2).
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        guard let statusLine = lines.first else { throw .malformedAnswer(detail: "an empty status line") }
        var head = AnswerHead()
        // HTTP/1.x SP 3DIGIT [SP reason]
        let status = Array(statusLine)
        guard status.count >= 12, status[0..<7].elementsEqual("HTTP/1.".utf8),
            let minor = digit(status[7]), status[8] == UInt8(ascii: " "),
            let hundreds = digit(status[9]), let tens = digit(status[10]), let units = digit(status[11]),
            status.count == 12 || status[12] == UInt8(ascii: " ")
        else {
            throw .malformedAnswer(detail: "the status line '\(printable(statusLine))' is not HTTP/1.x")
        }
        head.minorVersion = minor
        head.status = hundreds * 100 + tens * 10 + units
        guard (100...599).contains(head.status) else {
            throw .malformedAnswer(detail: "status \(head.status) is outside 100-599")
        }

        for line in lines.dropFirst() {
            guard let first = line.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else {
                throw .malformedAnswer(detail: "a header line folded onto the previous one (obsolete line folding)")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                !line[..<colon].contains(where: { $0 <= 32 || $0 >= 127 })
            else {
                throw .malformedAnswer(detail: "the header line '\(printable(line))' has no valid name")
            }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let value = trimmed(line[line.index(after: colon)...])
            switch name {
            case "content-length":
                // "5, 5" (a list of the same length) is allowed; anything else is not.
                var length: Int?
                for item in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    let digits = trimmed(item)
                    guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ digit($0) != nil }) else {
                        throw .malformedAnswer(detail: "Content-Length '\(printable(value))' is not a byte count")
                    }
                    let number = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
                    guard length == nil || length == number else {
                        throw .malformedAnswer(detail: "conflicting Content-Length values")
                    }
                    length = number
                }
                guard head.contentLength == nil || head.contentLength == length else {
                    throw .malformedAnswer(detail: "conflicting Content-Length values")
                }
                head.contentLength = length
            case "transfer-encoding":
                head.transferCodings += tokens(value)
            case "connection":
                head.connectionTokens += tokens(value)
            case "retry-after":
                head.retryAfter = String(decoding: value, as: UTF8.self)
            default:
                continue
            }
        }
        return head
    }

    // MARK: Body

    /// Reads `count` body bytes, keeping the first ones. `false` when the body is too long
    /// to drain: what was kept is returned and the connection must close.
    private func readBody(count: Int, into body: inout [UInt8], limits: HTTPAnswerLimits, _ io: IOContext)
        throws(HTTPClientFailure) -> Bool
    {
        var remaining = count
        while remaining > 0 {
            if bufferStart == buffer.count {
                if body.count >= limits.keptBodyBytes, count - limits.keptBodyBytes > limits.drainedBodyBytes {
                    return false
                }
                if try receive(io) == 0 {
                    throw .malformedAnswer(
                        detail: "the server closed the connection after \(count - remaining) of \(count) body bytes")
                }
            }
            let take = min(remaining, buffer.count - bufferStart)
            keep(buffer[bufferStart..<bufferStart + take], in: &body, limits: limits)
            bufferStart += take
            remaining -= take
        }
        return true
    }

    private func readBodyUntilClose(into body: inout [UInt8], limits: HTTPAnswerLimits, _ io: IOContext)
        throws(HTTPClientFailure) -> Bool
    {
        var total = 0
        while true {
            let available = buffer.count - bufferStart
            keep(buffer[bufferStart...], in: &body, limits: limits)
            bufferStart = buffer.count
            total += available
            if total > limits.keptBodyBytes + limits.drainedBodyBytes { return false }
            if try receive(io) == 0 { return true }
        }
    }

    private func readChunkedBody(into body: inout [UInt8], limits: HTTPAnswerLimits, _ io: IOContext)
        throws(HTTPClientFailure) -> Bool
    {
        var total = 0
        while true {
            let line = try readLine(limit: limits.chunkLineBytes, what: "a chunk size line", io)
            // chunk-size [; extensions]: the extensions mean nothing to this client.
            let sizeText = trimmed(line.prefix { $0 != UInt8(ascii: ";") })
            guard !sizeText.isEmpty, sizeText.count <= 15 else {
                throw .malformedAnswer(detail: "the chunk size '\(printable(line))' is not a hexadecimal byte count")
            }
            var size = 0
            for byte in sizeText {
                guard let value = hexDigit(byte) else {
                    throw .malformedAnswer(detail: "the chunk size '\(printable(line))' is not a hexadecimal byte count")
                }
                size = size * 16 + value
            }
            if size == 0 { break }
            total += size
            if total > limits.keptBodyBytes + limits.drainedBodyBytes {
                // Keep what fits and give the connection up rather than read a huge body.
                _ = try readBody(count: min(size, max(0, limits.keptBodyBytes - body.count)), into: &body, limits: limits, io)
                return false
            }
            guard try readBody(count: size, into: &body, limits: limits, io) else { return false }
            let end = try readLine(limit: limits.chunkLineBytes, what: "the line end after a chunk", io)
            guard end.isEmpty else { throw .malformedAnswer(detail: "a chunk is longer than its size says") }
        }
        // Trailer fields, then the blank line: read and ignored.
        var trailerBytes = 0
        while true {
            let line = try readLine(limit: limits.headBytes, what: "the trailer", io)
            if line.isEmpty { return true }
            trailerBytes += line.count
            guard trailerBytes <= limits.headBytes else {
                throw .malformedAnswer(detail: "its trailer fields are over \(limits.headBytes) bytes")
            }
        }
    }

    /// The next line without its CRLF (or LF).
    private func readLine(limit: Int, what: String, _ io: IOContext) throws(HTTPClientFailure) -> [UInt8] {
        var scanned = 0
        while true {
            if let newline = buffer[(bufferStart + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[bufferStart..<newline])
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                guard line.count <= limit else {
                    throw .malformedAnswer(detail: "\(what) is over \(limit) bytes or malformed")
                }
                bufferStart = newline + 1
                return line
            }
            // The 2 covers the CRLF of an otherwise empty line.
            guard buffer.count - bufferStart <= limit + 2 else {
                throw .malformedAnswer(detail: "\(what) is over \(limit) bytes or malformed")
            }
            scanned = buffer.count - bufferStart
            if try receive(io) == 0 {
                throw .malformedAnswer(detail: "the server closed the connection in the middle of a chunked body")
            }
        }
    }

    private func keep(_ bytes: ArraySlice<UInt8>, in body: inout [UInt8], limits: HTTPAnswerLimits) {
        let room = limits.keptBodyBytes - body.count
        if room > 0 { body.append(contentsOf: bytes.prefix(room)) }
    }
}

private func digit(_ byte: UInt8) -> Int? {
    byte >= 48 && byte <= 57 ? Int(byte - 48) : nil
}

private func hexDigit(_ byte: UInt8) -> Int? {
    switch byte {
    case 48...57: return Int(byte - 48)
    case 65...70: return Int(byte - 55)
    case 97...102: return Int(byte - 87)
    default: return nil
    }
}

private func trimmed<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ArraySlice<UInt8> {
    var slice = ArraySlice(bytes)
    while let first = slice.first, first == 32 || first == 9 { slice.removeFirst() }
    while let last = slice.last, last == 32 || last == 9 { slice.removeLast() }
    return slice
}

/// Comma-separated tokens, lowercased (`Connection`, `Transfer-Encoding`).
private func tokens(_ value: ArraySlice<UInt8>) -> [String] {
    value.split(separator: UInt8(ascii: ",")).map { String(decoding: trimmed($0), as: UTF8.self).lowercased() }
        .filter { !$0.isEmpty }
}

/// Server text quoted in an error: printable ASCII only and at most 80 bytes, so that a
/// hostile answer cannot forge log lines.
private func printable<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
    let shown = bytes.prefix(80).map { $0 >= 32 && $0 < 127 ? $0 : UInt8(ascii: "?") }
    return String(decoding: shown, as: UTF8.self) + (bytes.count > 80 ? "…" : "")
}
