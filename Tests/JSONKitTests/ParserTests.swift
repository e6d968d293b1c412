import Testing
@testable import JSONKit

@Suite struct ParserValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue(parsing: #" {"n": null, "t": true, "f": false, "i": -12, "d": 0.5, "s": "x", "a": [1, [2]], "o": {}} "#)
        #expect(value == ["n": nil, "t": true, "f": false, "i": -12, "d": 0.5, "s": "x", "a": [1, [2]], "o": [:]])
        #expect(try JSONValue(parsing: "7") == 7)
        #expect(try JSONValue(parsing: "\"\"") == "")
        #expect(try JSONValue(parsing: " [ ] ") == [])
        #expect(try JSONValue(parsing: "\t{\r\n}\n") == [:])
    }

    @Test func keepsKeyOrder() throws {
        let value = try JSONValue(parsing: #"{"zeta":1,"alpha":2,"mid":{"b":1,"a":2},"beta":3}"#)
        #expect(value.objectValue?.keys == ["zeta", "alpha", "mid", "beta"])
        #expect(value["mid"]?.objectValue?.keys == ["b", "a"])
        #expect(value.jsonString == #"{"zeta":1,"alpha":2,"mid":{"b":1,"a":2},"beta":3}"#)
    }

    @Test func duplicateKeysKeepFirstPositionAndLastValue() throws {
        let value = try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#)
        #expect(value.jsonString == #"{"a":3,"b":2}"#)
        // Past the hash-index threshold too.
        let members = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let large = try JSONValue(parsing: "{\(members),\"k5\":\"last\"}")
        #expect(large.objectValue?.count == 40)
        #expect(large.objectValue?.index(forKey: "k5") == 5)
        #expect(large["k5"] == "last")
    }

    @Test func keysAreComparedByBytesNotCanonicalEquivalence() throws {
        // U+00E9 and "e" + U+0301 are distinct keys in JavaScript.
        let value = try JSONValue(parsing: "{\"\u{e9}\":1,\"e\u{301}\":2}")
        #expect(value.objectValue?.count == 2)
        #expect(value["\u{e9}"] == 1)
        #expect(value["e\u{301}"] == 2)
        #expect(JSONValue.string("\u{e9}") != JSONValue.string("e\u{301}"))
    }

    @Test func decodesEscapes() throws {
        #expect(try JSONValue(parsing: #""\"\\\/\b\f\n\r\t""#) == "\"\\/\u{8}\u{c}\n\r\t")
        #expect(try JSONValue(parsing: #""\u0041\u00e9\u20AC""#) == "Aé€")
        #expect(try JSONValue(parsing: #""\ud83d\ude00 grin""#) == "😀 grin")
        #expect(try JSONValue(parsing: #""plain then \n escape then more plain text""#)
            == "plain then \n escape then more plain text")
    }

    /// JavaScript keeps lone surrogates; Swift strings cannot, so they become U+FFFD.
    @Test func loneSurrogateEscapesBecomeReplacementCharacters() throws {
        #expect(try JSONValue(parsing: #""\ud800""#) == "\u{FFFD}")
        #expect(try JSONValue(parsing: #""\udc00x""#) == "\u{FFFD}x")
        #expect(try JSONValue(parsing: #""\ud800\u0041""#) == "\u{FFFD}A")
        #expect(try JSONValue(parsing: #""\ud800\ud800\udc00""#) == "\u{FFFD}\u{10000}")
    }

    @Test func acceptsRawUTF8() throws {
        #expect(try JSONValue(parsing: "\"héllo wörld — 日本 😀\"") == "héllo wörld — 日本 😀")
        #expect(try JSONValue(parsing: [0x22, 0xF4, 0x8F, 0xBF, 0xBF, 0x22]) == "\u{10FFFF}")
    }

    @Test func readsEveryInputForm() throws {
        let text = #"{"k":[1,2]}"#
        let expected: JSONValue = ["k": [1, 2]]
        let bytes = Array(text.utf8)
        #expect(try JSONParser().parse(text) == expected)
        #expect(try JSONParser().parse(bytes) == expected)
        #expect(try JSONParser().parse(bytes[...]) == expected)
        #expect(try JSONParser().parse(ContiguousArray(bytes)) == expected)
        #expect(try JSONParser().parse(AnyCollection(bytes)) == expected)
        let fromRaw = try bytes.withUnsafeBytes { raw in try JSONParser().parse(raw) }
        #expect(fromRaw == expected)
        #expect(throws: JSONParseError(.unexpectedEnd, at: 0)) { try JSONParser().parse(UnsafeBufferPointer<UInt8>(start: nil, count: 0)) }
    }
}

