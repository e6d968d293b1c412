import JSONKit

// Segment's mapping-kit runs in JavaScript, and users rely on its coercions. These helpers
// reproduce exactly the JavaScript rules the directives depend on; `nil` stands for `undefined`.

enum JS {
    /// `Object.prototype.toString`-based type name, as mapping-kit's `realTypeOf` reports it.
    static func typeName(_ value: JSONValue?) -> String {
        switch value {
        case nil: "undefined"
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// `Boolean(value)`.
    static func isTruthy(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null: false
        case .bool(let bool): bool
        case .number(let number): !(number == 0 || number.isNaN)
        case .string(let string): !string.isEmpty
        case .array, .object: true
        }
    }

    /// `String(number)`.
    static func string(fromNumber number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        return JSNumberFormatter.string(from: number)
    }

    /// `String(value)`: arrays join their elements with commas (null and undefined as empty),
    /// plain objects print as `[object Object]`.
    static func string(_ value: JSONValue?) -> String {
        switch value {
        case nil: "undefined"
        case .null: "null"
        case .bool(let bool): bool ? "true" : "false"
        case .number(let number): string(fromNumber: number)
        case .string(let string): string
        case .array(let array): arrayJoin(array, separator: ",")
        case .object: "[object Object]"
        }
    }

    /// `Array.prototype.join`.
    static func arrayJoin(_ array: [JSONValue], separator: String) -> String {
        var text = ""
        for (offset, element) in array.enumerated() {
            if offset > 0 { text += separator }
            if case .null = element { continue }
            text += string(element)
        }
        return text
    }

    /// `Number(value)` (ToNumber).
    static func number(_ value: JSONValue?) -> Double {
        switch value {
        case nil: .nan
        case .null: 0
        case .bool(let bool): bool ? 1 : 0
        case .number(let number): number
        case .string(let string): number(fromString: string)
        case .array, .object: number(fromString: string(value))
        }
    }

    /// StringToNumber: trimmed decimal, hex/octal/binary literals, `Infinity`; empty is 0.
    static func number(fromString string: String) -> Double {
        let trimmed = trim(string, leading: true, trailing: true)
        if trimmed.isEmpty { return 0 }
        let lower = trimmed.lowercased()
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) {
            let digits = lower.dropFirst(2)
            guard !digits.isEmpty else { return .nan }
            var result = 0.0
            for character in digits {
                guard let digit = character.hexDigitValue, digit < radix else { return .nan }
                result = result * Double(radix) + Double(digit)
            }
            return result
        }
        switch trimmed {
        case "Infinity", "+Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: break
        }
        // Swift's Double(String) also accepts "nan", "inf" and hex floats, which JS refuses.
        let allowed = trimmed.unicodeScalars.allSatisfy {
            ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-"
        }
        guard allowed, trimmed.contains(where: \.isNumber), let number = Double(trimmed) else { return .nan }
        return number
    }

