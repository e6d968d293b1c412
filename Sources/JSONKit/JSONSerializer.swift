/// Serialises `JSONValue` the way JavaScript's `JSON.stringify` does.
///
/// PLACEHOLDER: correct for common values; the JSONKit work makes number formatting and
/// string escaping byte-for-byte identical to JavaScript and fast.
public enum JSONSerializer {
    /// `JSON.stringify(value)`: compact, key order kept.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var output: [UInt8] = []
        write(value, into: &output, indent: nil, level: 0)
        return output
    }

    /// `JSON.stringify(value, null, 2)`: for humans (the `map` subcommand, admin answers).
    public static func serializePretty(_ value: JSONValue, indent: Int = 2) -> [UInt8] {
        var output: [UInt8] = []
        write(value, into: &output, indent: indent, level: 0)
        return output
    }

    static func write(_ value: JSONValue, into output: inout [UInt8], indent: Int?, level: Int) {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let bool): output.append(contentsOf: (bool ? "true" : "false").utf8)
        case .number(let number): output.append(contentsOf: JSNumberFormatter.string(from: number).utf8)
        case .string(let string): writeString(string, into: &output)
        case .array(let array):
            if array.isEmpty { output.append(contentsOf: "[]".utf8); return }
            output.append(UInt8(ascii: "["))
            for (offset, element) in array.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                newline(into: &output, indent: indent, level: level + 1)
                write(element, into: &output, indent: indent, level: level + 1)
            }
            newline(into: &output, indent: indent, level: level)
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty { output.append(contentsOf: "{}".utf8); return }
            output.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in object {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                newline(into: &output, indent: indent, level: level + 1)
                writeString(key, into: &output)
                output.append(UInt8(ascii: ":"))
                if indent != nil { output.append(UInt8(ascii: " ")) }
                write(member, into: &output, indent: indent, level: level + 1)
            }
            newline(into: &output, indent: indent, level: level)
            output.append(UInt8(ascii: "}"))
        }
    }

    static func newline(into output: inout [UInt8], indent: Int?, level: Int) {
        guard let indent else { return }
        output.append(UInt8(ascii: "\n"))
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    static func writeString(_ string: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case 0x22: output.append(contentsOf: "\\\"".utf8)
            case 0x5C: output.append(contentsOf: "\\\\".utf8)
            case 0x0A: output.append(contentsOf: "\\n".utf8)
            case 0x0D: output.append(contentsOf: "\\r".utf8)
            case 0x09: output.append(contentsOf: "\\t".utf8)
            case 0x08: output.append(contentsOf: "\\b".utf8)
            case 0x0C: output.append(contentsOf: "\\f".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: "\\u00".utf8)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

extension JSONValue {
    /// `JSON.stringify(self)` as a Swift string.
    public var jsonString: String { String(decoding: JSONSerializer.serialize(self), as: UTF8.self) }
}

/// Formats doubles as JavaScript's `Number.prototype.toString()` does.
///
/// PLACEHOLDER: integers and Swift's shortest representation; the JSONKit work makes it
/// exact (`1e+21`, `100000000000000000000`, `1e-7`, `-0` → `0`).
public enum JSNumberFormatter {
    public static func string(from value: Double) -> String {
        if !value.isFinite { return "null" }
        if value == 0 { return "0" }
        if value == value.rounded(), abs(value) < 9e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }
}
