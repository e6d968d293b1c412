import JSONKit

/// A compiled subscription: the tree Segment's `parseFql` builds, with each condition's value
/// already converted the way `validate` would convert it on every event.
enum FQLExpression: Hashable, Sendable {
    case condition(FQLCondition)
    /// Every child matches (Segment's group with operator `and`).
    case all([FQLExpression])
    /// At least one child matches (Segment's group with operator `or`).
    case any([FQLExpression])
}

/// Where a condition reads its value from.
enum FQLField: Hashable, Sendable {
    /// `type`, `event`, `name`, `userId`: one member of the event, read directly.
    case member(FQLText)
    /// `properties.…`, `traits.…`, `context.…`: a path below one member, read as Segment's
    /// `get` does (see `FQLPath`).
    case path(root: FQLText, FQLPath)
}

/// A pre-split field path, e.g. `["product 1", "price"]`.
struct FQLPath: Hashable, Sendable {
    let segments: [FQLText]

    init(segments: [String]) {
        self.segments = segments.map(FQLText.init)
    }
}

/// One test of a value, with Segment's operator semantics (validate.ts). "Missing" below means
/// the field is absent or null: Segment's checks never tell the two apart.
enum FQLTest: Hashable, Sendable {
    /// The value is a string with exactly these UTF-16 code units (JavaScript `===`).
    case stringEquals(FQLText)
    /// Anything but that string, including missing values and non-strings.
    case stringNotEquals(FQLText)
    /// The value is a number equal to this one.
    case numberEquals(Double)
    /// The value is a number different from this one; non-numbers do not match.
    case numberNotEquals(Double)
    /// The value is a number in this relation to the operand; non-numbers never match.
    case less(Double), lessOrEqual(Double), greater(Double), greaterOrEqual(Double)
    /// The value is a string containing / not containing the text (case-sensitive);
    /// non-strings match neither.
    case contains(FQLText), notContains(FQLText)
    case startsWith(FQLText), notStartsWith(FQLText)
    case endsWith(FQLText), notEndsWith(FQLText)
    /// The value is present and not null / absent or null.
    case exists, notExists
    /// The value is the boolean `true` / `false` (not the string).
    case isTrue, isFalse
}

/// A string operand kept as UTF-8 bytes: comparing bytes is exact code-point comparison, as
/// JavaScript's is, whereas Swift's `String ==` would equate canonically equivalent spellings
/// ("é" and "e\u{301}").
struct FQLText: Hashable, Sendable {
    let string: String
    let bytes: [UInt8]

    init(_ string: String) {
        self.string = string
        self.bytes = Array(string.utf8)
    }

    static func == (lhs: FQLText, rhs: FQLText) -> Bool { lhs.bytes == rhs.bytes }
    func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}

struct FQLCondition: Hashable, Sendable {
    var field: FQLField
    var test: FQLTest
}

// MARK: - Evaluation

extension FQLExpression {
    func matches(_ event: JSONObject) -> Bool {
        switch self {
        case .condition(let condition):
            return condition.matches(event)
        case .all(let children):
            for child in children where !child.matches(event) { return false }
            return true
        case .any(let children):
            for child in children where child.matches(event) { return true }
            return false
        }
    }
}

extension FQLCondition {
    @inline(__always)
    func matches(_ event: JSONObject) -> Bool {
        switch field {
        case .member(let key):
            return test.matches(fqlMember(of: event, key))
        case .path(let root, let path):
            return test.matches(path.resolve(in: fqlMember(of: event, root)))
        }
    }
}

extension FQLPath {
    /// Segment's `get(object, path)`: `path.reduce((o, key) => o && o[key], object)`.
    ///
    /// Two JavaScript facts carry over. A falsy value stops the walk and is the result, so with
    /// `{"a": 0}` the path `a.b` yields `0` and `properties.a.b = 0` matches. And member access
    /// works on arrays and strings too: `items.0` is the first element, `items.length` the count.
    func resolve(in root: JSONValue?) -> JSONValue? {
        var current = root
        for segment in segments {
            guard let value = current else { return nil }
            switch value {
            case .object(let object):
                current = fqlMember(of: object, segment)
            case .array(let array):
                if segment.bytes == Self.length {
                    current = .number(Double(array.count))
                } else if let index = Self.arrayIndex(segment.bytes), index < array.count {
                    current = array[index]
                } else {
                    current = nil
                }
            case .string(let string):
                if string.isEmpty { return value }
                current = Self.member(of: string, segment.bytes)
            case .null:
                return value
            case .bool(let flag):
                if !flag { return value }
                current = nil
            case .number(let number):
                if number == 0 || number.isNaN { return value }
                current = nil
            }
        }
        return current
    }

    private static let length = Array("length".utf8)

    /// JavaScript array index keys are canonical: "0", "7", never "07", "-1" or "1.0".
    private static func arrayIndex(_ utf8: [UInt8]) -> Int? {
        guard let first = utf8.first, utf8.count <= 10 else { return nil }
        if first == UInt8(ascii: "0") { return utf8.count == 1 ? 0 : nil }
        var index = 0
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            index = index * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return index
    }

