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
        var output: [UInt8] = []
        output.reserveCapacity(256)
        serialize(value, into: &output)
        return output
    }

    /// Appends `JSON.stringify(value)` to `output`; reuse one buffer to avoid allocations.
    public static func serialize(_ value: JSONValue, into output: inout [UInt8]) {
        writeCompact(value, into: &output)
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
        if indent < 1 {
            writeCompact(value, into: &output)
        } else {
            writePretty(value, into: &output, indent: indent, level: 0)
        }
    }

    /// Appends a JSON string literal for `string` (quotes included) to `output`.
    public static func serialize(string: String, into output: inout [UInt8]) {
        writeString(string, into: &output)
    }

    // MARK: Writers

    static func writeCompact(_ value: JSONValue, into output: inout [UInt8]) {
        switch value {
        case .null: appendLiteral("null", to: &output)
        case .bool(let bool): appendLiteral(bool ? "true" : "false", to: &output)
        case .number(let number): JSNumberFormatter.write(number, into: &output)
        case .string(let string): writeString(string, into: &output)
        case .array(let array):
            output.append(UInt8(ascii: "["))
            var first = true
            for element in array {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                writeCompact(element, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            output.append(UInt8(ascii: "{"))
            var first = true
            for entry in object.entries {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                writeString(entry.key, into: &output)
                output.append(UInt8(ascii: ":"))
                writeCompact(entry.value, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    static func writePretty(_ value: JSONValue, into output: inout [UInt8], indent: Int, level: Int) {
        switch value {
        case .array(let array) where !array.isEmpty:
            output.append(UInt8(ascii: "["))
            var first = true
            for element in array {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                newline(into: &output, spaces: indent * (level + 1))
                writePretty(element, into: &output, indent: indent, level: level + 1)
            }
            newline(into: &output, spaces: indent * level)
            output.append(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            output.append(UInt8(ascii: "{"))
            var first = true
            for entry in object.entries {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                newline(into: &output, spaces: indent * (level + 1))
                writeString(entry.key, into: &output)
                output.append(UInt8(ascii: ":"))
                output.append(UInt8(ascii: " "))
                writePretty(entry.value, into: &output, indent: indent, level: level + 1)
            }
            newline(into: &output, spaces: indent * level)
            output.append(UInt8(ascii: "}"))
        default:
            // Scalars, `[]` and `{}` print as in compact form.
            writeCompact(value, into: &output)
        }
    }

    @inline(__always)
    static func newline(into output: inout [UInt8], spaces: Int) {
        output.append(UInt8(ascii: "\n"))
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: spaces))
    }

    @inline(__always)
    static func appendLiteral(_ literal: StaticString, to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    static func writeString(_ string: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { bytes in
            writeEscaped(bytes, into: &output)
        }
        if done == nil {
            let bytes = Array(string.utf8)
            bytes.withUnsafeBufferPointer { writeEscaped($0, into: &output) }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Appends `bytes` with JSON escapes, copying the runs between escapes in bulk.
    static func writeEscaped(_ bytes: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var runStart = 0
        var index = 0
        while true {
            index = firstByteNeedingEscape(base, count: count, from: index)
            if index > runStart {
                output.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
            }
            guard index < count else { return }
            let byte = base[index]
            output.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
            case 0x08: output.append(UInt8(ascii: "b"))
            case 0x0C: output.append(UInt8(ascii: "f"))
            case 0x0A: output.append(UInt8(ascii: "n"))
            case 0x0D: output.append(UInt8(ascii: "r"))
            case 0x09: output.append(UInt8(ascii: "t"))
            default:
                output.append(UInt8(ascii: "u"))
                output.append(UInt8(ascii: "0"))
                output.append(UInt8(ascii: "0"))
                output.append(lowercaseHexDigits[Int(byte >> 4)])
                output.append(lowercaseHexDigits[Int(byte & 0xF)])
            }
            index += 1
            runStart = index
        }
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

private let lowercaseHexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension JSONValue {
    /// `JSON.stringify(self)` as a Swift string.
    public var jsonString: String { String(decoding: JSONSerializer.serialize(self), as: UTF8.self) }

    /// `JSON.stringify(self, null, 2)` as a Swift string.
    public var prettyJSONString: String {
        String(decoding: JSONSerializer.serializePretty(self), as: UTF8.self)
    }
}
