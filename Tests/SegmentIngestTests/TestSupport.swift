import Testing
import CZlib
import HTTPServer
import JSONKit
@testable import SegmentIngest

/// Runs `body` and returns the `IngestFailure` it threw, or `nil` when it did not throw.
func failure<T>(_ body: () throws -> T) -> IngestFailure? {
    do {
        _ = try body()
        return nil
    } catch let error as IngestFailure {
        return error
    } catch {
        Issue.record("expected an IngestFailure, got \(error)")
        return nil
    }
}

/// gzip-compresses with zlib's deflate (independent of the inflater under test).
func gzip(_ bytes: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) -> [UInt8] {
    var stream = z_stream()
    let initStatus = deflateInit2_(
        &stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
        Int32(MemoryLayout<z_stream>.size))
    precondition(initStatus == Z_OK)
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
    var input = bytes
    let written = input.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = UInt32(outBuffer.count)
            let status = deflate(&stream, Z_FINISH)
            precondition(status == Z_STREAM_END, "deflate failed: \(status)")
            return outBuffer.count - Int(stream.avail_out)
        }
    }
    return Array(output.prefix(written))
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func json(_ bytes: [UInt8]) throws -> JSONValue { try JSONValue(parsing: bytes) }

func headers(_ pairs: (String, String)...) -> HTTPHeaders { HTTPHeaders(pairs) }

func basicAuthorization(user: String, password: String? = "") -> String {
    let credentials = password.map { "\(user):\($0)" } ?? user
    return "Basic " + base64(Array(credentials.utf8))
}

private func base64(_ input: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var output = ""
    var index = 0
    while index < input.count {
        let chunk = Array(input[index..<min(index + 3, input.count)])
        let value = (UInt32(chunk[0]) << 16) | (UInt32(chunk.count > 1 ? chunk[1] : 0) << 8)
            | UInt32(chunk.count > 2 ? chunk[2] : 0)
        output.append(alphabet[Int(value >> 18 & 63)])
        output.append(alphabet[Int(value >> 12 & 63)])
        output.append(chunk.count > 1 ? alphabet[Int(value >> 6 & 63)] : "=")
        output.append(chunk.count > 2 ? alphabet[Int(value & 63)] : "=")
        index += 3
    }
    return output
}