    /// `"abc"["length"]` is 3 and `"abc"["1"]` is `"b"`, both in UTF-16 code units.
    private static func member(of string: String, _ segment: [UInt8]) -> JSONValue? {
        let units = string.utf16
        if segment == length { return .number(Double(units.count)) }
        guard let index = arrayIndex(segment), index < units.count else { return nil }
        let unit = units[units.index(units.startIndex, offsetBy: index)]
        // A lone surrogate half cannot live in a Swift String; it compares unequal to any
        // quoted operand in JavaScript too, so the replacement character behaves the same.
        return .string(String(decoding: [unit], as: UTF16.self))
    }
}

extension FQLTest {
    @inline(__always)
    func matches(_ value: JSONValue?) -> Bool {
        switch self {
        case .stringEquals(let text):
            guard case .string(let string)? = value else { return false }
            return Self.equal(string, text.bytes)
        case .stringNotEquals(let text):
            guard case .string(let string)? = value else { return true }
            return !Self.equal(string, text.bytes)
        case .numberEquals(let operand):
            guard case .number(let number)? = value else { return false }
            return number == operand
        case .numberNotEquals(let operand):
            guard case .number(let number)? = value else { return false }
            return number != operand
        case .less(let operand):
            guard case .number(let number)? = value else { return false }
            return number < operand
        case .lessOrEqual(let operand):
            guard case .number(let number)? = value else { return false }
            return number <= operand
        case .greater(let operand):
            guard case .number(let number)? = value else { return false }
            return number > operand
        case .greaterOrEqual(let operand):
            guard case .number(let number)? = value else { return false }
            return number >= operand
        case .contains(let text):
            guard case .string(let string)? = value else { return false }
            return Self.search(string, text.bytes, anchor: .anywhere)
        case .notContains(let text):
            guard case .string(let string)? = value else { return false }
            return !Self.search(string, text.bytes, anchor: .anywhere)
        case .startsWith(let text):
            guard case .string(let string)? = value else { return false }
            return Self.search(string, text.bytes, anchor: .start)
        case .notStartsWith(let text):
            guard case .string(let string)? = value else { return false }
            return !Self.search(string, text.bytes, anchor: .start)
        case .endsWith(let text):
            guard case .string(let string)? = value else { return false }
            return Self.search(string, text.bytes, anchor: .end)
        case .notEndsWith(let text):
            guard case .string(let string)? = value else { return false }
            return !Self.search(string, text.bytes, anchor: .end)
        case .exists:
            guard let value else { return false }
            return value != .null
        case .notExists:
            guard let value else { return true }
            return value == .null
        case .isTrue:
            return value == .bool(true)
        case .isFalse:
            return value == .bool(false)
        }
    }

    private enum Anchor { case anywhere, start, end }

    @inline(__always)
    static func equal(_ string: String, _ bytes: [UInt8]) -> Bool {
        let fast = string.utf8.withContiguousStorageIfAvailable { actual in
            bytes.withUnsafeBufferPointer { expected in
                actual.count == expected.count
                    && (actual.count == 0 || memcmpEqual(actual.baseAddress!, expected.baseAddress!, actual.count))
            }
        }
        return fast ?? string.utf8.elementsEqual(bytes)
    }

    private static func search(_ string: String, _ needle: [UInt8], anchor: Anchor) -> Bool {
        if needle.isEmpty { return true }
        var haystack = string
        return haystack.withUTF8 { hay in
            needle.withUnsafeBufferPointer { pin in
                guard hay.count >= pin.count else { return false }
                switch anchor {
                case .start:
                    return memcmpEqual(hay.baseAddress!, pin.baseAddress!, pin.count)
                case .end:
                    return memcmpEqual(hay.baseAddress! + (hay.count - pin.count), pin.baseAddress!, pin.count)
                case .anywhere:
                    // UTF-8 is self-synchronising: a byte match of a whole valid needle
                    // always starts and ends on code-point boundaries.
                    let first = pin[0]
                    var offset = 0
                    let last = hay.count - pin.count
                    while offset <= last {
                        if hay[offset] == first,
                           memcmpEqual(hay.baseAddress! + offset, pin.baseAddress!, pin.count) {
                            return true
                        }
                        offset += 1
                    }
                    return false
                }
            }
        }
    }
}

/// A member of an object by exact key. Keys are compared as UTF-8 bytes, as JavaScript compares
/// them by code units; this also skips `String ==`'s Unicode-equivalence work, which dominated
/// the cost of matching.
@inline(__always)
func fqlMember(of object: JSONObject, _ key: FQLText) -> JSONValue? {
    // `index(forKey:)` compares UTF-8 bytes in place; `keys`/`values` would build arrays.
    guard let position = object.index(forKey: key.string) else { return nil }
    return object[position].value
}

@inline(__always)
private func memcmpEqual(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for offset in 0..<count where lhs[offset] != rhs[offset] { return false }
    return true
}
