import JSONKit

/// The Liquid filters `@liquid` supports, with LiquidJS's coercions (numbers through `Number()`,
/// strings through LiquidJS's `stringify`, where null and undefined are empty).
enum LiquidFilters {
    static func apply(_ name: String, to value: JSONValue?, arguments: [JSONValue?]) -> JSONValue? {
        func argument(_ index: Int) -> JSONValue? { index < arguments.count ? arguments[index] : nil }
        func text(_ value: JSONValue?) -> String { LiquidContext.stringify(value) }
        func number(_ value: JSONValue?) -> Double { JS.number(value) }
        let string = text(value)

        switch name {
        case "upcase": return .string(string.uppercased())
        case "downcase": return .string(string.lowercased())
        case "capitalize":
            let units = Array(string.utf16)
            guard let first = units.first else { return .string("") }
            let head = String(decoding: [first], as: UTF16.self).uppercased()
            return .string(head + String(decoding: units.dropFirst(), as: UTF16.self).lowercased())
        case "append": return .string(string + text(argument(0)))
        case "prepend": return .string(text(argument(0)) + string)
        case "strip": return .string(JS.trim(string, leading: true, trailing: true))
        case "lstrip": return .string(JS.trim(string, leading: true, trailing: false))
        case "rstrip": return .string(JS.trim(string, leading: false, trailing: true))
        case "strip_newlines": return .string(string.replacingAll("\r\n", with: "").replacingAll("\n", with: ""))
        case "strip_html": return .string(stripHTML(string))
        case "escape", "escape_once": return .string(escapeHTML(name == "escape_once" ? unescapeHTML(string) : string))
        case "replace": return .string(string.replacingAll(text(argument(0)), with: text(argument(1))))
        case "replace_first": return .string(string.replacingFirst(text(argument(0)), with: text(argument(1))))
        case "replace_last": return .string(string.replacingLast(text(argument(0)), with: text(argument(1))))
        case "remove": return .string(string.replacingAll(text(argument(0)), with: ""))
        case "remove_first": return .string(string.replacingFirst(text(argument(0)), with: ""))
        case "remove_last": return .string(string.replacingLast(text(argument(0)), with: ""))
        case "truncate":
            let length = arguments.isEmpty ? 50 : integer(number(argument(0)))
            let ellipsis = arguments.count > 1 ? text(argument(1)) : "..."
            let units = Array(string.utf16)
            if units.count <= length { return .string(string) }
            let keep = max(0, length - ellipsis.utf16.count)
            return .string(String(decoding: units.prefix(keep), as: UTF16.self) + ellipsis)
        case "truncatewords":
            var count = arguments.isEmpty ? 15 : integer(number(argument(0)))
            if count <= 0 { count = 1 }
            let ellipsis = arguments.count > 1 ? text(argument(1)) : "..."
            let words = string.split(whereSeparator: { $0.unicodeScalars.allSatisfy(JS.isWhitespace) })
            if words.count <= count { return .string(words.joined(separator: " ")) }
            return .string(words.prefix(count).joined(separator: " ") + ellipsis)
        case "split":
            let separator = text(argument(0))
            var parts: [String]
            if separator.isEmpty {
                parts = string.utf16.map { String(decoding: [$0], as: UTF16.self) }
            } else {
                parts = string.components(separatedByLiteral: separator)
            }
            while parts.last == "" { parts.removeLast() }
            return .array(parts.map(JSONValue.string))
        case "join":
            let separator = arguments.isEmpty ? " " : text(argument(0))
            guard case .array(let array)? = value else { return value.map { .string(text($0)) } ?? .string("") }
            return .string(JS.arrayJoin(array, separator: separator))
        case "first":
            if case .array(let array)? = value { return array.first }
            if case .string = value { return .string(string.utf16.first.map { String(decoding: [$0], as: UTF16.self) } ?? "") }
            return .string("")
        case "last":
            if case .array(let array)? = value { return array.last }
            if case .string = value { return .string(string.utf16.last.map { String(decoding: [$0], as: UTF16.self) } ?? "") }
            return .string("")
        case "size":
            switch value {
            case .array(let array)?: return .number(Double(array.count))
            case .string(let string)?: return .number(Double(string.utf16.count))
            case .object(let object)?: return .number(Double(object.count))
            default: return .number(0)
            }
        case "slice":
            let start = integer(number(argument(0)))
            let length = arguments.count > 1 ? integer(number(argument(1))) : 1
            func bounds(_ count: Int) -> Range<Int> {
                let begin = start < 0 ? max(0, count + start) : min(start, count)
                return begin..<min(count, begin + max(0, length))
            }
            if case .array(let array)? = value { return .array(Array(array[bounds(array.count)])) }
            let units = Array(string.utf16)
            return .string(String(decoding: units[bounds(units.count)], as: UTF16.self))
        case "compact":
            guard case .array(let array)? = value else { return value }
            return .array(array.filter { !$0.isNull })
        case "default":
            let fallback = argument(0)
            switch value {
            case .string(let string)?: return string.isEmpty ? fallback : value
            case .array(let array)?: return array.isEmpty ? fallback : value
            default: return LiquidContext.isTruthy(value) ? value : fallback
            }
        case "plus": return .number(number(value) + number(argument(0)))
        case "minus": return .number(number(value) - number(argument(0)))
        case "times": return .number(number(value) * number(argument(0)))
        case "divided_by":
            let quotient = number(value) / number(argument(0))
            return .number(JS.isTruthy(argument(1)) ? quotient.rounded(.down) : quotient)
        case "modulo":
            return .number(number(value).truncatingRemainder(dividingBy: number(argument(0))))
        case "abs": return .number(abs(number(value)))
        case "ceil": return .number(number(value).rounded(.up))
        case "floor": return .number(number(value).rounded(.down))
        case "round":
            let digits = arguments.isEmpty ? 0 : number(argument(0))
            let scale = pow10(digits)
            return .number(jsRound(number(value) * scale) / scale)
        case "at_least": return .number(jsMax(number(value), number(argument(0))))
        case "at_most": return .number(jsMin(number(value), number(argument(0))))
        case "url_encode": return .string(percentEncode(string).replacingAll("%20", with: "+"))
        case "url_decode": return .string(percentDecode(string.replacingAll("+", with: " ")))
        default: return value
        }
    }

