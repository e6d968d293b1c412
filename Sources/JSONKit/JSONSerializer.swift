/// Serialises `JSONValue` exactly as JavaScript's `JSON.stringify` does, byte for byte.
///
/// - Key order is kept; numbers are written as `Number.prototype.toString()` writes them
///   (see `JSNumberFormatter`); NaN and ±infinity become `null`.
/// - Strings escape `"` `\` and the control characters U+0000–U+001F (`\b \f \n \r \t`, the
///   rest as `\u00xx` in lowercase hex); `/`, DEL, U+2028/U+2029 and all other non-ASCII
///   characters are written as raw UTF-8. (`JSON.stringify` escapes lone surrogates, which a
///   Swift string cannot contain.)
public enum JSONSerializer {
    /// `JSON.stringify(value)`: compact, key order kept.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var writer = ByteWriter(capacity: 512)
        writer.writeCompact(value)
        return writer.makeArray()
    }

    /// Appends `JSON.stringify(value)` to `output`; reuse one buffer to avoid allocations.
    public static func serialize(_ value: JSONValue, into output: inout [UInt8]) {
        var writer = ByteWriter(capacity: 512)
        writer.writeCompact(value)
        writer.append(to: &output)
    }

    /// `JSON.stringify(value, null, indent)`: for humans (the `map` subcommand, admin answers).
    /// As in JavaScript, the indent is clamped to 10 spaces and an indent below 1 means compact.
    public static func serializePretty(_ value: JSONValue, indent: Int = 2) -> [UInt8] {
        var output: [UInt8] = []
        serializePretty(value, indent: indent, into: &output)
        return output
    }

    /// Appends `JSON.stringify(value, null, indent)` to `output`.
    public static func serializePretty(_ value: JSONValue, indent: Int = 2, into output: inout [UInt8]) {
        let indent = min(indent, 10)
        var writer = ByteWriter(capacity: 1024)
        if indent < 1 {
            writer.writeCompact(value)
        } else {
            writer.writePretty(value, indent: indent, level: 0)
        }
        writer.append(to: &output)
    }

    /// Appends a JSON string literal for `string` (quotes included) to `output`.
    public static func serialize(string: String, into output: inout [UInt8]) {
        var writer = ByteWriter(capacity: string.utf8.count + 16)
        writer.writeString(string)
        writer.append(to: &output)
    }

    @inline(__always)
    static func firstByteNeedingEscape(_ base: UnsafePointer<UInt8>, count: Int, from start: Int) -> Int {
        var index = start
        #if _endian(little)
        // Eight bytes at a time; see `firstSpecialByte` in the parser for why the lowest
        // flagged byte is exact. Bytes >= 0x80 are excluded by masking with `~word`.
        let ones: UInt64 = 0x0101_0101_0101_0101
        while index &+ 8 <= count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            let quotes = word ^ (ones &* 0x22)
            let backslashes = word ^ (ones &* 0x5C)
            let matches = ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes)
                | ((word &- ones &* 0x20) & ~word)
            let flagged = matches & 0x8080_8080_8080_8080
            if flagged != 0 { return index &+ flagged.trailingZeroBitCount &>> 3 }
            index &+= 8
        }
        #endif
        while index < count {
            let byte = base[index]
            if byte < 0x20 || byte == 0x22 || byte == 0x5C { return index }
            index += 1
        }
        return count
    }
}

