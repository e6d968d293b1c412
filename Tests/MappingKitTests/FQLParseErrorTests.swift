import Testing
@testable import MappingKit

struct ParseErrorCase: Sendable, CustomTestStringConvertible {
    let source: String
    let position: Int
    /// A phrase the message must contain.
    let phrase: String
    init(_ source: String, at position: Int, _ phrase: String) {
        self.source = source
        self.position = position
        self.phrase = phrase
    }
    var testDescription: String { source }
}

@Suite("FQL parse errors")
struct FQLParseErrorTests {
    static let cases: [ParseErrorCase] = [
        // Segment's own error cases (fql.test.ts); Segment reads `type = ` as `type = "eos"`.
        ParseErrorCase("typo", at: 0, "unknown field 'typo'"),
        ParseErrorCase("type", at: 4, "expected an operator (= != < <= > >=) after 'type'"),
        ParseErrorCase(#"type * "32456""#, at: 5, "unexpected character '*'"),
        ParseErrorCase("", at: 0, "the subscription is empty"),
        ParseErrorCase("type = ", at: 7, "expected a value after '='"),
        // Empty and incomplete.
        ParseErrorCase("   ", at: 3, "the subscription is empty"),
        ParseErrorCase(#"type = "track" and"#, at: 18, "expected a condition after 'and'"),
        ParseErrorCase(#"type = "track" or )"#, at: 18, "expected a condition after 'or'"),
        ParseErrorCase(#"type = "x" and or event = "y""#, at: 15, "expected a condition before 'or'"),
        ParseErrorCase(#"or type = "x""#, at: 0, "expected a condition before 'or'"),
        ParseErrorCase(#"type = "track" event = "x""#, at: 15, "expected 'and' or 'or' between conditions"),
        ParseErrorCase(#"type = "a" AND event = "b""#, at: 11, "conjunctions are lowercase: write 'and' instead of 'AND'"),
        ParseErrorCase(#"type == "x""#, at: 6, "expected a value after '=' (a double-quoted string"),
        ParseErrorCase(#"type = )"#, at: 7, "found ')'"),
        // Parentheses.
        ParseErrorCase(#"(type = "track""#, at: 15, "expected ')' to close the '(' at position 0"),
        ParseErrorCase(#"type = "track")"#, at: 14, "')' has no matching '('"),
        ParseErrorCase("()", at: 1, "empty parentheses"),
        ParseErrorCase(#"(type = "a" event = "b")"#, at: 12, "expected 'and', 'or' or ')'"),
        ParseErrorCase(String(repeating: "(", count: 65) + #"type = "a""# + String(repeating: ")", count: 65),
                       at: 64, "parentheses nest deeper than 64 levels"),
        // Negation.
        ParseErrorCase(#"!(type = "a")"#, at: 0, "'!' can only negate contains() or match()"),
        ParseErrorCase(#"!type = "a""#, at: 0, "'!' can only negate contains() or match()"),
        // Fields.
        ParseErrorCase(#"anonymousId = "x""#, at: 0, "unknown field 'anonymousId'"),
        ParseErrorCase(#"Type = "track""#, at: 0, "unknown field 'Type'"),
        ParseErrorCase(#"event.name = "x""#, at: 0, "'event' has no sub-fields"),
        ParseErrorCase(#"properties = "x""#, at: 0, "'properties' needs a field path"),
        ParseErrorCase(#"properties. = "x""#, at: 12, "expected a field name after '.'"),
        ParseErrorCase(#"properties.\[\] = "x""#, at: 0, "the field path after 'properties.' is empty"),
        ParseErrorCase(#"properties.items[0] = 1"#, at: 16, "square brackets are not supported"),
        ParseErrorCase(#"properties.items.0 = 1"#, at: 17, "cannot start with a digit unless escaped"),
        ParseErrorCase(#"properties.a\"#, at: 12, "a backslash must be followed by the character it escapes"),
        ParseErrorCase(#"traits.prénom = "x""#, at: 9, "unexpected character 'é'"),
        ParseErrorCase(#"= "x""#, at: 0, "expected a condition"),
        // Values.
        ParseErrorCase(#"type = "track"#, at: 7, "unterminated string"),
        ParseErrorCase(#"type = 'track'"#, at: 7, "single-quoted strings are not supported"),
        ParseErrorCase(#"properties.n = 5."#, at: 16, "expected digits after the decimal point"),
        ParseErrorCase(#"properties.n = 1.2.3"#, at: 18, "a number has at most one decimal point"),
        ParseErrorCase(#"properties.n = -"#, at: 15, "expected digits after '-'"),
        ParseErrorCase(#"properties.n = 5abc"#, at: 16, "unexpected 'a' right after a number"),
        ParseErrorCase(#"properties.n = 1e3"#, at: 16, "no exponent"),
        // Functions.
        ParseErrorCase(#"contains(type, "x")"#, at: 9, "contains() cannot test 'type'"),
        ParseErrorCase(#"match(type, "x*")"#, at: 6, "match() cannot test 'type'"),
        ParseErrorCase(#"contains(event "x")"#, at: 15, "expected ',' after the field in contains()"),
        ParseErrorCase(#"contains(event, "x""#, at: 19, "expected ')' to close contains( at position 0"),
        ParseErrorCase(#"contains(event, )"#, at: 16, "expected a value after ','"),
        ParseErrorCase(#"contains("x", event)"#, at: 9, "expected a field such as type or properties.total"),
        ParseErrorCase(#"match(event, "abc")"#, at: 13, "match() patterns must start or end with '*'"),
        ParseErrorCase(#"match(event, 5)"#, at: 13, "match() takes a double-quoted pattern"),
        ParseErrorCase(#"contains(foo.bar, "x")"#, at: 9, "unknown field 'foo.bar'"),
    ]

    @Test("each error names its position and what was expected", arguments: cases)
    func rejects(_ testCase: ParseErrorCase) {
        do {
            let subscription = try Subscription(parsing: testCase.source)
            Issue.record("parsed \(testCase.source) as \(subscription.expression)")
        } catch {
            #expect(error.source == testCase.source)
            #expect(error.position == testCase.position, "\(error.description)")
            #expect(error.message.contains(testCase.phrase), "\(error.message)")
            #expect(error.description.contains("at position \(testCase.position): "))
        }
    }

    @Test func descriptionQuotesTheSubscription() {
        #expect(throws: FQLParseError(source: "type = ", position: 7, message: "expected a value after '='")) {
            try Subscription(parsing: "type = ")
        }
        let error = FQLParseError(source: "type = ", position: 7, message: "expected a value after '='")
        #expect(error.description == #"subscription "type = " is invalid at position 7: expected a value after '='"#)
    }

    @Test func positionsCountCharactersNotBytes() {
        // "é" is two UTF-8 bytes and "🎉" four; positions count what a person sees.
        #expect(throws: FQLParseError.self) { try Subscription(parsing: #"event = "é🎉" or"#) }
        do {
            _ = try Subscription(parsing: #"event = "é🎉" or"#)
        } catch {
            #expect(error.position == 15)
        }
    }
}
