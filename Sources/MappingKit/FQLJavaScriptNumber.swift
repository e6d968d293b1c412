/// JavaScript's `Number(string)` and `String(number)`, which Segment's subscription code applies
/// to literals: `userId = 123` compares `userId` with the string `String(123)`, and
/// `properties.total > "10"` compares with `Number("10")`.
///
/// Prefixed `FQL` so that it cannot collide with helpers elsewhere in the module.
enum FQLJavaScriptNumber {
    /// `Number(text)`: surrounding whitespace is ignored, the empty string is 0, and anything that
    /// is not a whole numeric literal is NaN (`parseFloat` would accept a prefix; `Number` does not).
    static func parse(_ text: String) -> Double {
        let scalars = Array(text.unicodeScalars)
        var lower = 0
        var upper = scalars.count
        while lower < upper, isWhitespace(scalars[lower]) { lower += 1 }
        while upper > lower, isWhitespace(scalars[upper - 1]) { upper -= 1 }
        if lower == upper { return 0 }
        let literal = scalars[lower..<upper]

        if literal.count > 2, literal[lower] == "0", let radix = radix(of: literal[lower + 1]) {
            return parseInteger(literal.dropFirst(2), radix: radix)
        }

        var position = lower
        var sign = 1.0
        if literal[position] == "+" || literal[position] == "-" {
            if literal[position] == "-" { sign = -1 }
            position += 1
        }
        let unsigned = literal[position...]
        if unsigned.elementsEqual("Infinity".unicodeScalars) { return sign * .infinity }

        // Validate the decimal grammar here: Swift's Double(String) also accepts forms
        // JavaScript rejects ("nan", "inf", hexadecimal floats).
        var integerDigits = ""
        var fractionDigits = ""
        var exponent = ""
        while position < upper, isDigit(literal[position]) {
            integerDigits.unicodeScalars.append(literal[position]); position += 1
        }
        if position < upper, literal[position] == "." {
            position += 1
            while position < upper, isDigit(literal[position]) {
                fractionDigits.unicodeScalars.append(literal[position]); position += 1
            }
        }
        if integerDigits.isEmpty && fractionDigits.isEmpty { return .nan }
        if position < upper, literal[position] == "e" || literal[position] == "E" {
            position += 1
            var exponentSign = "+"
            if position < upper, literal[position] == "+" || literal[position] == "-" {
                exponentSign = String(literal[position]); position += 1
            }
            var exponentDigits = ""
            while position < upper, isDigit(literal[position]) {
                exponentDigits.unicodeScalars.append(literal[position]); position += 1
            }
            if exponentDigits.isEmpty { return .nan }
            exponent = "e" + exponentSign + exponentDigits
        }
        if position != upper { return .nan }

        let normalized = (integerDigits.isEmpty ? "0" : integerDigits) + "."
            + (fractionDigits.isEmpty ? "0" : fractionDigits) + exponent
        guard let magnitude = Double(normalized) else { return .nan }
        return sign * magnitude
    }

    /// `String(number)`: the shortest digits that round-trip, laid out as ECMAScript's
    /// Number::toString does (`1.5`, `100`, `1e+21`, `1e-7`).
    static func format(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        if number == 0 { return "0" }
        let negative = number < 0
        let (digits, pointPosition) = shortestDigits(of: number.magnitude)
        let k = digits.count
        let n = pointPosition
        var result = negative ? "-" : ""
        if k <= n && n <= 21 {
            result += digits + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            result += digits.prefix(n) + "." + digits.dropFirst(n)
        } else if -6 < n && n <= 0 {
            result += "0." + String(repeating: "0", count: -n) + digits
        } else {
            let exponent = n - 1
            result += digits.prefix(1)
            if k > 1 { result += "." + digits.dropFirst(1) }
            result += "e" + (exponent < 0 ? "-" : "+") + String(exponent.magnitude)
        }
        return result
    }

    /// The shortest round-trip decimal digits of a positive finite number (no leading or trailing
    /// zeros) and `n` such that the value is `0.digits × 10^n`. Swift's `description` already
    /// prints the shortest round-trip digits; only its layout differs from JavaScript's.
    private static func shortestDigits(of number: Double) -> (digits: String, pointPosition: Int) {
        let text = number.description
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        var digits = ""
        var pointPosition = 0
        var sawPoint = false
        for character in mantissa {
            if character == "." { sawPoint = true; continue }
            digits.append(character)
            if !sawPoint { pointPosition += 1 }
        }
        pointPosition += exponent
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        return (digits, pointPosition)
    }

    private static func radix(of scalar: Unicode.Scalar) -> Int? {
        switch scalar {
        case "x", "X": 16
        case "o", "O": 8
        case "b", "B": 2
        default: nil
        }
    }

    private static func parseInteger(_ digits: ArraySlice<Unicode.Scalar>, radix: Int) -> Double {
        var value = 0.0
        for scalar in digits {
            guard let digit = Int(String(scalar), radix: 16), digit < radix else { return .nan }
            value = value * Double(radix) + Double(digit)
        }
        return value
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 0x30 && scalar.value <= 0x39
    }

    /// ECMAScript's StrWhiteSpaceChar: WhiteSpace and LineTerminator.
    private static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0xFEFF, 0x2028, 0x2029: return true
        default: return scalar.properties.generalCategory == .spaceSeparator
        }
    }
}
