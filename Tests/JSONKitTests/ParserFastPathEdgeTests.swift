import Testing
@testable import JSONKit

/// Edges of the parser's shortcuts: literals checked with one 4-byte compare, pending keys
/// kept in a fixed block of stack memory until they overflow it, and duplicate keys found
/// through a 64-bit filter of key fingerprints.
@Suite struct ParserFastPathEdgeTests {
    private func parseError(_ text: String) -> JSONParseError? {
        do {
            _ = try JSONParser().parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func literalsAtTheEndOfTheInputAndInsideContainers() throws {
        #expect(try JSONValue(parsing: "true") == .bool(true))
        #expect(try JSONValue(parsing: "false") == .bool(false))
        #expect(try JSONValue(parsing: "null") == .null)
        #expect(try JSONValue(parsing: "[true,false,null]") == [true, false, nil])
        #expect(try JSONValue(parsing: #"{"a":false,"b":null,"c":true}"#) == ["a": false, "b": nil, "c": true])
        // The bytes after the literal are not part of the 4-byte compare.
        #expect(parseError("truex") == JSONParseError(.trailingData, at: 4))
        #expect(parseError("nullnull") == JSONParseError(.trailingData, at: 4))
    }

    @Test(arguments: [
        ("tru", JSONParseError(.unexpectedEnd, at: 3)),
        ("fals", JSONParseError(.unexpectedEnd, at: 4)),
        ("n", JSONParseError(.unexpectedEnd, at: 1)),
        ("[nul", JSONParseError(.unexpectedEnd, at: 4)),
        ("fakse", JSONParseError(.unexpectedByte(UInt8(ascii: "k")), at: 2)),
        ("falsE", JSONParseError(.unexpectedByte(UInt8(ascii: "E")), at: 4)),
        ("nUll", JSONParseError(.unexpectedByte(UInt8(ascii: "U")), at: 1)),
        ("[tRue]", JSONParseError(.unexpectedByte(UInt8(ascii: "R")), at: 2)),
    ])
    func brokenLiteralsReportTheFirstWrongByte(text: String, expected: JSONParseError) {
        #expect(parseError(text) == expected)
    }

    @Test func moreOpenKeysThanTheStackBlockHoldsKeepTheirOrder() throws {
        // Nested objects whose keys are all pending at once: 3 × 30 keys, past the 42 that
        // fit in the stack block, so the key stack moves to the heap mid-parse.
        func object(_ prefix: String, _ count: Int, last: String) -> String {
            (0..<count).map { #""\#(prefix)\#($0)":\#($0)"# }.joined(separator: ",") + #","\#(prefix)x":\#(last)"#
        }
        let text = "{" + object("a", 30, last: "{" + object("b", 30, last: "{" + object("c", 30, last: "1") + "}") + "}") + "}"
        let outer = try #require(try JSONValue(parsing: text).objectValue)
        #expect(outer.keys == (0..<30).map { "a\($0)" } + ["ax"])
        let middle = try #require(outer["ax"]?.objectValue)
        #expect(middle.keys == (0..<30).map { "b\($0)" } + ["bx"])
        let inner = try #require(middle["bx"]?.objectValue)
        #expect(inner.keys == (0..<30).map { "c\($0)" } + ["cx"])
        #expect(inner["c29"] == 29 && middle["b0"] == 0 && outer["a17"] == 17)
    }

    @Test(arguments: 1...16)
    func aRepeatedKeyIsFoundAtEveryPosition(count: Int) throws {
        // Each earlier key repeated last: the last value wins, at the first key's position.
        for repeated in 0..<count {
            let members = (0..<count).map { #""key\#($0)":\#($0)"# } + [#""key\#(repeated)":"last""#]
            let object = try #require(try JSONValue(parsing: "{" + members.joined(separator: ",") + "}").objectValue)
            #expect(object.count == count)
            #expect(object.keys == (0..<count).map { "key\($0)" })
            #expect(object["key\(repeated)"] == "last")
            #expect(object.index(forKey: "key\(repeated)") == repeated)
        }
    }

    @Test func manyDistinctKeysAreNotTakenForDuplicates() throws {
        // Sixteen keys fill a quarter of the 64-bit filter, so some share a bit; none may be
        // merged. Long keys (read through the key table) and short ones alike.
        for length in [1, 7, 15, 16, 40] {
            let keys = (0..<16).map { String(repeating: "k", count: length) + String($0) }
            let text = "{" + keys.enumerated().map { #""\#($1)":\#($0)"# }.joined(separator: ",") + "}"
            let object = try #require(try JSONValue(parsing: text).objectValue)
            #expect(object.keys == keys)
            #expect(object.values == (0..<16).map { .number(Double($0)) })
        }
    }
}