    /// A JavaScript number used as a count or an index: truncated, NaN as 0, clamped.
    static func integer(_ value: Double) -> Int {
        guard !value.isNaN else { return 0 }
        return Int(Swift.max(-1e15, Swift.min(1e15, value.rounded(.towardZero))))
    }

    /// `Math.round`: halves go toward +∞.
    static func jsRound(_ value: Double) -> Double {
        guard value.isFinite else { return value }
        let floor = value.rounded(.down)
        return value - floor >= 0.5 ? floor + 1 : floor
    }

    static func jsMax(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
    static func jsMin(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }

    static func pow10(_ exponent: Double) -> Double {
        var result = 1.0
        let count = integer(abs(exponent))
        for _ in 0..<Swift.min(count, 400) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }

    static func escapeHTML(_ string: String) -> String {
        var output = ""
        for character in string {
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&#34;"
            case "'": output += "&#39;"
            default: output.append(character)
            }
        }
        return output
    }

    static func unescapeHTML(_ string: String) -> String {
        string.replacingAll("&lt;", with: "<").replacingAll("&gt;", with: ">").replacingAll("&#34;", with: "\"")
            .replacingAll("&#39;", with: "'").replacingAll("&amp;", with: "&")
    }

    static func stripHTML(_ string: String) -> String {
        var output = ""
        var insideTag = false
        for character in string {
            if character == "<" { insideTag = true; continue }
            if character == ">" && insideTag { insideTag = false; continue }
            if !insideTag { output.append(character) }
        }
        return output
    }

    /// `encodeURIComponent`.
    static func percentEncode(_ string: String) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()".utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in string.utf8 {
            if unreserved.contains(byte) {
                bytes.append(byte)
            } else {
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func percentDecode(_ string: String) -> String {
        let bytes = Array(string.utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = Character(Unicode.Scalar(bytes[index + 1])).hexDigitValue,
                let low = Character(Unicode.Scalar(bytes[index + 2])).hexDigitValue
            {
                output.append(UInt8(high * 16 + low))
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}

extension String {
    /// Splits on every occurrence of a literal separator (UTF-16 exact, as JavaScript's `split`).
    func components(separatedByLiteral separator: String) -> [String] {
        let units = Array(utf16), needle = Array(separator.utf16)
        guard !needle.isEmpty else { return [self] }
        var parts: [String] = []
        var start = 0, index = 0
        while index + needle.count <= units.count {
            if units[index..<(index + needle.count)].elementsEqual(needle) {
                parts.append(String(decoding: units[start..<index], as: UTF16.self))
                index += needle.count
                start = index
            } else {
                index += 1
            }
        }
        parts.append(String(decoding: units[start...], as: UTF16.self))
        return parts
    }

    func replacingAll(_ needle: String, with replacement: String) -> String {
        if needle.isEmpty { return self }
        return components(separatedByLiteral: needle).joined(separator: replacement)
    }

    func replacingFirst(_ needle: String, with replacement: String) -> String {
        let parts = components(separatedByLiteral: needle)
        guard parts.count > 1 else { return self }
        return parts[0] + replacement + parts.dropFirst().joined(separator: needle)
    }

    func replacingLast(_ needle: String, with replacement: String) -> String {
        let parts = components(separatedByLiteral: needle)
        guard parts.count > 1 else { return self }
        return parts.dropLast().joined(separator: needle) + replacement + parts.last!
    }
}