    /// JavaScript's WhiteSpace and LineTerminator code points, which `trim` removes.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F,
            0x205F, 0x3000, 0xFEFF:
            true
        default:
            false
        }
    }

    static func trim(_ string: String, leading: Bool, trailing: Bool) -> String {
        var scalars = Substring(string).unicodeScalars[...]
        if leading { while let first = scalars.first, isWhitespace(first) { scalars.removeFirst() } }
        if trailing { while let last = scalars.last, isWhitespace(last) { scalars.removeLast() } }
        return String(scalars)
    }

    /// `value != ''` with loose equality, as `@if`'s `blank` uses it: 0, false, '' and arrays
    /// whose `join()` is empty all equal `''`.
    static func looselyEqualsEmptyString(_ value: JSONValue) -> Bool {
        switch value {
        case .null: false
        case .bool(let bool): !bool
        case .number(let number): number == 0
        case .string(let string): string.isEmpty
        case .array: string(value).isEmpty
        case .object: false
        }
    }

    /// The `===` of two JSON values. Containers compare by content: two mapping results that
    /// JavaScript would hold as one shared reference are equal either way.
    static func strictlyEquals(_ lhs: JSONValue?, _ rhs: JSONValue?) -> Bool {
        switch (lhs, rhs) {
        case (nil, nil): true
        case (.number(let left), .number(let right)): left == right
        default: lhs == rhs
        }
    }

    /// The abstract relational comparison `lhs < rhs`; `nil` when a NaN makes it undefined.
    static func lessThan(_ lhs: JSONValue?, _ rhs: JSONValue?) -> Bool? {
        let left = primitive(lhs), right = primitive(rhs)
        if case .string(let leftString)? = left, case .string(let rightString)? = right {
            return leftString.utf16.lexicographicallyPrecedes(rightString.utf16)
        }
        let leftNumber = number(left), rightNumber = number(right)
        if leftNumber.isNaN || rightNumber.isNaN { return nil }
        return leftNumber < rightNumber
    }

    /// ToPrimitive: containers become their string form.
    static func primitive(_ value: JSONValue?) -> JSONValue? {
        switch value {
        case .array, .object: .string(string(value))
        default: value
        }
    }
}

// MARK: - Property access (`get` in Segment's core)

/// A pre-split property path, as `get(obj, 'a.b[0].c')` walks it.
struct PropertyPath: Sendable, Hashable {
    var keys: [String]

    /// Splits like Segment's `get`: on `.`, on `[` before a quote or digit, and on a run of `]`
    /// after a quote or digit; empty chunks are dropped and every quote character is removed.
    /// `a[b]` (no quote or digit) keeps its brackets as part of the key.
    init(parsing path: String) {
        let scalars = Array(path.unicodeScalars)
        func isQuoteOrDigit(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "\"" || scalar == "'" || (scalar >= "0" && scalar <= "9")
        }
        var chunks: [String] = []
        var current = String.UnicodeScalarView()
        var index = 0
        func flush() {
            let chunk = String(String.UnicodeScalarView(current.filter { $0 != "\"" && $0 != "'" }))
            // Filtering happens before the quote removal in `get`: a chunk of only quotes stays as "".
            if !current.isEmpty { chunks.append(chunk) }
            current = String.UnicodeScalarView()
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "[", index + 1 < scalars.count, isQuoteOrDigit(scalars[index + 1]) {
                flush()
                index += 1
            } else if scalar == "." {
                flush()
                index += 1
            } else if scalar == "]", index > 0, isQuoteOrDigit(scalars[index - 1]) {
                flush()
                while index < scalars.count, scalars[index] == "]" { index += 1 }
            } else {
                current.append(scalar)
                index += 1
            }
        }
        flush()
        keys = chunks
    }

    init(keys: [String]) {
        self.keys = keys
    }

    /// `get(root, path)`: the root for an empty path; a falsy value met midway is returned as it is
    /// (`prevObj && prevObj[key]`), so `{"a": 0}` at `a.b` gives `0`.
    func lookUp(in root: JSONValue) -> JSONValue? {
        var current: JSONValue = root
        for key in keys {
            guard JS.isTruthy(current) else { return current }
            guard let next = JS.property(of: current, key) else { return nil }
            current = next
        }
        return current
    }
}

extension JS {
    /// `value[key]` for JSON values: own members of objects, canonical indices and `length` of
    /// arrays and strings (strings index by UTF-16 code unit, as JavaScript does).
    static func property(of value: JSONValue, _ key: String) -> JSONValue? {
        switch value {
        case .object(let object):
            return object[key]
        case .array(let array):
            if key == "length" { return .number(Double(array.count)) }
            guard let index = canonicalIndex(key), index < array.count else { return nil }
            return array[index]
        case .string(let string):
            if key == "length" { return .number(Double(string.utf16.count)) }
            guard let index = canonicalIndex(key), index < string.utf16.count else { return nil }
            let unit = string.utf16[string.utf16.index(string.utf16.startIndex, offsetBy: index)]
            return .string(String(decoding: [unit], as: UTF16.self))
        default:
            return nil
        }
    }