@Suite struct ParserNumberTests {
    static let table: [(String, Double)] = [
        ("0", 0), ("-0", -0.0), ("1", 1), ("-1", -1), ("0.1", 0.1), ("1.5e3", 1500), ("1E2", 100),
        ("1e+2", 100), ("25e-1", 2.5), ("0.30000000000000004", 0.1 + 0.2),
        ("9007199254740993", 9_007_199_254_740_992), ("18446744073709551615", 18_446_744_073_709_551_616),
        ("100000000000000000001", 1e20), ("123456789012345678901234567890", 1.2345678901234568e29),
        ("1.7976931348623157e308", .greatestFiniteMagnitude), ("5e-324", .leastNonzeroMagnitude),
        ("4.9406564584124654e-324", .leastNonzeroMagnitude),
        ("2.2250738585072011e-308", Double(bitPattern: 0x000F_FFFF_FFFF_FFFF)),
        ("1e400", .infinity), ("-1e400", -.infinity), ("1e-400", 0), ("0e999999999999", 0),
        ("0.000001", 0.000001), ("1e23", 1e23), ("8.41e21", 8.41e21),
        ("0.1000000000000000055511151231257827", 0.1),
    ]

    @Test(arguments: table)
    func convertsExactly(text: String, expected: Double) throws {
        let value = try #require(try JSONValue(parsing: text).numberValue)
        #expect(value.bitPattern == expected.bitPattern, "\(text) → \(value)")
    }

    /// The fast paths must agree with the C library's correctly rounded conversion.
    @Test func randomDecimalsMatchCorrectlyRoundedConversion() throws {
        var random = SeededRandom(seed: 42)
        for _ in 0..<20_000 {
            let integerDigits = Int(random.next() % 20) + 1
            let fractionDigits = Int(random.next() % 12)
            var text = random.next() % 2 == 0 ? "" : "-"
            text += String(random.next() % 9 + 1)
            for _ in 1..<integerDigits { text += String(random.next() % 10) }
            if fractionDigits > 0 {
                text += "."
                for _ in 0..<fractionDigits { text += String(random.next() % 10) }
            }
            if random.next() % 3 == 0 { text += "e\(Int(random.next() % 80) - 40)" }
            let parsed = try #require(try JSONValue(parsing: text).numberValue)
            let reference = try #require(Double(text))
            #expect(parsed.bitPattern == reference.bitPattern, "\(text)")
        }
    }
}

