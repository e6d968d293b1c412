/// The object keys of Segment's spec, each kept as a ready-made `String`, so that parsing a
/// Segment event copies most of its keys instead of building (and later freeing) a new string
/// for each one. Measured with callgrind on the sample events: creating a string costs about
/// as much as scanning it, and keys are well over half of an event's strings.
///
/// The list is the spec's common fields, context fields, reserved traits and the e-commerce
/// properties (segment.com/docs/connections/spec); any other key is simply created as before.
/// The table is immutable once built, so parses on any thread share it without locking.
final class KeyTable: @unchecked Sendable {
    static let shared = KeyTable(keys: segmentSpecKeys)

    struct Entry {
        /// -1 for an empty slot.
        var length: Int
        var words: KeyWords
        var string: String
    }

    private let slots: UnsafeMutablePointer<Entry>
    private let mask: Int

    init(keys: [String]) {
        var capacity = 16
        while capacity < keys.count * 4 { capacity *= 2 }
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Entry(length: -1, words: KeyWords(head: 0, tail: 0), string: ""), count: capacity)
        for key in keys {
            var padded = Array(key.utf8)
            let length = padded.count
            padded += repeatElement(0, count: 8)
            let words = padded.withUnsafeBufferPointer { KeyWords($0.baseAddress!, count: length, readable: $0.count) }
            var slot = words.slot(length: length, mask: mask)
            while slots[slot].length >= 0 {
                if slots[slot].length == length, slots[slot].words == words, slots[slot].string == key { break }
                slot = (slot + 1) & mask
            }
            slots[slot] = Entry(length: length, words: words, string: key)
        }
    }

    // Shared for the life of the process, like the key strings it hands out.
    deinit {
        slots.deinitialize(count: mask + 1)
        slots.deallocate()
    }

    /// The table's string for the plain UTF-8 bytes at `bytes`, or `nil` if it has none.
    @inline(__always)
    func string(_ bytes: UnsafePointer<UInt8>, count length: Int, words: KeyWords) -> String? {
        var slot = words.slot(length: length, mask: mask)
        while true {
            let entry = slots + slot
            if entry.pointee.length < 0 { return nil }
            if entry.pointee.length == length, entry.pointee.words == words {
                // Up to 16 bytes, the two words cover every byte; longer keys are confirmed.
                if length <= 16 || Self.bytesEqual(entry.pointee.string, bytes, length) {
                    return entry.pointee.string
                }
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(never)
    private static func bytesEqual(_ string: String, _ bytes: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        var string = string
        return string.withUTF8 { stored in
            stored.count == length && (0..<length).allSatisfy { stored[$0] == bytes[$0] }
        }
    }
}

/// The first and last eight bytes of a key (zero-padded when shorter): together with the length
/// they identify any key of up to 16 bytes exactly, and hash any key well.
struct KeyWords: Equatable {
    var head: UInt64
    var tail: UInt64

    init(head: UInt64, tail: UInt64) {
        self.head = head
        self.tail = tail
    }

    /// `readable` is how many bytes from `bytes` on may be read (at least `length`).
    @inline(__always)
    init(_ bytes: UnsafePointer<UInt8>, count length: Int, readable: Int) {
        let raw = UnsafeRawPointer(bytes)
        if length >= 8 {
            head = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            tail = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: length - 8, as: UInt64.self))
        } else if readable >= 8 {
            let keep: UInt64 = length == 0 ? 0 : ~0 >> (64 - 8 * UInt64(length))
            head = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)) & keep
            tail = 0
        } else {
            head = 0
            for offset in 0..<length { head |= UInt64(bytes[offset]) << (8 * UInt64(offset)) }
            tail = 0
        }
    }

    /// A hash of the key: also the parser's fingerprint for duplicate-key detection.
    @inline(__always)
    func hash(length: Int) -> UInt64 {
        (head &* 0x9E37_79B9_7F4A_7C15) ^ (tail &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(truncatingIfNeeded: length)
    }

    @inline(__always)
    func slot(length: Int, mask: Int) -> Int {
        let hash = hash(length: length)
        return Int(truncatingIfNeeded: (hash ^ hash >> 29) & UInt64(mask))
    }
}

/// Segment spec keys (common fields, context, traits, e-commerce properties).
private let segmentSpecKeys: [String] = [
    // Common fields and call-specific fields.
    "anonymousId", "channel", "context", "integrations", "messageId", "receivedAt", "sentAt", "timestamp",
    "originalTimestamp", "type", "userId", "version", "event", "properties", "traits", "name", "groupId",
    "previousId", "category", "writeKey", "batch", "_metadata", "projectId", "options", "All",
    // Context.
    "active", "app", "build", "namespace", "campaign", "source", "medium", "term", "content", "device", "id",
    "advertisingId", "adTrackingEnabled", "manufacturer", "model", "token", "ip", "library", "locale",
    "location", "city", "country", "latitude", "longitude", "speed", "region", "network", "bluetooth",
    "carrier", "cellular", "wifi", "os", "page", "path", "referrer", "search", "title", "url", "screen",
    "width", "height", "density", "timezone", "userAgent", "userAgentData", "brands", "mobile", "platform",
    "brand", "personas", "computation_class", "computation_key", "computation_id", "space_id",
    "audience_key", "instance", "protocols", "sourceId", "destination_id", "externalIds", "collection",
    "encoding", "messaging_subscriptions",
    // Reserved traits.
    "address", "street", "state", "postalCode", "age", "avatar", "birthday", "company", "createdAt",
    "description", "email", "firstName", "lastName", "gender", "phone", "username", "website", "employees",
    "industry", "plan", "logins",
    // E-commerce properties.
    "order_id", "checkout_id", "affiliation", "total", "subtotal", "revenue", "shipping", "tax", "discount",
    "coupon", "currency", "products", "product_id", "sku", "price", "quantity", "position", "variant",
    "image_url", "value", "list_id", "cart_id", "query", "step", "payment_method", "shipping_method",
]