    /// An array index as JavaScript accepts one: digits without a leading zero.
    static func canonicalIndex(_ key: String) -> Int? {
        guard let first = key.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        if first == UInt8(ascii: "0") && key.utf8.count > 1 { return nil }
        guard key.utf8.count < 11, key.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let index = Int(key), index < 4_294_967_295
        else { return nil }
        return index
    }
}

// MARK: - String.prototype.replace with a literal pattern

/// `value.replace(new RegExp(escaped(pattern), flags), replacement)` where the pattern has been
/// escaped to match literally, as `@replace` does.
struct LiteralReplacement: Sendable, Hashable {
    var pattern: [UInt16]
    var replacement: [UInt16]
    var isGlobal: Bool
    var ignoresCase: Bool

    init(pattern: String, replacement: String, isGlobal: Bool, ignoresCase: Bool) {
        self.pattern = Array(pattern.utf16)
        self.replacement = Array(replacement.utf16)
        self.isGlobal = isGlobal
        self.ignoresCase = ignoresCase
        if ignoresCase { self.pattern = self.pattern.map(LiteralReplacement.canonicalize) }
    }

    /// Case folding of a non-Unicode regular expression with the `i` flag: a code unit maps to its
    /// upper case only if that is one code unit and does not carry a non-ASCII unit into ASCII.
    static func canonicalize(_ unit: UInt16) -> UInt16 {
        if unit < 0x80 {
            return (unit >= 0x61 && unit <= 0x7A) ? unit - 0x20 : unit
        }
        guard let scalar = Unicode.Scalar(UInt32(unit)) else { return unit }
        let upper = Array(String(scalar).uppercased().utf16)
        guard upper.count == 1, upper[0] >= 0x80 else { return unit }
        return upper[0]
    }

    func apply(to value: String) -> String {
        let input = Array(value.utf16)
        guard !pattern.isEmpty, input.count >= pattern.count else { return value }
        let folded = ignoresCase ? input.map(LiteralReplacement.canonicalize) : input
        var output: [UInt16] = []
        output.reserveCapacity(input.count)
        var copiedUpTo = 0
        var position = 0
        while position + pattern.count <= input.count {
            if folded[position] == pattern[0] && folded[position..<(position + pattern.count)].elementsEqual(pattern) {
                output.append(contentsOf: input[copiedUpTo..<position])
                let matchEnd = position + pattern.count
                expandReplacement(into: &output, input: input, matchStart: position, matchEnd: matchEnd)
                copiedUpTo = matchEnd
                position = matchEnd
                if !isGlobal { break }
            } else {
                position += 1
            }
        }
        if copiedUpTo == 0 && output.isEmpty { return value }
        output.append(contentsOf: input[copiedUpTo...])
        return String(decoding: output, as: UTF16.self)
    }

    /// GetSubstitution: `$$`, `$&`, `` $` `` and `$'`; the escaped pattern has no capture groups,
    /// so `$1` and `$<name>` stay as written.
    private func expandReplacement(into output: inout [UInt16], input: [UInt16], matchStart: Int, matchEnd: Int) {
        let dollar = UInt16(UInt8(ascii: "$"))
        var index = 0
        while index < replacement.count {
            let unit = replacement[index]
            if unit == dollar, index + 1 < replacement.count {
                switch replacement[index + 1] {
                case dollar:
                    output.append(dollar); index += 2; continue
                case UInt16(UInt8(ascii: "&")):
                    output.append(contentsOf: input[matchStart..<matchEnd]); index += 2; continue
                case UInt16(UInt8(ascii: "`")):
                    output.append(contentsOf: input[0..<matchStart]); index += 2; continue
                case UInt16(UInt8(ascii: "'")):
                    output.append(contentsOf: input[matchEnd...]); index += 2; continue
                default:
                    break
                }
            }
            output.append(unit)
            index += 1
        }
    }
}
