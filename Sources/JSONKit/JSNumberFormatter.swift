/// Formats doubles as JavaScript's `Number.prototype.toString()` does (ECMA-262
/// Number::toString with radix 10), which is also how `JSON.stringify` writes numbers.
///
/// The digits are the shortest that round-trip to the same double — Swift's own
/// `description` computes exactly those — laid out by JavaScript's rules: plain notation for
/// decimal exponents from -7 to 20 (`100000000000000000000`, `0.000001`), exponent notation
/// otherwise (`1e+21`, `1e-7`, `1.23e-18`), `-0` as `0`, NaN and ±infinity as `null` (what
/// `JSON.stringify` writes for them).
public enum JSNumberFormatter {
    public static func string(from value: Double) -> String {
        var output: [UInt8] = []
        write(value, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the JavaScript form of `value` to `output`.
    public static func write(_ value: Double, into output: inout [UInt8]) {
        guard value.isFinite else {
            output.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
            return
        }
        if value == 0 {
            output.append(UInt8(ascii: "0"))
            return
        }
        // Below 2^53 every integer is a distinct double, so its shortest round-trip digits are
        // the integer's own digits: print it directly.
        if value.magnitude < 9_007_199_254_740_992, value == value.rounded(.towardZero) {
            writeInteger(Int64(value), into: &output)
            return
        }
        writeFromShortestDigits(value, into: &output)
    }

    static func writeInteger(_ value: Int64, into output: inout [UInt8]) {
        if value < 0 { output.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var cursor = buffer.count
            repeat {
                cursor -= 1
                buffer[cursor] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[cursor...]))
        }
    }

    @inline(never)
    static func writeFromShortestDigits(_ value: Double, into output: inout [UInt8]) {
        // Swift writes the shortest round-trip digits as e.g. "-1.2345e-07", "123.45",
        // "5e-324"; read back the digits and the decimal exponent and lay them out as JS does.
        var digits: [UInt8] = []
        digits.reserveCapacity(17)
        var digitsBeforePoint = 0
        var seenPoint = false
        var exponent = 0
        var exponentNegative = false
        var inExponent = false
        for byte in value.magnitude.description.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inExponent {
                    exponent = exponent * 10 + Int(byte - UInt8(ascii: "0"))
                } else {
                    digits.append(byte)
                    if !seenPoint { digitsBeforePoint += 1 }
                }
            case UInt8(ascii: "."): seenPoint = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
            case UInt8(ascii: "-"): exponentNegative = true
            default: break  // "+"
            }
        }
        // value = 0.d1d2d3... × 10^pointPosition once leading zeros are dropped.
        var pointPosition = digitsBeforePoint + (exponentNegative ? -exponent : exponent)
        var first = 0
        while first < digits.count - 1, digits[first] == UInt8(ascii: "0") {
            first += 1
            pointPosition -= 1
        }
        var last = digits.count
        while last > first + 1, digits[last - 1] == UInt8(ascii: "0") { last -= 1 }
        let significant = digits[first..<last]
        let k = significant.count
        let n = pointPosition

        if value < 0 { output.append(UInt8(ascii: "-")) }
        if k <= n, n <= 21 {
            output.append(contentsOf: significant)
            output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: n - k))
        } else if 0 < n, n <= 21 {
            output.append(contentsOf: significant.prefix(n))
            output.append(UInt8(ascii: "."))
            output.append(contentsOf: significant.dropFirst(n))
        } else if -6 < n, n <= 0 {
            output.append(UInt8(ascii: "0"))
            output.append(UInt8(ascii: "."))
            output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -n))
            output.append(contentsOf: significant)
        } else {
            output.append(significant[significant.startIndex])
            if k > 1 {
                output.append(UInt8(ascii: "."))
                output.append(contentsOf: significant.dropFirst())
            }
            output.append(UInt8(ascii: "e"))
            output.append(n - 1 < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            writeInteger(Int64(abs(n - 1)), into: &output)
        }
    }
}
