import JSONKit
import Testing
@testable import MappingKit

/// Deterministic so that a failure reproduces.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("FQL robustness")
struct FQLRobustnessTests {
    static let fragments = [
        "type", "event", "name", "userId", "properties", "traits", "context", ".", "a", "b\\ c", "\\0",
        "=", "!=", "<", "<=", ">", ">=", "!", "(", ")", ",", "and", "or", "null", "true", "false",
        "contains", "match", "\"x\"", "\"*x\"", "\"x*\"", "\"\"", "'q'", "5", "-1.5", "+", "-", "1.",
        " ", " ", " ", "\\", "[", "*", "é", "\u{301}", "\"", "\n",
    ]

    static let event = try! JSONValue(parsing: #"""
        {"type":"track","event":"x","name":"x","userId":"u","properties":{"a":5,"b c":"x","0":[1]},
         "traits":{"a":true},"context":{"a":null}}
        """#)

    /// Random token soup must either compile or throw an error that points inside the text;
    /// nothing may trap, and compiled subscriptions must evaluate.
    @Test func randomInputNeverTraps() {
        var generator = SplitMix64(state: 20_261_130)
        var parsed = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 1...12, using: &generator)
            let source = (0..<count).map { _ in Self.fragments.randomElement(using: &generator)! }.joined()
            do {
                let subscription = try Subscription(parsing: source)
                _ = subscription.matches(Self.event)
                parsed += 1
            } catch {
                #expect(error.position >= 0 && error.position <= source.unicodeScalars.count, "\(error)")
                #expect(!error.message.isEmpty)
            }
        }
        // The soup is meant to exercise both outcomes.
        #expect(parsed > 10)
    }

    /// Random trees written the way Segment's generate-fql.ts writes them (nested groups in
    /// parentheses, one conjunction per group, field names backslash-escaped) parse back into
    /// the same tree.
    @Test func generatedSubscriptionsRoundTrip() throws {
        var generator = SplitMix64(state: 7)
        for _ in 0..<2_000 {
            let (source, expected) = Self.randomGroup(depth: 0, using: &generator)
            let subscription = try Subscription(parsing: source)
            let same = subscription.expression == expected
            #expect(same, "\(source)")
        }
    }

    private static func randomGroup(depth: Int, using generator: inout SplitMix64) -> (String, FQLExpression) {
        let count = Int.random(in: 1...3, using: &generator)
        var parts: [String] = []
        var children: [FQLExpression] = []
        for _ in 0..<count {
            if depth < 3, Int.random(in: 0..<4, using: &generator) == 0 {
                let (text, child) = randomGroup(depth: depth + 1, using: &generator)
                parts.append(count == 1 ? text : "(\(text))")
                children.append(child)
            } else {
                let (text, child) = randomCondition(using: &generator)
                parts.append(text)
                children.append(child)
            }
        }
        let isAnd = Bool.random(using: &generator)
        let text = parts.joined(separator: isAnd ? " and " : " or ")
        if children.count == 1 { return (text, children[0]) }
        return (text, isAnd ? .all(children) : .any(children))
    }

    private static func randomCondition(using generator: inout SplitMix64) -> (String, FQLExpression) {
        let names = ["plan", "product 1", "a-b", "x$y", "é", "deep"]
        let raw = (0..<Int.random(in: 1...3, using: &generator)).map { _ in names.randomElement(using: &generator)! }
        // generate-fql.ts escapes every character outside [a-zA-Z0-9._-].
        let escaped = raw.map { name in
            name.unicodeScalars.map { scalar -> String in
                let plain = scalar.properties.isASCIIHexDigit || ("a"..."z").contains(scalar)
                    || ("A"..."Z").contains(scalar) || scalar == "_" || scalar == "-"
                return plain ? String(scalar) : "\\" + String(scalar)
            }.joined()
        }.joined(separator: ".")
        let root = ["properties", "traits", "context"].randomElement(using: &generator)!
        let field = FQLField.path(root: FQLText(root), FQLPath(segments: raw))
        let value = ["x", "Order Completed", "", "ünï"].randomElement(using: &generator)!
        let number = Double(Int.random(in: -1000...1000, using: &generator)) / 4
        let numberText = FQLJavaScriptNumber.format(number)
        let shapes: [(String, FQLTest)] = [
            ("\(root).\(escaped) = \"\(value)\"", .stringEquals(FQLText(value))),
            ("\(root).\(escaped) != \"\(value)\"", .stringNotEquals(FQLText(value))),
            ("\(root).\(escaped) = \(numberText)", .numberEquals(number)),
            ("\(root).\(escaped) != \(numberText)", .numberNotEquals(number)),
            ("\(root).\(escaped) < \(numberText)", .less(number)),
            ("\(root).\(escaped) >= \(numberText)", .greaterOrEqual(number)),
            ("\(root).\(escaped) != null", .exists),
            ("\(root).\(escaped) = null", .notExists),
            ("\(root).\(escaped) = true", .isTrue),
            ("\(root).\(escaped) = false", .isFalse),
            ("contains(\(root).\(escaped), \"\(value)\")", .contains(FQLText(value))),
            ("!contains(\(root).\(escaped), \"\(value)\")", .notContains(FQLText(value))),
            ("match(\(root).\(escaped), \"\(value)*\")", .startsWith(FQLText(value))),
            // Segment reads the pattern "*" as a prefix test, whichever test generated it.
            ("!match(\(root).\(escaped), \"*\(value)\")",
             value.isEmpty ? .notStartsWith(FQLText(value)) : .notEndsWith(FQLText(value))),
        ]
        let (text, test) = shapes.randomElement(using: &generator)!
        return (text, .condition(FQLCondition(field: field, test: test)))
    }

    @Test func longSubscriptionsParse() throws {
        let conditions = (0..<500).map { #"properties.p\#($0) != "v\#($0)""# }
        let subscription = try Subscription(parsing: conditions.joined(separator: " and "))
        #expect(subscription.matches(Self.event))
        let deep = String(repeating: "(", count: 64) + #"type = "track""# + String(repeating: ")", count: 64)
        #expect(try Subscription(parsing: deep).matches(Self.event))
    }
}
