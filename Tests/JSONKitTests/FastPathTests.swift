import Testing
@testable import JSONKit

/// The parser's fast paths (inline strings built word by word, whitespace skipped eight bytes at
/// a time, keys fingerprinted for duplicate detection) against the plain definitions, at every
/// length around their boundaries and at the very end of the buffer, where fewer than 16 bytes
/// can be read.
@Suite struct FastPathTests {
    /// Strings that differ in every position, so a byte lost or shifted changes them.
    private func text(length: Int, seed: Int = 0) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-".utf8)
        return String(decoding: (0..<length).map { alphabet[($0 * 7 + seed) % alphabet.count] }, as: UTF8.self)
    }

    @Test func smallStringsAreBuiltDirectlyOnThisPlatform() {
        #if (arch(x86_64) || arch(arm64)) && _endian(little)
        #expect(SmallASCIIString.isAvailable)
        #endif
    }

    @Test func builtSmallStringsBehaveAsOrdinaryOnes() throws {
        for length in 0...SmallASCIIString.capacity {
            let expected = text(length: length)
            let built = Array(expected.utf8).withUnsafeBufferPointer { buffer in
                SmallASCIIString.make(
                    SmallASCIIString.wordsByteByByte(
                        buffer.baseAddress ?? UnsafePointer(bitPattern: 1).unsafelyUnwrapped, count: length),
                    count: length)
            }
            #expect(built == expected)
            #expect(built.hashValue == expected.hashValue)
            #expect(built.utf8.count == length)
            #expect(Array(built.utf8) == Array(expected.utf8))
            #expect(built + "!" == expected + "!")
            #expect(Set([built, expected]).count == 1)
        }
    }

    @Test func stringValuesOfEveryLengthRoundTrip() throws {
        for length in 0...40 {
            let string = text(length: length)
            // At the end of the buffer (the closing quote is the last byte) and in the middle.
            #expect(try JSONValue(parsing: "\"\(string)\"") == .string(string))
            let array = try JSONValue(parsing: "[\"\(string)\", \"\(string)x\"]                    ")
            #expect(array == [.string(string), .string(string + "x")])
            #expect(array[0]?.stringValue?.utf8.count == length)
        }
    }

    @Test func keysOfEveryLengthRoundTrip() throws {
        for length in 0...40 {
            let key = text(length: length)
            let other = text(length: length, seed: 3)
            let value = try JSONValue(parsing: "{\"\(key)\":1,\"\(other)\":2}")
            if key == other {
                #expect(value.objectValue?.count == 1)
            } else {
                #expect(value.objectValue?.keys == [key, other])
                #expect(value[key] == 1)
                #expect(value[other] == 2)
            }
            // The last key of a buffer that ends right after it.
            let last = try JSONValue(parsing: "{\"\(key)\":7}")
            #expect(last.objectValue?.keys == [key])
        }
    }

    /// A key written with an escape is the same key as its plain spelling.
    @Test func escapedAndPlainSpellingsOfAKeyAreOneKey() throws {
        for length in 1...40 {
            let key = text(length: length)
            let escaped = "\\u00" + String(key.utf8.first!, radix: 16) + String(key.dropFirst())
            let value = try JSONValue(parsing: "{\"\(key)\":1,\"other\":2,\"\(escaped)\":3}")
            #expect(value.objectValue?.keys == [key, "other"], "length \(length)")
            #expect(value[key] == 3, "length \(length)")
            let reversed = try JSONValue(parsing: "{\"\(escaped)\":1,\"\(key)\":3}")
            #expect(reversed.objectValue?.keys == [key], "length \(length)")
            #expect(reversed[key] == 3, "length \(length)")
        }
    }

    @Test func nonASCIIShortStringsStayExact() throws {
        for string in ["é", "日本", "e\u{301}", "😀", "ab😀cd", "ünïcödé-kéy"] {
            let value = try JSONValue(parsing: "{\"\(string)\":\"\(string)\"}")
            #expect(value.objectValue?.keys == [string])
            #expect(value[string] == .string(string))
            #expect(Array(value.objectValue!.keys[0].utf8) == Array(string.utf8))
        }
    }

    @Test func indentationOfEveryWidthIsSkipped() throws {
        for width in 0...20 {
            let pad = String(repeating: " ", count: width)
            let text = "{\n\(pad)\"a\": [\n\(pad)\(pad)1,\r\n\(pad)\t2\n\(pad)],\n\(pad)\"b\":\(pad)\"c\"\n\(pad)}\(pad)"
            #expect(try JSONValue(parsing: text) == ["a": [1, 2], "b": "c"], "width \(width)")
        }
        // Whitespace other than space, tab, CR and LF is refused even inside indentation.
        #expect(throws: JSONParseError(.unexpectedByte(0x0B), at: 6)) {
            try JSONValue(parsing: "{\n    \u{0B}\"a\":1}")
        }
        #expect(throws: JSONParseError(.unexpectedEnd, at: 14)) {
            try JSONValue(parsing: "[1,\n          ")
        }
    }

    /// The parser's bookkeeping starts in a small stack buffer and moves to the heap as a
    /// document outgrows it: deep nesting, long arrays and wide objects, alone and together.
    @Test func documentsOutgrowingTheScratchSpaceParseTheSame() throws {
        for size in [1, 7, 8, 9, 19, 20, 21, 40, 130] {
            var expected: JSONValue = .array((0..<size).map { .number(Double($0)) })
            var text = "[" + (0..<size).map(String.init).joined(separator: ",") + "]"
            let wide = JSONObject((0..<size).map { ("key\($0)", JSONValue.string("value \($0)")) })
            let wideText = "{" + (0..<size).map { "\"key\($0)\": \"value \($0)\"" }.joined(separator: ", ") + "}"
            for level in 0..<size {
                expected = ["level": .number(Double(level)), "wide": .object(wide), "inner": expected]
                text = "{\"level\": \(level), \"wide\": \(wideText), \"inner\": \(text)}"
            }
            let parsed = try JSONValue(parsing: text)
            #expect(parsed == expected, "size \(size)")
            #expect(parsed.jsonString == expected.jsonString, "size \(size)")
            let spanned = try JSONParser().parseWithSpans(Array(text.utf8))
            #expect(spanned.value == expected, "size \(size)")
        }
    }
}
