/// Percent-encoding of URL components as JavaScript's `encodeURIComponent` does it.
///
/// Segment's hosted destination interpolates attribute names and values into the URL
/// unescaped and leaves the escaping to its HTTP client, which breaks on `&`, `=`, `#` and
/// `+` inside a value. We escape every component ourselves with the set that the contract's
/// readers know from JavaScript: the UTF-8 bytes of everything except `A-Z a-z 0-9 - _ . ! ~ * ' ( )`
/// become `%XX` (upper-case hex), so a space is `%20`, never `+`, and `&`, `=`, `/`, `@`, `#`,
/// `+` and `%` are always escaped. Adobe decodes the query as UTF-8, so the stored value is
/// exactly the original string.
public enum URIComponentEncoder {
    /// `encodeURIComponent(component)`.
    public static func encode(_ component: String) -> String {
        let utf8 = component.utf8
        // Fast path: most keys and many values need no escaping at all.
        if utf8.allSatisfy(isUnreserved) { return component }
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count * 3)
        append(utf8, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends `encodeURIComponent(component)` to a UTF-8 buffer.
    public static func append(_ component: String, to output: inout [UInt8]) {
        append(component.utf8, to: &output)
    }

    /// The number of bytes `encode(component)` produces, without building it.
    public static func encodedLength(of component: String) -> Int {
        var length = 0
        for byte in component.utf8 { length += isUnreserved(byte) ? 1 : 3 }
        return length
    }

    private static func append(_ utf8: String.UTF8View, to output: inout [UInt8]) {
        for byte in utf8 {
            if isUnreserved(byte) {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "~"),
            UInt8(ascii: "*"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"):
            return true
        default:
            return false
        }
    }

    /// Decodes `%XX` escapes (and nothing else: `+` stays `+`) as UTF-8, as `decodeURIComponent`
    /// does; `nil` for a malformed escape or bytes that are not UTF-8.
    public static func decode(_ component: Substring) -> String? {
        let bytes = Array(component.utf8)
        if !bytes.contains(UInt8(ascii: "%")) { return String(component) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        return String(validating: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
