import Testing
@testable import JSONKit

/// Expected outputs are JavaScript's `String(x)` / `JSON.stringify(x)` per ECMA-262
/// Number::toString and QuoteJSONString.
@Suite struct NumberFormattingTests {
    static let table: [(Double, String)] = [
        (1, "1"), (1.5, "1.5"), (-0.0, "0"), (0, "0"), (1e21, "1e+21"),
        (1e20, "100000000000000000000"), (1e-7, "1e-7"), (0.000001, "0.000001"),
        (123e-20, "1.23e-18"), (0.1 + 0.2, "0.30000000000000004"),
        (9_007_199_254_740_992, "9007199254740992"), (.leastNonzeroMagnitude, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (1_152_921_504_606_846_976, "1152921504606847000"),  // 2^60
        (18_446_744_073_709_551_616, "18446744073709552000"),  // 2^64
        (-1.5e-10, "-1.5e-10"), (1.2345678901234568e20, "123456789012345680000"),
        (1e16, "10000000000000000"), (0.5, "0.5"), (1234.5678, "1234.5678"), (-1e-7, "-1e-7"),
        (0.0000012, "0.0000012"), (9.999999999999999e20, "999999999999999900000"),
        (1e22, "1e+22"), (-123.456, "-123.456"), (9_007_199_254_740_991, "9007199254740991"),
        (-9_007_199_254_740_991, "-9007199254740991"), (9_007_199_254_740_994, "9007199254740994"),
        (4.35, "4.35"), (0.1, "0.1"), (100, "100"), (1e15, "1000000000000000"),
        (12_345_678.9, "12345678.9"), (1.7976931348623157e300, "1.7976931348623156e+300"),
        (2.2250738585072014e-308, "2.2250738585072014e-308"), (0.000123, "0.000123"),
        (1.23e-5, "0.0000123"), (-42, "-42"), (27.5, "27.5"),
        (.nan, "null"), (.infinity, "null"), (-.infinity, "null"),
    ]

    @Test(arguments: table)
    func formatsAsJavaScript(value: Double, expected: String) {
        #expect(JSNumberFormatter.string(from: value) == expected)
        #expect(JSONValue.number(value).jsonString == expected)
    }

    /// Several hundred doubles of every magnitude, formatted by V8 (see the fixture file).
    @Test func agreesWithV8OnFixture() {
        for (bits, expected) in javaScriptNumberStrings {
            let value = Double(bitPattern: bits)
            #expect(JSNumberFormatter.string(from: value) == expected, "bits 0x\(String(bits, radix: 16))")
        }
    }

    @Test func randomDoublesRoundTripThroughTheirText() throws {
        var random = SeededRandom(seed: 0x5EED_0001)
        for _ in 0..<20_000 {
            let value = Double(bitPattern: random.next())
            guard value.isFinite else { continue }
            let text = JSNumberFormatter.string(from: value)
            let parsed = try JSONParser().parse(text)
            #expect(parsed.numberValue?.bitPattern == (value == 0 ? 0 : value.bitPattern), "\(text)")
            // JS notation: plain between 1e-7 and 1e21, never a leading "+" or an "e+0" padding.
            #expect(!text.contains("e+0") && !text.contains("e-0") && !text.hasSuffix("."))
        }
    }
}

@Suite struct StringEscapingTests {
    static let table: [(String, String)] = [
        ("", #""""#),
        ("plain ascii", #""plain ascii""#),
        ("\u{0}\u{1f}\u{7f}\u{2028}/\u{8}\u{c}\n\r\t\"\\é😀",
         "\"\\u0000\\u001f\u{7f}\u{2028}/\\b\\f\\n\\r\\t\\\"\\\\é😀\""),
        ("\u{1}\u{2}\u{b}\u{e}\u{1a}", #""\u0001\u0002\u000b\u000e\u001a""#),
        ("a long string, longer than eight \"bytes\" to cross words",
         #""a long string, longer than eight \"bytes\" to cross words""#),
        ("日本語のテキスト\\end", #""日本語のテキスト\\end""#),
    ]

    @Test(arguments: table)
    func escapesAsJavaScript(string: String, expected: String) {
        #expect(JSONValue.string(string).jsonString == expected)
    }

    /// Every escape position in and around an 8-byte word against a byte-at-a-time reference.
    @Test func escapingAgreesWithReferenceAtEveryPosition() {
        for length in 0..<24 {
            for position in 0..<max(length, 1) {
                for special in ["\"", "\\", "\n", "\u{0}", "\u{1f}", "é", "\u{7f}"] {
                    var characters = Array(repeating: "x", count: length)
                    if position < length { characters[position] = special }
                    let string = characters.joined()
                    #expect(JSONValue.string(string).jsonString == referenceEscape(string))
                }
            }
        }
    }

    private func referenceEscape(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\u{8}": result += "\\b"
            case "\u{c}": result += "\\f"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{0}"..."\u{1f}":
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

@Suite struct SerializerLayoutTests {
    let value: JSONValue = ["a": [], "b": [:], "c": [1, ["d": 2]], "e": "x", "f": nil, "g": true]

    @Test func compactKeepsKeyOrder() {
        #expect(value.jsonString == #"{"a":[],"b":{},"c":[1,{"d":2}],"e":"x","f":null,"g":true}"#)
        let reordered: JSONValue = ["z": 1, "a": 2, "m": 3]
        #expect(reordered.jsonString == #"{"z":1,"a":2,"m":3}"#)
    }

    @Test func prettyMatchesStringifyWithIndentTwo() {
        let expected = """
            {
              "a": [],
              "b": {},
              "c": [
                1,
                {
                  "d": 2
                }
              ],
              "e": "x",
              "f": null,
              "g": true
            }
            """
        #expect(String(decoding: JSONSerializer.serializePretty(value), as: UTF8.self) == expected)
        #expect(value.prettyJSONString == expected)
    }

    @Test func prettyIndentIsClampedLikeJavaScript() {
        let small: JSONValue = ["k": [1]]
        #expect(String(decoding: JSONSerializer.serializePretty(small, indent: 0), as: UTF8.self) == #"{"k":[1]}"#)
        let wide = String(decoding: JSONSerializer.serializePretty(small, indent: 20), as: UTF8.self)
        #expect(wide == "{\n" + String(repeating: " ", count: 10) + "\"k\": [\n" + String(repeating: " ", count: 20)
            + "1\n" + String(repeating: " ", count: 10) + "]\n}")
        #expect(String(decoding: JSONSerializer.serializePretty("s"), as: UTF8.self) == #""s""#)
    }

    @Test func serializeIntoAppendsToTheBuffer() {
        var buffer: [UInt8] = Array("prefix:".utf8)
        JSONSerializer.serialize([1, "two"], into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == #"prefix:[1,"two"]"#)
    }
}
