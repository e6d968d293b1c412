/// Why a JSON text was refused, with the byte offset (0-based, into the UTF-8 input) where the
/// problem was found.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The input ended inside a value (or was empty).
        case unexpectedEnd
        /// A byte that cannot start or continue a value here.
        case unexpectedByte(UInt8)
        /// A number that does not follow the JSON grammar (`01`, `1.`, `-`, `1e`).
        case invalidNumber
        /// A number written with more characters than `JSONParser.maximumNumberLength`.
        case numberTooLong(limit: Int)
        /// A backslash escape that JSON does not define, or a malformed `\u` escape.
        case invalidString
        /// A raw control character (U+0000–U+001F) inside a string; JSON requires it escaped.
        case controlCharacterInString(UInt8)
        /// Bytes inside a string that are not well-formed UTF-8 (including overlong forms and
        /// UTF-8-encoded surrogates).
        case invalidUTF8
        /// The text starts with a UTF-8 byte order mark, which `JSON.parse` refuses too.
        case byteOrderMark
        /// Arrays and objects nested deeper than the parser's `maximumDepth`.
        case tooDeep(limit: Int)
        /// Something other than whitespace follows the complete value.
        case trailingData
    }

    public var reason: Reason
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        switch reason {
        case .unexpectedEnd:
            if offset == 0 { return "the JSON text is empty; send a JSON value" }
            return "the JSON text ends early at byte \(offset); send the complete document"
        case .unexpectedByte(let byte):
            return "unexpected \(Self.describe(byte)) at byte \(offset); the text is not valid JSON there"
        case .invalidNumber:
            return "malformed number at byte \(offset); JSON numbers look like -12, 0.5 or 1e-7 (no leading zeros, no trailing dot)"
        case .numberTooLong(let limit):
            return "number at byte \(offset) is longer than \(limit) characters; send it as a string"
        case .invalidString:
            return "invalid escape in string at byte \(offset); only \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX are allowed"
        case .controlCharacterInString(let byte):
            return "raw control character \(Self.hex(byte)) in string at byte \(offset); escape it (e.g. \\n or \\u00XX)"
        case .invalidUTF8:
            return "invalid UTF-8 in string at byte \(offset); send the text encoded as UTF-8"
        case .byteOrderMark:
            return "the JSON text starts with a byte order mark; remove the BOM before sending"
        case .tooDeep(let limit):
            return "arrays/objects nested deeper than \(limit) levels at byte \(offset); flatten the document"
        case .trailingData:
            return "unexpected data after the JSON value at byte \(offset); send exactly one JSON value"
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21, byte < 0x7F { return "character '\(Character(Unicode.Scalar(byte)))'" }
        return "byte \(hex(byte))"
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xF)])"
    }
}
