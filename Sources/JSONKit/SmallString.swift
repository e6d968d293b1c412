/// Builds short ASCII strings directly in Swift's inline ("small string") representation.
///
/// On 64-bit platforms a `String` of up to 15 UTF-8 bytes holds them inline in its two words:
/// bytes 0–7 in the first, bytes 8–14 in the low seven bytes of the second, and a discriminator
/// in the top byte (0xE0 | count for ASCII). Most strings of a Segment event (keys, event types,
/// short ids, currency codes) are that short, and writing the two words costs a few
/// instructions, where `String(unsafeUninitializedCapacity:)` makes a non-inlined call that
/// copies and re-checks the bytes it was given.
///
/// The layout is the standard library's ABI rather than its API, so it is checked once per
/// process against strings the standard library built itself (`isAvailable`); if any differs —
/// another architecture, a toolchain that changed the layout — the parser keeps using the
/// public initialiser. `StringLayoutTests` checks the same assumptions.
enum SmallASCIIString {
    /// How many bytes an inline string holds.
    static let capacity = 15

    /// Whether `make` builds strings identical to the standard library's on this toolchain.
    static let isAvailable: Bool = {
        #if (arch(x86_64) || arch(arm64)) && _endian(little)
        let samples = ["", "a", "userId", "12345678", "123456789", "anonymousId", "123456789012345"]
        for sample in samples {
            let bytes = Array(sample.utf8)
            let words = bytes.withUnsafeBufferPointer { buffer in
                wordsByteByByte(buffer.baseAddress ?? UnsafePointer(bitPattern: 1).unsafelyUnwrapped, count: buffer.count)
            }
            let built = make(words, count: bytes.count)
            let expected = String(decoding: bytes, as: UTF8.self)
            guard unsafeBitCast(built, to: (UInt64, UInt64).self) == unsafeBitCast(expected, to: (UInt64, UInt64).self),
                built.utf8.count == bytes.count, built.utf8.elementsEqual(bytes), built.hashValue == expected.hashValue
            else { return false }
        }
        return true
        #else
        return false
        #endif
    }()

    /// The string whose ASCII bytes are `words` (bytes 0–7, then 8–14, zero-padded).
    /// `count` must be at most `capacity`, and every byte ASCII.
    @inline(__always)
    static func make(_ words: (UInt64, UInt64), count: Int) -> String {
        let discriminator = (0xE0 as UInt64 | UInt64(truncatingIfNeeded: count)) &<< 56
        var representation = (words.0, words.1 | discriminator)
        // Moved out of memory rather than bit-cast: a bit-cast value is borrowed, so the
        // compiler copies it with a (pointless, for an inline string) runtime retain call.
        return withUnsafeMutablePointer(to: &representation) { pointer in
            pointer.withMemoryRebound(to: String.self, capacity: 1) { $0.move() }
        }
    }

    /// The inline words of the `count` (at most `capacity`) bytes at `bytes`, reading only those.
    static func wordsByteByByte(_ bytes: UnsafePointer<UInt8>, count: Int) -> (UInt64, UInt64) {
        var words: (UInt64, UInt64) = (0, 0)
        for offset in 0..<min(count, 8) { words.0 |= UInt64(bytes[offset]) &<< (8 &* UInt64(offset)) }
        if count > 8 {
            for offset in 8..<count { words.1 |= UInt64(bytes[offset]) &<< (8 &* UInt64(offset &- 8)) }
        }
        return words
    }

    /// The inline words of the `count` (at most `capacity`) bytes at `bytes`, where 16 bytes
    /// from `bytes` on may be read.
    @inline(__always)
    static func words(_ bytes: UnsafePointer<UInt8>, count: Int) -> (UInt64, UInt64) {
        let raw = UnsafeRawPointer(bytes)
        let first = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        let second = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        if count >= 8 {
            return (first, second & lowBytesMask(count &- 8))
        }
        return (first & lowBytesMask(count), 0)
    }

    /// A mask of the low `count` bytes (0–7) of a word.
    @inline(__always)
    static func lowBytesMask(_ count: Int) -> UInt64 {
        (1 &<< (8 &* UInt64(truncatingIfNeeded: count))) &- 1
    }
}
