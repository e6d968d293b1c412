import JSONKit

/// Checks Segment's `X-Signature`: the hex HMAC-SHA1 of the body with the shared secret.
///
/// Segment's Webhooks (Actions) destination, when it batches, signs only the first event of
/// the array as `JSON.stringify` prints it, so that form is accepted as well.
/// Digests are compared with `CRYPTO_memcmp` so timing reveals nothing about the expected value.
public struct SignatureVerifier: Sendable {
    public static let headerName = "X-Signature"

    private let key: [UInt8]

    public init(sharedSecret: String) {
        key = Array(sharedSecret.utf8)
    }

    /// The hex signature Segment would send for these bytes (for tests and `send-test-events`).
    public func signature(of message: [UInt8]) -> String {
        SegmentCrypto.hex(SegmentCrypto.hmacSHA1(key: key, message: message))
    }

    /// Verifies the header against the decoded body, then, for a JSON array, against its first
    /// element serialised compactly. `parsedBody` is asked for only when the whole-body check fails.
    /// - Throws: 401 with a reason that names no secret or digest.
    public func verify(header: String?, body: [UInt8], parsedBody: () -> JSONValue?) throws(IngestFailure) {
        guard let header, !header.trimmingASCIIWhitespace().isEmpty else {
            throw .unauthorized(
                "the request has no X-Signature header but a shared secret is configured; set the same shared secret in Segment's destination settings so Segment signs its requests"
            )
        }
        guard let presented = Self.digest(fromHeader: header) else {
            throw .unauthorized(
                "X-Signature is not a hex HMAC-SHA1 (40 hex digits); send the hex HMAC-SHA1 of the body computed with the shared secret"
            )
        }
        if SegmentCrypto.constantTimeEqual(presented, SegmentCrypto.hmacSHA1(key: key, message: body)) { return }
        if case .array(let events)? = parsedBody(), let first = events.first {
            let firstEvent = JSONSerializer.serialize(first)
            if SegmentCrypto.constantTimeEqual(presented, SegmentCrypto.hmacSHA1(key: key, message: firstEvent)) {
                return
            }
        }
        throw .unauthorized(
            "X-Signature does not match the body signed with the configured shared secret; check the secret in Segment's destination settings"
        )
    }

    /// Accepts the bare hex digest and, leniently, a `sha1=` prefix as other senders write it.
    static func digest(fromHeader header: String) -> [UInt8]? {
        var text = header.trimmingASCIIWhitespace()
        if text.lowercased().hasPrefix("sha1=") { text = text.dropFirst(5) }
        guard text.utf8.count == SegmentCrypto.sha1DigestLength * 2 else { return nil }
        return SegmentCrypto.bytes(fromHex: text)
    }
}
