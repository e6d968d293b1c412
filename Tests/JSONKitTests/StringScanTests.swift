import Testing
@testable import JSONKit

/// The string-body scan reads 16 bytes at a time while 16 remain in the buffer, then 8, then
/// one. These tests put each kind of special byte at every position of strings of every length
/// up to three 16-byte blocks, as values and as keys, with the buffer ending right after the
/// string or a few bytes later, so every block size and every lane of each is exercised.
@Suite struct StringScanTests {
    static let lengths = Array(0...48)
    /// Bytes after the document's string: 0 puts the buffer end right after it.
    static let paddings = [0, 1, 7, 8, 15, 16]

    private func parse(_ bytes: [UInt8]) -> Result<JSONValue, JSONParseError> {
        // `[UInt8]` is parsed in place, so the buffer ends exactly where the array does.
        Result { () throws(JSONParseError) -> JSONValue in try JSONParser().parse(bytes) }
    }

    /// `body` as a top-level string, then `padding` spaces.
    private func document(_ body: [UInt8], padding: Int) -> [UInt8] {
        [UInt8(ascii: "\"")] + body + [UInt8(ascii: "\"")] + Array(repeating: UInt8(ascii: " "), count: padding)
    }

    /// A plain body whose bytes vary, so a lane-order mistake shows up as wrong text.
    private func plainBody(_ length: Int) -> [UInt8] {
        (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    @Test(arguments: lengths)
    func plainStringsOfEveryLengthRoundTrip(length: Int) throws {
        let body = plainBody(length)
        for padding in Self.paddings {
            #expect(try parse(document(body, padding: padding)).get() == .string(String(decoding: body, as: UTF8.self)))
        }
        // The boundary bytes of the range that is not special: space and DEL.
        let edges = (0..<length).map { $0 % 2 == 0 ? UInt8(0x20) : UInt8(0x7F) }
        #expect(try parse(document(edges, padding: 0)).get() == .string(String(decoding: edges, as: UTF8.self)))
    }

    @Test(arguments: lengths)
    func aClosingQuoteIsFoundAtEveryPosition(length: Int) throws {
        // `"body"` followed by a second string in an array: the first quote after the body
        // must end it even with more string bytes in the same block.
        let body = plainBody(length)
        let text = [UInt8(ascii: "[")] + document(body, padding: 0) + Array(#","zzzzzzzzzzzzzzzzzzzz"]"#.utf8)
        #expect(try parse(text).get() == [.string(String(decoding: body, as: UTF8.self)), "zzzzzzzzzzzzzzzzzzzz"])
    }

    @Test(arguments: lengths)
    func anEscapeIsFoundAtEveryPosition(length: Int) throws {
        for position in 0...length {
            var body = plainBody(length)
            body.insert(contentsOf: Array(#"\n"#.utf8), at: position)
            var expected = plainBody(length)
            expected.insert(0x0A, at: position)
            for padding in Self.paddings {
                let value = try parse(document(body, padding: padding)).get()
                #expect(value == .string(String(decoding: expected, as: UTF8.self)), "escape at \(position) of \(length)")
            }
        }
    }

    @Test(arguments: lengths)
    func aControlCharacterIsRejectedAtEveryPosition(length: Int) {
        for position in 0..<length {
            for control: UInt8 in [0x00, 0x0A, 0x1F] {
                var body = plainBody(length)
                body[position] = control
                for padding in Self.paddings {
                    let expected = JSONParseError(.controlCharacterInString(control), at: 1 + position)
                    #expect(parse(document(body, padding: padding)).error == expected, "byte \(control) at \(position) of \(length)")
                }
            }
        }
    }

    @Test(arguments: lengths)
    func nonASCIIIsValidatedAtEveryPosition(length: Int) throws {
        for position in 0..<length {
            // A two-byte and a four-byte sequence replacing the byte at `position`.
            for scalar in ["é", "😀"] {
                var body = plainBody(length)
                body.replaceSubrange(position...position, with: Array(scalar.utf8))
                for padding in Self.paddings {
                    let value = try parse(document(body, padding: padding)).get()
                    #expect(value == .string(String(decoding: body, as: UTF8.self)), "\(scalar) at \(position) of \(length)")
                }
            }
            // A lone continuation byte and a byte never valid in UTF-8.
            for invalid: UInt8 in [0x80, 0xFF] {
                var body = plainBody(length)
                body[position] = invalid
                let expected = JSONParseError(.invalidUTF8, at: 1 + position)
                #expect(parse(document(body, padding: 0)).error == expected, "byte \(invalid) at \(position) of \(length)")
            }
        }
    }

    @Test(arguments: lengths)
    func specialBytesInKeysAreFoundAtEveryPosition(length: Int) throws {
        let body = plainBody(length)
        let key = String(decoding: body, as: UTF8.self)
        let plain = Array("{\"".utf8) + body + Array("\":1}".utf8)
        #expect(try parse(plain).get() == JSONValue(dictionaryLiteral: (key, 1)))
        for position in 0..<length {
            var escaped = body
            escaped.replaceSubrange(position...position, with: Array(#"\t"#.utf8))
            var decoded = body
            decoded[position] = 0x09
            let text = Array("{\"".utf8) + escaped + Array("\":1}".utf8)
            #expect(try parse(text).get() == JSONValue(dictionaryLiteral: (String(decoding: decoded, as: UTF8.self), 1)))

            var control = body
            control[position] = 0x01
            let broken = Array("{\"".utf8) + control + Array("\":1}".utf8)
            #expect(parse(broken).error == JSONParseError(.controlCharacterInString(0x01), at: 2 + position))
        }
    }

    @Test(arguments: lengths)
    func anUnterminatedStringEndsAtTheBufferEnd(length: Int) {
        // No closing quote: every block size runs out of input without a match.
        let text = [UInt8(ascii: "\"")] + plainBody(length)
        #expect(parse(text).error == JSONParseError(.unexpectedEnd, at: text.count))
        let key = Array("{\"".utf8) + plainBody(length)
        #expect(parse(key).error == JSONParseError(.unexpectedEnd, at: key.count))
    }
}

extension Result {
    fileprivate var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
