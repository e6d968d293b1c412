import COpenSSL

/// The few libcrypto primitives ingest needs, over byte arrays.
public enum SegmentCrypto {
    static let sha1DigestLength = 20
    static let sha256DigestLength = 32

    static func hmacSHA1(key: [UInt8], message: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // Empty buffers may have a nil base address; libcrypto wants valid pointers regardless.
        let placeholder: UInt8 = 0
        let produced = withUnsafePointer(to: placeholder) { fallback in
            key.withUnsafeBytes { keyBytes in
                digest.withUnsafeMutableBufferPointer { out in
                    HMAC(
                        EVP_sha1(), keyBytes.baseAddress ?? UnsafeRawPointer(fallback), Int32(key.count),
                        message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback, message.count,
                        out.baseAddress, &length)
                }
            }
        }
        precondition(produced != nil && Int(length) == sha1DigestLength, "libcrypto HMAC-SHA1 failed")
        return Array(digest.prefix(Int(length)))
    }

    static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { hmacSHA1(key: key, message: $0) }
    }

    public static func sha256(_ message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let placeholder: UInt8 = 0
        let status = withUnsafePointer(to: placeholder) { fallback in
            message.withUnsafeBytes { input in
                digest.withUnsafeMutableBufferPointer { out in
                    EVP_Digest(
                        input.baseAddress ?? UnsafeRawPointer(fallback), input.count, out.baseAddress, &length,
                        EVP_sha256(), nil)
                }
            }
        }
        precondition(status == 1 && Int(length) == sha256DigestLength, "libcrypto SHA-256 failed")
        return Array(digest.prefix(Int(length)))
    }

    /// Compares in time that depends only on the length, which callers keep fixed (digests).
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.isEmpty { return true }
        return lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in
                CRYPTO_memcmp(left.baseAddress, right.baseAddress, lhs.count) == 0
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    public static func hex(_ bytes: [UInt8]) -> String {
        var output = [UInt8]()
        output.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes hex digits of either case; `nil` for an odd length or a non-hex character.
    static func bytes(fromHex text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
