import Testing
@testable import JSONKit

/// `parseWithSpans`: spans must locate each value exactly, and `isCanonical` must never claim
/// that text is `JSONSerializer`'s output when it is not (ingest stores such text as is).
@Suite struct TextSpanTests {
    private func spans(_ text: String, member: String? = nil) throws -> JSONSpannedDocument {
        try JSONParser().parseWithSpans(Array(text.utf8), elementsMember: member)
    }

    private func slice(_ text: String, _ span: JSONTextSpan) -> String {
        String(decoding: Array(text.utf8)[span.range], as: UTF8.self)
    }

    @Test func topLevelArrayElementsAreLocated() throws {
        let text = #"[{"a":1},  {"b" : 2} ,[3],"x"]"#
        let document = try spans(text)
        #expect(document.elements.map { slice(text, $0) } == [#"{"a":1}"#, #"{"b" : 2}"#, "[3]", #""x""#])
        #expect(document.elements.map(\.isCanonical) == [true, false, true, true])
        #expect(slice(text, document.document) == text)
        #expect(!document.document.isCanonical)
    }

    @Test func batchMemberElementsAreLocatedAndOthersIgnored() throws {
        let text = #" {"context":{"list":[1,2]},"batch":[{"type":"track"},{"type":"identify"}],"other":[5]} "#
        let document = try spans(text, member: "batch")
        #expect(document.elements.map { slice(text, $0) } == [#"{"type":"track"}"#, #"{"type":"identify"}"#])
        #expect(document.elements.map(\.isCanonical) == [true, true])
        #expect(document.document.isCanonical)
        #expect(slice(text, document.document) == text.trimmingSpaces)
        let withoutMember = try spans(text)
        #expect(withoutMember.elements.isEmpty)
    }

    @Test func aRepeatedBatchMemberKeepsTheSpansOfTheLastValue() throws {
        let repeated = try spans(#"{"batch":[{"a":1},{"b":2}],"batch":[]}"#, member: "batch")
        #expect(repeated.elements.isEmpty)
        let again = try spans(#"{"batch":[1,2,3],"batch":[{"c":3}]}"#, member: "batch")
        #expect(again.elements.count == 1)
    }

    @Test(arguments: [
        "0", "5", "-5", "19.99", "0.5", "0.000001", "123456789012345", "-0.25", "1.5",
        "100", "0.1", "999999999999999",
    ])
    func numbersJavaScriptPrintsTheSameAreCanonical(_ text: String) throws {
        let document = try spans("[\(text)]")
        #expect(document.elements.first?.isCanonical == true)
        #expect(String(decoding: JSONSerializer.serialize(document.value), as: UTF8.self) == "[\(text)]")
    }

    @Test(arguments: [
        "-0", "1.0", "1.50", "1e3", "1E3", "0.0000001", "1234567890123456", "12345678901234567890",
        "0.30000000000000004", "-0.0", "5e-1",
    ])
    func numbersJavaScriptPrintsDifferentlyAreNot(_ text: String) throws {
        #expect(try spans("[\(text)]").elements.first?.isCanonical == false)
    }

    @Test(arguments: [
        #"{"a":"\n"}"#, #"{"a":"\/"}"#, #"{"a":"\u0041"}"#, #"{"a":1,"a":2}"#, #"{ "a":1}"#, "[1, 2]", "[ ]",
        "{\n}",
    ])
    func escapesWhitespaceAndRepeatedKeysAreNotCanonical(_ text: String) throws {
        #expect(try spans("[\(text)]").elements.first?.isCanonical == false)
    }

    /// Every value the serializer writes parses back as one canonical span, and whatever is
    /// marked canonical re-serialises to the very same bytes.
    @Test func serializerOutputIsCanonicalAndCanonicalTextRoundTrips() throws {
        var generator = ValueGenerator(random: SeededRandom(seed: 0x5EED_5BA4))
        for _ in 0..<2_000 {
            let value = generator.value(depth: 0)
            let text = JSONSerializer.serialize(.array([value, value]))
            let document = try JSONParser().parseWithSpans(text)
            #expect(document.elements.count == 2)
            for span in document.elements where span.isCanonical {
                #expect(JSONSerializer.serialize(document.value[0]!) == Array(text[span.range]))
            }
            if !text.contains(UInt8(ascii: "\\")) {
                #expect(document.document.isCanonical || Self.hasNonCanonicalNumber(text))
            }
        }
    }

    @Test func randomNumberTextsMarkedCanonicalRoundTrip() throws {
        var random = SeededRandom(seed: 42)
        for _ in 0..<20_000 {
            var text = random.below(4) == 0 ? "-" : ""
            let integerDigits = random.below(3) == 0 ? 0 : 1 + random.below(17)
            text += integerDigits == 0 ? "0" : String(1 + random.below(9))
            for _ in 1..<max(integerDigits, 1) { text += String(random.below(10)) }
            if random.below(2) == 0 {
                text += "."
                for _ in 0..<(1 + random.below(18)) { text += String(random.below(10)) }
            }
            let document = try spans("[\(text)]")
            if document.elements[0].isCanonical {
                #expect(String(decoding: JSONSerializer.serialize(document.value), as: UTF8.self) == "[\(text)]")
            }
        }
    }

    /// Serialised doubles such as `1e21` or `1.2345678901234567` are exactly what JavaScript
    /// prints but are outside what the parser proves canonical.
    private static func hasNonCanonicalNumber(_ text: [UInt8]) -> Bool {
        let document = try? JSONParser().parseWithSpans(text)
        func numbers(_ value: JSONValue) -> [Double] {
            switch value {
            case .number(let number): return [number]
            case .array(let array): return array.flatMap(numbers)
            case .object(let object): return object.values.flatMap(numbers)
            default: return []
            }
        }
        return numbers(document?.value ?? .null).contains { number in
            let written = JSNumberFormatter.string(from: number)
            return (try? JSONParser().parseWithSpans(Array("[\(written)]".utf8)).elements.first?.isCanonical) != true
        }
    }
}

private extension String {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
