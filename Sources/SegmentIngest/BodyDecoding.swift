import CZlib

/// The `Content-Encoding` of a request body, as far as ingest accepts it.
public enum BodyContentEncoding: Sendable, Hashable {
    case identity
    case gzip

    /// Reads the header (absent means identity). A list such as `gzip, identity` is allowed;
    /// anything but identity and gzip/x-gzip, or gzip applied twice, is refused with 415.
    public init(header: String?) throws(IngestFailure) {
        guard let header else {
            self = .identity
            return
        }
        var gzipCount = 0
        for token in header.split(separator: ",") {
            let coding = token.trimmingASCIIWhitespace().lowercased()
            switch coding {
            case "", "identity": continue
            case "gzip", "x-gzip": gzipCount += 1
            default:
                throw .unsupportedMediaType(
                    "Content-Encoding '\(String(coding.prefix(64)))' is not supported; send the body uncompressed (identity) or gzip-compressed"
                )
            }
        }
        guard gzipCount <= 1 else {
            throw .unsupportedMediaType(
                "Content-Encoding applies gzip \(gzipCount) times; compress the body with gzip once")
        }
        self = gzipCount == 1 ? .gzip : .identity
    }
}

/// Inflates gzip bodies without ever holding more than the route's limit in memory, so a
/// "gzip bomb" (megabytes of zeros in a few kilobytes) costs at most `limit + 1` bytes.
public enum GzipInflater {
    /// Inflates a gzip stream (one or more concatenated members, as `cat a.gz b.gz` makes).
    /// - Throws: 413 when the inflated size passes `limit`; 400 for truncated or corrupt input.
    public static func inflate(_ compressed: [UInt8], limit: Int) throws(IngestFailure) -> [UInt8] {
        precondition(limit >= 0, "limit must not be negative")
        guard !compressed.isEmpty else {
            throw .badRequest(
                "the body is empty but Content-Encoding says gzip; send a complete gzip stream or drop the header")
        }
        var stream = z_stream()
        // windowBits 16 + MAX_WBITS: a gzip wrapper (not zlib, not raw deflate).
        let initStatus = inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw IngestFailure(
                status: .internalServerError, message: "zlib could not start inflating (code \(initStatus)); retry later")
        }
        defer { inflateEnd(&stream) }

        // One byte more than the limit lets "exactly at the limit" and "over it" be told apart.
        let capacity = limit + 1
        var output = [UInt8](repeating: 0, count: min(capacity, max(4096, compressed.count * 4)))
        var produced = 0
        var consumed = 0

        while true {
            if produced == output.count {
                guard output.count < capacity else { break }
                output.append(contentsOf: repeatElement(0, count: min(capacity, output.count * 2) - output.count))
            }
            let (status, usedIn, madeOut, zlibMessage) = compressed.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + consumed)
                    stream.avail_in = UInt32(clamping: input.count - consumed)
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = UInt32(clamping: out.count - produced)
                    let beforeIn = stream.avail_in
                    let beforeOut = stream.avail_out
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let message = stream.msg.map { String(cString: $0) }
                    return (status, Int(beforeIn - stream.avail_in), Int(beforeOut - stream.avail_out), message)
                }
            }
            consumed += usedIn
            produced += madeOut
            if produced > limit { break }

            switch status {
            case Z_STREAM_END:
                guard consumed < compressed.count else {
                    return Array(output.prefix(produced))
                }
                // Another gzip member may follow; anything else is junk after the stream.
                guard compressed.count - consumed >= 2, compressed[consumed] == 0x1F, compressed[consumed + 1] == 0x8B
                else {
                    throw .badRequest(
                        "the gzip body has \(compressed.count - consumed) unexpected bytes after its end (at compressed byte \(consumed)); send exactly one gzip stream"
                    )
                }
                inflateReset(&stream)
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                if consumed >= compressed.count {
                    throw .badRequest(
                        "the gzip body is truncated: it ends after \(compressed.count) bytes before the gzip stream is complete; send the whole compressed body"
                    )
                }
                // No progress with input left: fine when the output buffer is full (it grows on
                // the next turn), a stuck stream otherwise.
                if produced == output.count { continue }
                throw .badRequest(
                    "the gzip body could not be inflated past compressed byte \(consumed); send a valid gzip stream or an uncompressed body")
            case Z_DATA_ERROR, Z_NEED_DICT:
                throw .badRequest(
                    "the gzip body is corrupt near compressed byte \(consumed) (\(zlibMessage ?? "invalid data")); send a valid gzip stream or an uncompressed body"
                )
            case Z_MEM_ERROR:
                throw IngestFailure(
                    status: .serviceUnavailable, message: "out of memory while inflating the gzip body; retry later",
                    retryAfterSeconds: 5)
            default:
                throw .badRequest(
                    "the gzip body could not be inflated (zlib code \(status)); send a valid gzip stream or an uncompressed body")
            }
        }
        throw .payloadTooLarge(
            "the body inflates to more than \(limit) bytes, the limit of this route; send smaller batches")
    }
}

/// Turns the body as received into the bytes the JSON parser reads, enforcing the route's size
/// limit on the decoded size.
public enum RequestBodyDecoder {
    public static func decode(_ body: [UInt8], contentEncoding: String?, limit: Int) throws(IngestFailure) -> [UInt8] {
        switch try BodyContentEncoding(header: contentEncoding) {
        case .identity:
            guard body.count <= limit else {
                throw .payloadTooLarge(
                    "the body is \(body.count) bytes, over this route's limit of \(limit) bytes; send smaller batches")
            }
            return body
        case .gzip:
            return try GzipInflater.inflate(body, limit: limit)
        }
    }
}

extension StringProtocol {
    func trimmingASCIIWhitespace() -> Substring {
        let text = Substring(self)
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = text.firstIndex(where: { !isSpace($0) }) else { return text[text.endIndex...] }
        let end = text.lastIndex(where: { !isSpace($0) })!
        return text[start...end]
    }
}
