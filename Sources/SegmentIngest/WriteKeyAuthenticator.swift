/// Checks Segment write keys on the `/v1/*` routes, as Segment's Tracking API takes them:
/// HTTP Basic with the write key as user name and an empty password, or `writeKey` in the body.
///
/// Keys are kept and compared as SHA-256 digests, so comparison time depends neither on the
/// configured keys nor on how much of one the caller guessed.
public struct WriteKeyAuthenticator: Sendable {
    private let keyDigests: [[UInt8]]

    /// Empty strings are ignored: an empty write key would accept anyone.
    public init(writeKeys: [String]) {
        keyDigests = writeKeys.filter { !$0.isEmpty }.map { SegmentCrypto.sha256(Array($0.utf8)) }
    }

    /// With no write keys configured the `/v1/*` routes are open.
    public var isEnabled: Bool { !keyDigests.isEmpty }

    public func isValid(_ writeKey: String) -> Bool {
        guard !writeKey.isEmpty else { return false }
        let digest = SegmentCrypto.sha256(Array(writeKey.utf8))
        var matched = false
        // Visit every key, so the time taken does not tell which one matched.
        for candidate in keyDigests where SegmentCrypto.constantTimeEqual(candidate, digest) {
            matched = true
        }
        return matched
    }

    /// The user name of an `Authorization: Basic …` header; `nil` for another scheme or bad base64.
    public static func writeKey(fromAuthorization header: String?) -> String? {
        guard let header else { return nil }
        let text = header.trimmingASCIIWhitespace()
        guard let space = text.firstIndex(of: " "), text[..<space].lowercased() == "basic" else { return nil }
        let encoded = text[text.index(after: space)...].trimmingASCIIWhitespace()
        guard let decoded = Base64.decode(encoded) else { return nil }
        let credentials = String(decoding: decoded, as: UTF8.self)
        // Segment's SDKs send `key:`; older ones sent `key` alone, which Segment still honours.
        if let colon = credentials.firstIndex(of: ":") { return String(credentials[..<colon]) }
        return credentials
    }

    /// Authenticates a request from the `Authorization` header or the write keys found in its
    /// body (top level first; for a batch, every event must carry a valid one).
    /// - Throws: 401 naming where a key is expected, never a key.
    public func authenticate(authorization: String?, bodyWriteKey: String?, eventWriteKeys: [String?]) throws(IngestFailure) {
        guard isEnabled else { return }
        if let key = Self.writeKey(fromAuthorization: authorization), isValid(key) { return }
        if let bodyWriteKey, isValid(bodyWriteKey) { return }
        if !eventWriteKeys.isEmpty, eventWriteKeys.allSatisfy({ $0.map(isValid) ?? false }) { return }
        let presented = authorization != nil || bodyWriteKey != nil || eventWriteKeys.contains { $0 != nil }
        throw .unauthorized(
            presented
                ? "the write key sent is not one of the configured write keys; send a configured write key as the HTTP Basic user name (empty password) or as writeKey in the body"
                : "no write key was sent; send a configured write key as the HTTP Basic user name (empty password) or as writeKey in the body"
        )
    }
}

/// Standard base64 (with or without padding), enough for Basic credentials.
enum Base64 {
    static func decode(_ text: Substring) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        var sawPadding = false
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="):
                sawPadding = true
                continue
            default: return nil
            }
            if sawPadding { return nil }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return output
    }
}
