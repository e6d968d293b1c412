/// A JSON value that keeps object key order, as JavaScript does.
///
/// Numbers are IEEE doubles because Segment's pipeline (JavaScript) treats them so:
/// `100000000000000000001` becomes `100000000000000000000` there too.
///
/// Equality follows JavaScript's notion of "the same JSON": strings (and object keys) are equal
/// when their UTF-8 bytes are equal — not under Swift's Unicode canonical equivalence, which
/// would merge `"é"` (U+00E9) with `"e\u{301}"` where JavaScript keeps two distinct strings.
/// Objects are equal when they hold the same members in the same order. Numbers compare as
/// doubles, so `0 == -0`.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue: Hashable {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let left), .bool(let right)): return left == right
        case (.number(let left), .number(let right)): return left == right
        case (.string(let left), .string(let right)): return utf8Equal(left, right)
        case (.array(let left), .array(let right)): return left == right
        case (.object(let left), .object(let right)): return left == right
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        // Byte-equal strings are canonically equal, so String's own hash stays consistent
        // with the stricter byte equality above.
        switch self {
        case .null: hasher.combine(0 as UInt8)
        case .bool(let bool): hasher.combine(1 as UInt8); hasher.combine(bool)
        case .number(let number): hasher.combine(2 as UInt8); hasher.combine(number)
        case .string(let string): hasher.combine(3 as UInt8); hasher.combine(string)
        case .array(let array): hasher.combine(4 as UInt8); hasher.combine(array)
        case .object(let object): hasher.combine(5 as UInt8); hasher.combine(object)
        }
    }
}

/// Compares two strings by their UTF-8 bytes, as JavaScript compares strings by code units.
@inlinable @inline(__always)
func utf8Equal(_ lhs: String, _ rhs: String) -> Bool {
    #if arch(x86_64) || arch(arm64)
    // Two strings with the same representation (the same inline bytes of a small string, or
    // the same storage) are equal without reading them: the common case of a key looked up
    // with the literal it was interned from.
    let left = unsafeBitCast(lhs, to: (UInt64, UInt64).self)
    let right = unsafeBitCast(rhs, to: (UInt64, UInt64).self)
    if left == right { return true }
    // Small (inline) strings hold their bytes zero-padded beside a count and an ASCII flag, so
    // two of them are equal only if their representations are (`StringLayoutTests` checks this
    // assumption against the toolchain in use).
    if left.1 & right.1 & smallStringFlag != 0 { return false }
    #endif
    // The count is O(1) for native strings and rejects most mismatches.
    guard lhs.utf8.count == rhs.utf8.count else { return false }
    return utf8BytesEqual(lhs, rhs)
}

/// Bit 61 of a string's second word: set for small (inline) strings on 64-bit platforms.
@usableFromInline
let smallStringFlag: UInt64 = 1 << 61

@usableFromInline
func utf8BytesEqual(_ lhs: String, _ rhs: String) -> Bool {
    var lhs = lhs
    var rhs = rhs
    return lhs.withUTF8 { left in rhs.withUTF8 { right in left.elementsEqual(right) } }
}

extension JSONValue {
    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let array) = self { return array }
        return nil
    }

    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let number) = self { return number }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let bool) = self { return bool }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Member lookup on objects; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// Element lookup on arrays; `nil` for an index out of range or a non-array.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let array) = self, array.indices.contains(index) else { return nil }
        return array[index]
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text, as `JSON.stringify` writes it.
    public var description: String { jsonString }
}

extension JSONValue {
    /// What kind of value this is, for error messages: "null", "a boolean", "a number",
    /// "a string", "an array", "an object".
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