/// The serializer's output buffer, written through a pointer: appending a byte is a compare and
/// a store, where `Array.append` also checks uniqueness and capacity through its own growth
/// path (the bulk of the serializer's instructions, per callgrind).
struct ByteWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    consuming func makeArray() -> [UInt8] {
        let count = count
        let base = base
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.initialize(from: base, count: count)
            initialized = count
        }
    }

    func append(to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
    }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count &+ extra > capacity { grow(minimumCapacity: count + extra) }
    }

    @inline(never)
    mutating func grow(minimumCapacity: Int) {
        var newCapacity = capacity * 2
        while newCapacity < minimumCapacity { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.initialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count &+= 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafePointer<UInt8>, count length: Int) {
        reserve(length)
        (base + count).initialize(from: bytes, count: length)
        count &+= length
    }

    @inline(__always)
    mutating func appendLiteral(_ literal: StaticString) {
        append(literal.utf8Start, count: literal.utf8CodeUnitCount)
    }

    mutating func writeCompact(_ value: JSONValue) {
        switch value {
        case .null: appendLiteral("null")
        case .bool(let bool): appendLiteral(bool ? "true" : "false")
        case .number(let number): writeNumber(number)
        case .string(let string): writeString(string)
        case .array(let array):
            append(UInt8(ascii: "["))
            // Through the buffers: iterating the arrays would copy (retain and release) every
            // element on the way.
            array.withUnsafeBufferPointer { elements in
                for position in elements.indices {
                    if position > 0 { append(UInt8(ascii: ",")) }
                    writeCompact(elements[position])
                }
            }
            append(UInt8(ascii: "]"))
        case .object(let object):
            append(UInt8(ascii: "{"))
            object.entries.withUnsafeBufferPointer { members in
                for position in members.indices {
                    if position > 0 { append(UInt8(ascii: ",")) }
                    writeString(members[position].key)
                    append(UInt8(ascii: ":"))
                    writeCompact(members[position].value)
                }
            }
            append(UInt8(ascii: "}"))
        }
    }

    mutating func writePretty(_ value: JSONValue, indent: Int, level: Int) {
        switch value {
        case .array(let array) where !array.isEmpty:
            append(UInt8(ascii: "["))
            var first = true
            for element in array {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                newline(spaces: indent * (level + 1))
                writePretty(element, indent: indent, level: level + 1)
            }
            newline(spaces: indent * level)
            append(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            append(UInt8(ascii: "{"))
            var first = true
            for entry in object.entries {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                newline(spaces: indent * (level + 1))
                writeString(entry.key)
                append(UInt8(ascii: ":"))
                append(UInt8(ascii: " "))
                writePretty(entry.value, indent: indent, level: level + 1)
            }
            newline(spaces: indent * level)
            append(UInt8(ascii: "}"))
        default:
            // Scalars, `[]` and `{}` print as in compact form.
            writeCompact(value)
        }
    }

    mutating func newline(spaces: Int) {
        reserve(1 + spaces)
        base[count] = UInt8(ascii: "\n")
        (base + count + 1).initialize(repeating: UInt8(ascii: " "), count: spaces)
        count &+= 1 + spaces
    }

    mutating func writeNumber(_ number: Double) {
        if number == 0 {
            append(UInt8(ascii: "0"))  // -0 too, as JavaScript prints it
            return
        }
        // Integers below 2^53 (counts, ids, most prices in cents) print as their digits; the
        // rest take JavaScript's layout from `JSNumberFormatter`.
        if number.magnitude < 9_007_199_254_740_992, number == number.rounded(.towardZero) {
            var magnitude = UInt64(number.magnitude)
            reserve(17)
            if number < 0 {
                base[count] = UInt8(ascii: "-")
                count &+= 1
            }
            var digits = 1
            var scale: UInt64 = 10
            while digits < 16, magnitude >= scale {
                digits += 1
                scale &*= 10
            }
            var cursor = count &+ digits
            count = cursor
            repeat {
                cursor &-= 1
                base[cursor] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            return
        }
        var text: [UInt8] = []
        JSNumberFormatter.write(number, into: &text)
        text.withUnsafeBufferPointer { append($0.baseAddress!, count: $0.count) }
    }

    mutating func writeString(_ string: String) {
        var string = string
        string.withUTF8 { bytes in
            // Quotes and the common case of no escapes: one reservation, one copy.
            reserve(bytes.count + 2)
            base[count] = UInt8(ascii: "\"")
            count &+= 1
            if let start = bytes.baseAddress { writeEscaped(start, count: bytes.count) }
            append(UInt8(ascii: "\""))
        }
    }

    /// Appends `bytes` with JSON escapes, copying the runs between escapes in bulk.
    mutating func writeEscaped(_ bytes: UnsafePointer<UInt8>, count length: Int) {
        var runStart = 0
        var index = 0
        while true {
            index = JSONSerializer.firstByteNeedingEscape(bytes, count: length, from: index)
            if index > runStart { append(bytes + runStart, count: index - runStart) }
            guard index < length else { return }
            let byte = bytes[index]
            reserve(6)
            base[count] = UInt8(ascii: "\\")
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): base[count + 1] = byte; count &+= 2
            case 0x08: base[count + 1] = UInt8(ascii: "b"); count &+= 2
            case 0x0C: base[count + 1] = UInt8(ascii: "f"); count &+= 2
            case 0x0A: base[count + 1] = UInt8(ascii: "n"); count &+= 2
            case 0x0D: base[count + 1] = UInt8(ascii: "r"); count &+= 2
            case 0x09: base[count + 1] = UInt8(ascii: "t"); count &+= 2
            default:
                base[count + 1] = UInt8(ascii: "u")
                base[count + 2] = UInt8(ascii: "0")
                base[count + 3] = UInt8(ascii: "0")
                base[count + 4] = lowercaseHexDigits[Int(byte >> 4)]
                base[count + 5] = lowercaseHexDigits[Int(byte & 0xF)]
                count &+= 6
            }
            index += 1
            runStart = index
        }
    }
}

private let lowercaseHexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension JSONValue {
    /// `JSON.stringify(self)` as a Swift string.
    public var jsonString: String { String(decoding: JSONSerializer.serialize(self), as: UTF8.self) }

    /// `JSON.stringify(self, null, 2)` as a Swift string.
    public var prettyJSONString: String {
        String(decoding: JSONSerializer.serializePretty(self), as: UTF8.self)
    }
}
