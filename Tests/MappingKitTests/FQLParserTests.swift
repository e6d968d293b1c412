import JSONKit
import Testing
@testable import MappingKit

// Trees Segment's parser builds (parse-fql.ts, ported from its __tests__/fql.test.ts), written
// with these helpers so each case reads like Segment's AST.

private func member(_ key: String, _ test: FQLTest) -> FQLExpression {
    .condition(FQLCondition(field: .member(FQLText(key)), test: test))
}

private func path(_ root: String, _ segments: [String], _ test: FQLTest) -> FQLExpression {
    .condition(FQLCondition(field: .path(root: FQLText(root), FQLPath(segments: segments)), test: test))
}

private func property(_ name: String, _ test: FQLTest) -> FQLExpression {
    path("properties", name.split(separator: ".").map(String.init), test)
}

private func trait(_ name: String, _ test: FQLTest) -> FQLExpression {
    path("traits", name.split(separator: ".").map(String.init), test)
}

private func text(_ string: String) -> FQLText { FQLText(string) }

struct ParseCase: Sendable, CustomTestStringConvertible {
    let source: String
    let expected: FQLExpression
    init(_ source: String, _ expected: FQLExpression) {
        self.source = source
        self.expected = expected
    }
    var testDescription: String { source }
}

@Suite("FQL parsing: Segment's trees")
struct FQLParserTests {
    static let segmentCases: [ParseCase] = [
        ParseCase(#"traits.test = true"#, trait("test", .isTrue)),
        ParseCase(#"traits.test = "true""#, trait("test", .stringEquals(text("true")))),
        ParseCase(#"traits.test = false"#, trait("test", .isFalse)),
        ParseCase(#"properties.foo.bar = "baz""#, property("foo.bar", .stringEquals(text("baz")))),
        ParseCase(#"type = "track""#, member("type", .stringEquals(text("track")))),
        ParseCase(#"type = "track" or type = "identify""#, .any([
            member("type", .stringEquals(text("track"))),
            member("type", .stringEquals(text("identify"))),
        ])),
        ParseCase(#"event = "Product Added""#, member("event", .stringEquals(text("Product Added")))),
        ParseCase(#"userId != null"#, member("userId", .exists)),
        ParseCase(#"context.foo = "bar""#, path("context", ["foo"], .stringEquals(text("bar")))),
        ParseCase(#"name = "Home""#, member("name", .stringEquals(text("Home")))),
        ParseCase(#"name != null"#, member("name", .exists)),
        ParseCase(#"name = null"#, member("name", .notExists)),
        ParseCase(#"event = "Product Added" or event = "Order Completed""#, .any([
            member("event", .stringEquals(text("Product Added"))),
            member("event", .stringEquals(text("Order Completed"))),
        ])),
        ParseCase(#"type = "track" and event = "Product Added""#, .all([
            member("type", .stringEquals(text("track"))),
            member("event", .stringEquals(text("Product Added"))),
        ])),
        ParseCase(#"type = "track" and (event = "Product Added" or event = "Order Completed")"#, .all([
            member("type", .stringEquals(text("track"))),
            .any([
                member("event", .stringEquals(text("Product Added"))),
                member("event", .stringEquals(text("Order Completed"))),
            ]),
        ])),
        ParseCase(#"event = "Product Added" and properties.price >= 100"#, .all([
            member("event", .stringEquals(text("Product Added"))),
            property("price", .greaterOrEqual(100)),
        ])),
        ParseCase(#"event = "identify" and traits.logins >= 10"#, .all([
            member("event", .stringEquals(text("identify"))),
            trait("logins", .greaterOrEqual(10)),
        ])),
        ParseCase(#"event = "Product Added" and properties.price >= 100 and properties.premium = "true""#, .all([
            member("event", .stringEquals(text("Product Added"))),
            property("price", .greaterOrEqual(100)),
            property("premium", .stringEquals(text("true"))),
        ])),
        ParseCase(#"event = "identify" and traits.logins >= 10 and traits.plan = "premium""#, .all([
            member("event", .stringEquals(text("identify"))),
            trait("logins", .greaterOrEqual(10)),
            trait("plan", .stringEquals(text("premium"))),
        ])),
        ParseCase(#"(event = "Product Added" and properties.price >= 100) or (event = "Order Completed" and properties.total >= 500)"#, .any([
            .all([member("event", .stringEquals(text("Product Added"))), property("price", .greaterOrEqual(100))]),
            .all([member("event", .stringEquals(text("Order Completed"))), property("total", .greaterOrEqual(500))]),
        ])),
        ParseCase(#"(event = "identify" and traits.logins >= 100) or (event = "Signed Up" and traits.age >= 50)"#, .any([
            .all([member("event", .stringEquals(text("identify"))), trait("logins", .greaterOrEqual(100))]),
            .all([member("event", .stringEquals(text("Signed Up"))), trait("age", .greaterOrEqual(50))]),
        ])),
        ParseCase(#"contains(event, "Nike")"#, member("event", .contains(text("Nike")))),
        ParseCase(#"event = "Product Added" and contains(properties.name, "Nike")"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .contains(text("Nike"))),
        ])),
        ParseCase(#"event = "Product Added" and contains(traits.name, "Nike")"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .contains(text("Nike"))),
        ])),
        ParseCase(#"!contains(event, "Nike")"#, member("event", .notContains(text("Nike")))),
        ParseCase(#"event = "Product Added" and !contains(properties.name, "Nike")"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .notContains(text("Nike"))),
        ])),
        ParseCase(#"event = "Product Added" and !contains(traits.name, "Nike")"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .notContains(text("Nike"))),
        ])),
        ParseCase(#"match(event, "X*")"#, member("event", .startsWith(text("X")))),
        ParseCase(#"event = "Product Added" and match(properties.name, "X*")"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .startsWith(text("X"))),
        ])),
        ParseCase(#"event = "Product Added" and match(traits.name, "X*")"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .startsWith(text("X"))),
        ])),
        ParseCase(#"!match(event, "X*")"#, member("event", .notStartsWith(text("X")))),
        ParseCase(#"event = "Product Added" and !match(properties.name, "X*")"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .notStartsWith(text("X"))),
        ])),
        ParseCase(#"event = "Product Added" and !match(traits.name, "X*")"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .notStartsWith(text("X"))),
        ])),
        ParseCase(#"match(event, "*X")"#, member("event", .endsWith(text("X")))),
        ParseCase(#"event = "Product Added" and match(properties.name, "*X")"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .endsWith(text("X"))),
        ])),
        ParseCase(#"event = "Product Added" and match(traits.name, "*X")"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .endsWith(text("X"))),
        ])),
        ParseCase(#"!match(event, "*X")"#, member("event", .notEndsWith(text("X")))),
        ParseCase(#"event = "Product Added" and !match(properties.name, "*X")"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .notEndsWith(text("X"))),
        ])),
        ParseCase(#"event = "Product Added" and !match(traits.name, "*X")"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .notEndsWith(text("X"))),
        ])),
        ParseCase(#"event = "Product Added" and properties.name != null"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .exists),
        ])),
        ParseCase(#"event = "Product Added" and traits.name != null"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .exists),
        ])),
        ParseCase(#"event = "Product Added" and properties.name = null"#, .all([
            member("event", .stringEquals(text("Product Added"))), property("name", .notExists),
        ])),
        ParseCase(#"event = "Product Added" and traits.name = null"#, .all([
            member("event", .stringEquals(text("Product Added"))), trait("name", .notExists),
        ])),
    ]

    @Test("Segment's own parse cases", arguments: segmentCases)
    func segmentCase(_ testCase: ParseCase) throws {
        let subscription = try Subscription(parsing: testCase.source)
        #expect(subscription.expression == testCase.expected)
        #expect(subscription.source == testCase.source)
    }

    /// How parse-fql.ts picks an operator for each field and literal kind.
    static let operatorCases: [ParseCase] = [
        // Numbers: `=`/`!=` on nested fields are numeric; on top-level fields they compare
        // with the number's JavaScript spelling.
        ParseCase(#"properties.n = 1.50"#, property("n", .numberEquals(1.5))),
        ParseCase(#"properties.n != 7"#, property("n", .numberNotEquals(7))),
        ParseCase(#"properties.n < -3"#, property("n", .less(-3))),
        ParseCase(#"properties.n <= +4.25"#, property("n", .lessOrEqual(4.25))),
        ParseCase(#"properties.n > 0"#, property("n", .greater(0))),
        ParseCase(#"properties.n >= 007"#, property("n", .greaterOrEqual(7))),
        ParseCase(#"userId = 123"#, member("userId", .stringEquals(text("123")))),
        ParseCase(#"event = 1.50"#, member("event", .stringEquals(text("1.5")))),
        ParseCase(#"type != 10"#, member("type", .stringNotEquals(text("10")))),
        // Quoted operands of orderings go through Number(…).
        ParseCase(#"properties.n < "10""#, property("n", .less(10))),
        ParseCase(#"traits.n > " 2 ""#, trait("n", .greater(2))),
        ParseCase(#"properties.n > true"#, property("n", .greater(1))),
        // `!=` with a quoted number or a boolean stays a string comparison.
        ParseCase(#"properties.n != "123""#, property("n", .stringNotEquals(text("123")))),
        ParseCase(#"traits.vip != true"#, trait("vip", .stringNotEquals(text("true")))),
        // userId knows true/false; name does not; type and event know neither, nor null.
        ParseCase(#"userId = true"#, member("userId", .isTrue)),
        ParseCase(#"userId = false"#, member("userId", .isFalse)),
        ParseCase(#"userId = null"#, member("userId", .notExists)),
        ParseCase(#"name = true"#, member("name", .stringEquals(text("true")))),
        ParseCase(#"event != null"#, member("event", .stringNotEquals(text("null")))),
        ParseCase(#"type = null"#, member("type", .stringEquals(text("null")))),
        // A bare word is a string value.
        ParseCase(#"type = identify"#, member("type", .stringEquals(text("identify")))),
        ParseCase(#"properties.plan = premium"#, property("plan", .stringEquals(text("premium")))),
        // contains() spells non-strings the JavaScript way.
        ParseCase(#"contains(properties.sku, 12)"#, property("sku", .contains(text("12")))),
        ParseCase(#"contains(userId, "abc")"#, member("userId", .contains(text("abc")))),
        ParseCase(#"contains(name, "Home")"#, member("name", .contains(text("Home")))),
        ParseCase(#"contains(context.page.url, "/checkout")"#, path("context", ["page", "url"], .contains(text("/checkout")))),
        // match(): a trailing '*' wins; everything before it is the literal prefix.
        ParseCase(#"match(event, "*abc*")"#, member("event", .startsWith(text("*abc")))),
        ParseCase(#"match(event, "*")"#, member("event", .startsWith(text("")))),
        ParseCase(#"match(context.page.path, "/shop*")"#, path("context", ["page", "path"], .startsWith(text("/shop")))),
    ]

    @Test("operator choice per field and literal", arguments: operatorCases)
    func operatorChoice(_ testCase: ParseCase) throws {
        #expect(try Subscription(parsing: testCase.source).expression == testCase.expected)
    }

    static let groupingCases: [ParseCase] = [
        // Segment groups each level by its last conjunction, not by precedence.
        ParseCase(#"type = "a" and event = "b" or event = "c""#, .any([
            member("type", .stringEquals(text("a"))),
            member("event", .stringEquals(text("b"))),
            member("event", .stringEquals(text("c"))),
        ])),
        ParseCase(#"type = "a" or event = "b" and event = "c""#, .all([
            member("type", .stringEquals(text("a"))),
            member("event", .stringEquals(text("b"))),
            member("event", .stringEquals(text("c"))),
        ])),
        // Parentheses nest; each level is grouped on its own.
        ParseCase(#"type = "track" and (event = "A" or (properties.x = 1 and properties.y = 2))"#, .all([
            member("type", .stringEquals(text("track"))),
            .any([
                member("event", .stringEquals(text("A"))),
                .all([property("x", .numberEquals(1)), property("y", .numberEquals(2))]),
            ]),
        ])),
        ParseCase(#"((type = "track"))"#, member("type", .stringEquals(text("track")))),
        ParseCase(#"type = "track" and (contains(event, "A") or event = "B")"#, .all([
            member("type", .stringEquals(text("track"))),
            .any([member("event", .contains(text("A"))), member("event", .stringEquals(text("B")))]),
        ])),
    ]

    @Test("grouping of and/or and parentheses", arguments: groupingCases)
    func grouping(_ testCase: ParseCase) throws {
        #expect(try Subscription(parsing: testCase.source).expression == testCase.expected)
    }

    static let lexicalCases: [ParseCase] = [
        // Backslash escapes in field names, as Segment's generator writes them.
        ParseCase(#"properties.product\ 1.price = 5"#, property("product 1.price", .numberEquals(5))),
        ParseCase(#"traits.\$email = "x""#, trait("$email", .stringEquals(text("x")))),
        // Segment's `get` splits on dots whether escaped or not.
        ParseCase(#"properties.a\.b = "x""#, property("a.b", .stringEquals(text("x")))),
        ParseCase(#"properties.items.\0.sku = "A""#, property("items.0.sku", .stringEquals(text("A")))),
        ParseCase(#"traits.first-name = "Ann""#, trait("first-name", .stringEquals(text("Ann")))),
        ParseCase(#"traits._id = "x""#, trait("_id", .stringEquals(text("x")))),
        // Keywords are field names after a dot or when escaped.
        ParseCase(#"properties.or = "x""#, property("or", .stringEquals(text("x")))),
        ParseCase(#"properties.\and = "x""#, property("and", .stringEquals(text("x")))),
        // Strings are verbatim: no escape sequences, as in fql-ts.
        ParseCase(#"properties.path = "C:\temp\n""#, property("path", .stringEquals(text(#"C:\temp\n"#)))),
        ParseCase(#"properties.q = "it's""#, property("q", .stringEquals(text("it's")))),
        ParseCase(#"event = "Ünïcødé 🎉""#, member("event", .stringEquals(text("Ünïcødé 🎉")))),
        ParseCase(#"event = """#, member("event", .stringEquals(text("")))),
        // Whitespace is free, and operators need no spaces around them.
        ParseCase("type=\"track\"", member("type", .stringEquals(text("track")))),
        ParseCase("properties.n<=5", property("n", .lessOrEqual(5))),
        ParseCase("properties.s!=\"x\"", property("s", .stringNotEquals(text("x")))),
        ParseCase("\n\ttype = \"track\"\r\n  and\tevent = \"A\"  ", .all([
            member("type", .stringEquals(text("track"))), member("event", .stringEquals(text("A"))),
        ])),
        ParseCase(#"! contains( event , "A" )"#, member("event", .notContains(text("A")))),
    ]

    @Test("tokens: escapes, strings, numbers, whitespace", arguments: lexicalCases)
    func lexical(_ testCase: ParseCase) throws {
        #expect(try Subscription(parsing: testCase.source).expression == testCase.expected)
    }

    @Test func subscriptionsCompareByText() throws {
        let first = try Subscription(parsing: #"type = "identify""#)
        let same = try Subscription(parsing: #"type = "identify""#)
        let spacedDifferently = try Subscription(parsing: #"type="identify""#)
        #expect(first == same)
        #expect(first.hashValue == same.hashValue)
        #expect(first != spacedDifferently)
        #expect(Set([first, same, spacedDifferently]).count == 2)
    }
}