@Suite struct ParserErrorTests {
    static let textCases: [(String, JSONParseError.Reason, Int)] = [
        ("", .unexpectedEnd, 0),
        ("   ", .unexpectedEnd, 3),
        ("[1,2", .unexpectedEnd, 4),
        (#"{"a":1"#, .unexpectedEnd, 6),
        (#"{"a""#, .unexpectedEnd, 4),
        (#""abc"#, .unexpectedEnd, 4),
        (#""abc\"#, .unexpectedEnd, 5),
        (#""\u12"#, .unexpectedEnd, 5),
        ("tru", .unexpectedEnd, 3),
        ("trux", .unexpectedByte(UInt8(ascii: "x")), 3),
        ("nul", .unexpectedEnd, 3),
        ("[1,]", .unexpectedByte(UInt8(ascii: "]")), 3),
        (#"{"a":1,}"#, .unexpectedByte(UInt8(ascii: "}")), 7),
        (#"{"a" 1}"#, .unexpectedByte(UInt8(ascii: "1")), 5),
        ("{a:1}", .unexpectedByte(UInt8(ascii: "a")), 1),
        ("[1 2]", .unexpectedByte(UInt8(ascii: "2")), 3),
        ("[1}", .unexpectedByte(UInt8(ascii: "}")), 2),
        (#"{"a":1]"#, .unexpectedByte(UInt8(ascii: "]")), 6),
        ("'single'", .unexpectedByte(UInt8(ascii: "'")), 0),
        ("01", .invalidNumber, 1),
        ("-", .unexpectedEnd, 1),
        ("-a", .invalidNumber, 1),
        ("1.", .unexpectedEnd, 2),
        ("1.e5", .invalidNumber, 2),
        ("1e", .unexpectedEnd, 2),
        ("1e+", .unexpectedEnd, 3),
        ("1ex", .invalidNumber, 2),
        (".5", .unexpectedByte(UInt8(ascii: ".")), 0),
        ("+1", .unexpectedByte(UInt8(ascii: "+")), 0),
        ("NaN", .unexpectedByte(UInt8(ascii: "N")), 0),
        ("1 2", .trailingData, 2),
        ("{} x", .trailingData, 3),
        ("[]]", .trailingData, 2),
        (#""a\x""#, .invalidString, 2),
        (#""\u12G4""#, .invalidString, 5),
        ("\"a\u{1}\"", .controlCharacterInString(1), 2),
        ("\"a\tb\"", .controlCharacterInString(9), 2),
        ("\"0123456789\n\"", .controlCharacterInString(10), 11),
        ("\u{FEFF}{}", .byteOrderMark, 0),
    ]

    @Test(arguments: textCases)
    func refusesText(text: String, reason: JSONParseError.Reason, offset: Int) {
        #expect(throws: JSONParseError(reason, at: offset)) { try JSONValue(parsing: text) }
    }

    static let byteCases: [([UInt8], JSONParseError.Reason, Int)] = [
        ([0x22, 0xC0, 0xAF, 0x22], .invalidUTF8, 1),  // overlong "/"
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], .invalidUTF8, 1),  // overlong 3-byte
        ([0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], .invalidUTF8, 1),  // overlong 4-byte
        ([0x22, 0xED, 0xA0, 0x80, 0x22], .invalidUTF8, 1),  // UTF-8-encoded surrogate U+D800
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], .invalidUTF8, 1),  // above U+10FFFF
        ([0x22, 0x61, 0xFF, 0x22], .invalidUTF8, 2),
        ([0x22, 0x80, 0x22], .invalidUTF8, 1),  // lone continuation byte
        ([0x22, 0xE2, 0x82, 0x22], .invalidUTF8, 1),  // sequence cut by the closing quote
        ([0x22, 0xC3, 0x22], .invalidUTF8, 1),
        ([0x22, 0xE2, 0x82], .unexpectedEnd, 3),  // input ends inside the sequence
        (Array("\"abcdefghijklmnop".utf8) + [0xFE, 0x22], .invalidUTF8, 17),
        ([0x80], .unexpectedByte(0x80), 0),
        ([0x5B, 0x31, 0x00, 0x5D], .unexpectedByte(0), 2),
    ]

    @Test(arguments: byteCases)
    func refusesBytes(bytes: [UInt8], reason: JSONParseError.Reason, offset: Int) {
        #expect(throws: JSONParseError(reason, at: offset)) { try JSONValue(parsing: bytes) }
    }

    @Test func refusesOverlongNumbers() throws {
        let limit = JSONParser.defaultMaximumNumberLength
        let atLimit = "1" + String(repeating: "0", count: limit - 1)
        #expect(try JSONValue(parsing: "[\(atLimit)]")[0]?.numberValue == .infinity)
        let overLimit = "0." + String(repeating: "1", count: limit)
        #expect(throws: JSONParseError(.numberTooLong(limit: limit), at: 1)) { try JSONValue(parsing: "[\(overLimit)]") }
        #expect(throws: JSONParseError(.numberTooLong(limit: 5), at: 0)) {
            try JSONParser(maximumNumberLength: 5).parse("123456")
        }
    }

    @Test func limitsNestingDepthWithoutCrashing() throws {
        let depth = JSONParser.defaultMaximumDepth
        let atLimit = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try JSONValue(parsing: atLimit).arrayValue?.count == 1)
        let overLimit = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
        #expect(throws: JSONParseError(.tooDeep(limit: depth), at: depth)) { try JSONValue(parsing: overLimit) }
        #expect(throws: JSONParseError(.tooDeep(limit: depth), at: depth)) {
            try JSONValue(parsing: String(repeating: "[", count: 10_000))
        }
        let objects = String(repeating: #"{"a":"#, count: 600) + "1" + String(repeating: "}", count: 600)
        #expect(throws: JSONParseError(.tooDeep(limit: depth), at: 5 * depth)) { try JSONValue(parsing: objects) }
        // The parser itself does not recurse: a generous limit parses deep input.
        let deep = String(repeating: "[", count: 3_000) + String(repeating: "]", count: 3_000)
        #expect(try JSONParser(maximumDepth: 3_000).parse(deep).arrayValue?.count == 1)
    }

    @Test func descriptionsSayWhatIsWrongAndWhere() {
        let error = JSONParseError(.unexpectedByte(UInt8(ascii: "}")), at: 7)
        #expect(error.description.contains("'}'") && error.description.contains("byte 7"))
        #expect(JSONParseError(.invalidUTF8, at: 3).description.contains("UTF-8"))
        #expect(JSONParseError(.unexpectedByte(0xFE), at: 0).description.contains("0xFE"))
        #expect(JSONParseError(.byteOrderMark, at: 0).description.contains("byte order mark"))
        #expect(JSONParseError(.unexpectedEnd, at: 0).description.contains("empty"))
    }
}
