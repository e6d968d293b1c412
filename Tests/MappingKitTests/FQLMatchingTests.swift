import JSONKit
import Testing
@testable import MappingKit

struct MatchCase: Sendable, CustomTestStringConvertible {
    let subscription: String
    let event: String
    let expected: Bool
    /// Names the event in test output when the JSON is too long to print.
    let eventName: String?
    init(_ subscription: String, _ event: String, _ expected: Bool, eventName: String? = nil) {
        self.subscription = subscription
        self.event = event
        self.expected = expected
        self.eventName = eventName
    }
    var testDescription: String { "\(subscription) on \(eventName ?? event) → \(expected)" }
}

private func check(_ testCase: MatchCase) throws {
    let subscription = try Subscription(parsing: testCase.subscription)
    let event = try JSONValue(parsing: testCase.event)
    #expect(subscription.matches(event) == testCase.expected)
}

@Suite("FQL matching")
struct FQLMatchingTests {
    /// Segment's validate.test.ts, with each AST written as the FQL that produces it.
    static let segmentCases: [MatchCase] = [
        MatchCase(#"properties.value = "x""#, #"{}"#, false),
        MatchCase(#"properties.value = true"#, #"{"properties":{"value":true}}"#, true),
        MatchCase(#"properties.value = true"#, #"{"properties":{"value":false}}"#, false),
        MatchCase(#"properties.value = true"#, #"{"properties":{"value":"true"}}"#, false),
        MatchCase(#"properties.value = false"#, #"{"properties":{"value":false}}"#, true),
        MatchCase(#"properties.value = false"#, #"{"properties":{"value":true}}"#, false),
        MatchCase(#"properties.value = false"#, #"{"properties":{"value":"false"}}"#, false),
        MatchCase(#"properties.value = "x""#, #"{"properties":{"value":"x"}}"#, true),
        MatchCase(#"properties.value = "x""#, #"{"properties":{"value":"y"}}"#, false),
        // A quoted number compares as a string.
        MatchCase(#"properties.value = "123""#, #"{"properties":{"value":123}}"#, false),
        MatchCase(#"properties.value = "123""#, #"{"properties":{"value":"123"}}"#, true),
        MatchCase(#"properties.value = "123""#, #"{"properties":{"value":0}}"#, false),
        // An unquoted number compares numerically.
        MatchCase(#"properties.value = 123"#, #"{"properties":{"value":123}}"#, true),
        MatchCase(#"properties.value = 123"#, #"{"properties":{"value":"123"}}"#, false),
        MatchCase(#"properties.value = 123"#, #"{"properties":{"value":0}}"#, false),
        MatchCase(#"properties.value != "x""#, #"{"properties":{"value":"x"}}"#, false),
        MatchCase(#"properties.value != "x""#, #"{"properties":{"value":"y"}}"#, true),
        MatchCase(#"properties.value != "123""#, #"{"properties":{"value":123}}"#, true),
        MatchCase(#"properties.value != "123""#, #"{"properties":{"value":"123"}}"#, false),
        MatchCase(#"properties.value != "123""#, #"{"properties":{"value":456}}"#, true),
        MatchCase(#"properties.value != "123""#, #"{"properties":{"value":"456"}}"#, true),
        MatchCase(#"properties.value != 456"#, #"{"properties":{"value":123}}"#, true),
        MatchCase(#"properties.value != 456"#, #"{"properties":{"value":"456"}}"#, false),
        MatchCase(#"properties.value != 456"#, #"{"properties":{"value":0}}"#, true),
        MatchCase(#"contains(properties.value, "b")"#, #"{"properties":{"value":"abc"}}"#, true),
        MatchCase(#"contains(properties.value, "b")"#, #"{"properties":{"value":"xyz"}}"#, false),
        MatchCase(#"!contains(properties.value, "b")"#, #"{"properties":{"value":"abc"}}"#, false),
        MatchCase(#"!contains(properties.value, "b")"#, #"{"properties":{"value":"xyz"}}"#, true),
        MatchCase(#"match(properties.value, "x*")"#, #"{"properties":{"value":"xabc"}}"#, true),
        MatchCase(#"match(properties.value, "x*")"#, #"{"properties":{"value":"abc"}}"#, false),
        MatchCase(#"!match(properties.value, "x*")"#, #"{"properties":{"value":"xabc"}}"#, false),
        MatchCase(#"!match(properties.value, "x*")"#, #"{"properties":{"value":"abc"}}"#, true),
        MatchCase(#"match(properties.value, "*x")"#, #"{"properties":{"value":"abcx"}}"#, true),
        MatchCase(#"match(properties.value, "*x")"#, #"{"properties":{"value":"abc"}}"#, false),
        MatchCase(#"!match(properties.value, "*x")"#, #"{"properties":{"value":"abcx"}}"#, false),
        MatchCase(#"!match(properties.value, "*x")"#, #"{"properties":{"value":"abc"}}"#, true),
        MatchCase(#"properties.value != null"#, #"{"properties":{"value":"abcx"}}"#, true),
        MatchCase(#"properties.value != null"#, #"{"properties":{}}"#, false),
        MatchCase(#"properties.value != null"#, #"{"properties":{"value":null}}"#, false),
        MatchCase(#"properties.value = null"#, #"{"properties":{"value":"abcx"}}"#, false),
        MatchCase(#"properties.value = null"#, #"{"properties":{}}"#, true),
        MatchCase(#"properties.value = null"#, #"{"properties":{"value":null}}"#, true),
        MatchCase(#"type = "track""#, #"{"type":"track"}"#, true),
        MatchCase(#"type = "track""#, #"{"type":"identify"}"#, false),
        MatchCase(#"type = "track" or type = "identify""#, #"{"type":"track"}"#, true),
        MatchCase(#"type = "track" or type = "identify""#, #"{"type":"identify"}"#, true),
        MatchCase(#"type = "track" or type = "identify""#, #"{"type":"group"}"#, false),
        MatchCase(#"type != "group""#, #"{"type":"track"}"#, true),
        MatchCase(#"type != "group""#, #"{"type":"identify"}"#, true),
        MatchCase(#"type != "group""#, #"{"type":"group"}"#, false),
        MatchCase(#"event = "Page Viewed""#, #"{"event":"Page Viewed"}"#, true),
        MatchCase(#"event = "Page Viewed""#, #"{"event":"Product Added"}"#, false),
        MatchCase(#"event = "Page Viewed" or event = "Product Viewed""#, #"{"event":"Product Viewed"}"#, true),
        MatchCase(#"event = "Page Viewed" or event = "Product Viewed""#, #"{"event":"Product Added"}"#, false),
        MatchCase(#"event = "Page Viewed" or type = "track""#, #"{"event":"Page Viewed"}"#, true),
        MatchCase(#"event = "Page Viewed" or type = "track""#, #"{"type":"track"}"#, true),
        MatchCase(#"event = "Page Viewed" or type = "track""#, #"{"event":"Product Added"}"#, false),
        MatchCase(#"event = "Page Viewed" and type = "track""#, #"{"event":"Page Viewed"}"#, false),
        MatchCase(#"event = "Page Viewed" and type = "track""#, #"{"type":"track"}"#, false),
        MatchCase(#"event = "Page Viewed" and type = "track""#, #"{"event":"Page Viewed","type":"track"}"#, true),
        MatchCase(#"event = "Page Viewed" and properties.name = "Catalog""#, #"{"event":"Page Viewed","properties":{"name":"Catalog"}}"#, true),
        MatchCase(#"event = "Page Viewed" and properties.name = "Catalog""#, #"{"event":"Page Viewed"}"#, false),
        MatchCase(#"event = "Page Viewed" and properties.name = "Catalog""#, #"{"event":"Page Viewed","properties":{"name":"Other"}}"#, false),
        MatchCase(#"event = "Page Viewed" and (properties.name = "Catalog" or properties.name = "Home")"#, #"{"event":"Page Viewed","properties":{"name":"Home"}}"#, true),
        MatchCase(#"event = "Page Viewed" and (properties.name = "Catalog" or properties.name = "Home")"#, #"{"event":"Page Viewed","properties":{"name":"Other"}}"#, false),
        MatchCase(#"event = "Page Viewed" and context.ip = "1.1.1.1""#, #"{"event":"Page Viewed","context":{"ip":"1.1.1.1"}}"#, true),
        MatchCase(#"event = "Page Viewed" and context.ip = "1.1.1.1""#, #"{"event":"Page Viewed","context":{"ip":"8.8.8.8"}}"#, false),
        MatchCase(#"event = "Page Viewed" and (context.ip = "1.1.1.1" or properties.ip = "2.2.2.2")"#, #"{"event":"Page Viewed","context":{"ip":"1.1.1.1"}}"#, true),
        MatchCase(#"event = "Page Viewed" and (context.ip = "1.1.1.1" or properties.ip = "2.2.2.2")"#, #"{"event":"Page Viewed","context":{"ip":"2.2.2.2"}}"#, false),
        MatchCase(#"type = "track" and (event = "Page Viewed" or event = "Order Completed")"#, #"{"type":"track","event":"Page Viewed"}"#, true),
    ]

    @Test("Segment's validate cases", arguments: segmentCases)
    func segmentCase(_ testCase: MatchCase) throws { try check(testCase) }

    static let orderingCases: [MatchCase] = {
        // validate.test.ts runs each ordering with the operand 10 and "10".
        var cases: [MatchCase] = []
        let table: [(String, [(String, Bool)])] = [
            ("<", [("5", true), (#""5""#, false), ("10", false), (#""10""#, false)]),
            ("<=", [("5", true), (#""5""#, false), ("10", true), (#""10""#, false), ("11", false), (#""11""#, false)]),
            (">", [("11", true), (#""11""#, false), ("10", false), (#""10""#, false), ("5", false), (#""5""#, false)]),
            (">=", [("11", true), (#""11""#, false), ("10", true), (#""10""#, false), ("5", false), (#""5""#, false)]),
        ]
        for (comparison, rows) in table {
            for operand in ["10", #""10""#] {
                for (value, expected) in rows {
                    cases.append(MatchCase("properties.value \(comparison) \(operand)",
                                           #"{"properties":{"value":\#(value)}}"#, expected))
                }
            }
        }
        return cases
    }()

    @Test("orderings match numbers only", arguments: orderingCases)
    func ordering(_ testCase: MatchCase) throws { try check(testCase) }

    static let edgeCases: [MatchCase] = [
        // Null and missing are the same to every operator; an empty string is present.
        MatchCase(#"traits.plan != null"#, #"{"traits":{"plan":null}}"#, false),
        MatchCase(#"traits.plan != null"#, #"{"traits":{}}"#, false),
        MatchCase(#"traits.plan != null"#, #"{}"#, false),
        MatchCase(#"traits.plan != null"#, #"{"traits":{"plan":""}}"#, true),
        MatchCase(#"traits.plan != null"#, #"{"traits":{"plan":false}}"#, true),
        MatchCase(#"traits.plan = null"#, #"{"traits":null}"#, true),
        MatchCase(#"traits.plan = null"#, #"{"traits":{"plan":0}}"#, false),
        MatchCase(#"userId != null"#, #"{"userId":"u1"}"#, true),
        MatchCase(#"userId != null"#, #"{"userId":null}"#, false),
        MatchCase(#"userId = null"#, #"{"anonymousId":"a1"}"#, true),
        MatchCase(#"name = null"#, #"{"name":"Home"}"#, false),
        // `!=` with a string matches whatever is not that string, missing included.
        MatchCase(#"properties.v != "x""#, #"{}"#, true),
        MatchCase(#"properties.v != "x""#, #"{"properties":{"v":null}}"#, true),
        // Segment compares `event` and `type` with null as the string "null".
        MatchCase(#"event != null"#, #"{"type":"identify"}"#, true),
        MatchCase(#"event != null"#, #"{"event":"null"}"#, false),
        MatchCase(#"event = null"#, #"{"type":"identify"}"#, false),
        // Booleans: only the boolean matches `= true`; `!= true` is a string test in Segment.
        MatchCase(#"traits.vip = true"#, #"{"traits":{"vip":"true"}}"#, false),
        MatchCase(#"traits.vip = true"#, #"{"traits":{"vip":1}}"#, false),
        MatchCase(#"traits.vip = false"#, #"{"traits":{}}"#, false),
        MatchCase(#"traits.vip != true"#, #"{"traits":{"vip":true}}"#, true),
        MatchCase(#"traits.vip != true"#, #"{"traits":{"vip":"true"}}"#, false),
        MatchCase(#"userId = true"#, #"{"userId":true}"#, true),
        MatchCase(#"userId = true"#, #"{"userId":"true"}"#, false),
        MatchCase(#"name = true"#, #"{"name":"true"}"#, true),
        MatchCase(#"name = true"#, #"{"name":true}"#, false),
        // Top-level numbers compare with their JavaScript spelling.
        MatchCase(#"userId = 123"#, #"{"userId":"123"}"#, true),
        MatchCase(#"userId = 123"#, #"{"userId":123}"#, false),
        MatchCase(#"event = 1.50"#, #"{"event":"1.5"}"#, true),
        MatchCase(#"type = identify"#, #"{"type":"identify"}"#, true),
        // Orderings on wrong types, and operands that are not numbers.
        MatchCase(#"properties.total > 10"#, #"{"properties":{"total":"20"}}"#, false),
        MatchCase(#"properties.total > 10"#, #"{"properties":{"total":true}}"#, false),
        MatchCase(#"properties.total > 10"#, #"{}"#, false),
        MatchCase(#"properties.total < "abc""#, #"{"properties":{"total":1}}"#, false),
        MatchCase(#"properties.total >= "abc""#, #"{"properties":{"total":1}}"#, false),
        MatchCase(#"properties.total > " 5 ""#, #"{"properties":{"total":6}}"#, true),
        MatchCase(#"properties.total > "0x10""#, #"{"properties":{"total":17}}"#, true),
        MatchCase(#"properties.total > true"#, #"{"properties":{"total":2}}"#, true),
        MatchCase(#"properties.total < null"#, #"{"properties":{"total":-1}}"#, false),
        MatchCase(#"properties.total = -0"#, #"{"properties":{"total":0}}"#, true),
        MatchCase(#"properties.total = 27.5"#, #"{"properties":{"total":27.5}}"#, true),
        MatchCase(#"properties.total != 27.5"#, #"{"properties":{"total":"27.5"}}"#, false),
        MatchCase(#"properties.total != 27.5"#, #"{}"#, false),
        MatchCase(#"type < 5"#, #"{"type":"track"}"#, false),
        // Strings: functions test strings only and are case-sensitive.
        MatchCase(#"contains(traits.email, "@acme")"#, #"{"traits":{"email":"ann@acme.com"}}"#, true),
        MatchCase(#"contains(traits.email, "@acme")"#, #"{"traits":{"email":"ann@ACME.com"}}"#, false),
        MatchCase(#"contains(properties.n, "1")"#, #"{"properties":{"n":1}}"#, false),
        MatchCase(#"!contains(properties.n, "1")"#, #"{"properties":{"n":1}}"#, false),
        MatchCase(#"!contains(properties.n, "1")"#, #"{}"#, false),
        MatchCase(#"!match(properties.sku, "ABC*")"#, #"{}"#, false),
        MatchCase(#"contains(properties.sku, 12)"#, #"{"properties":{"sku":"X-123"}}"#, true),
        MatchCase(#"contains(event, "")"#, #"{"event":""}"#, true),
        MatchCase(#"match(properties.sku, "ABC*")"#, #"{"properties":{"sku":"ABC-1"}}"#, true),
        MatchCase(#"match(properties.sku, "ABC*")"#, #"{"properties":{"sku":"abc-1"}}"#, false),
        MatchCase(#"match(properties.sku, "ABC*")"#, #"{"properties":{"sku":"AB"}}"#, false),
        MatchCase(#"match(properties.sku, "*xyz")"#, #"{"properties":{"sku":"1-xyz"}}"#, true),
        MatchCase(#"match(properties.sku, "*xyz")"#, #"{"properties":{"sku":"xyz-1"}}"#, false),
        MatchCase(#"match(event, "*")"#, #"{"event":"anything"}"#, true),
        MatchCase(#"match(event, "*")"#, #"{}"#, false),
        MatchCase(#"match(event, "*abc*")"#, #"{"event":"*abc-def"}"#, true),
        MatchCase(#"match(event, "*abc*")"#, #"{"event":"x-abc-y"}"#, false),
        MatchCase(#"event = "Order Completed""#, #"{"event":"order completed"}"#, false),
        MatchCase(#"contains(name, "Ho")"#, #"{"name":"Home"}"#, true),
        MatchCase(#"match(userId, "*67")"#, #"{"userId":"97980cfea0067"}"#, true),
        // Strings compare by code points: é (U+00E9) is not e + U+0301.
        MatchCase("properties.s = \"\u{E9}\"", "{\"properties\":{\"s\":\"e\u{301}\"}}", false),
        MatchCase("properties.s = \"\u{E9}\"", "{\"properties\":{\"s\":\"\u{E9}\"}}", true),
        MatchCase("contains(properties.s, \"e\")", "{\"properties\":{\"s\":\"caf\u{E9}\"}}", false),
        MatchCase("match(properties.s, \"*\u{301}\")", "{\"properties\":{\"s\":\"cafe\u{301}\"}}", true),
        MatchCase(#"event = "Ünïcødé 🎉""#, #"{"event":"Ünïcødé 🎉"}"#, true),
        MatchCase(#"properties.path = "C:\temp""#, #"{"properties":{"path":"C:\\temp"}}"#, true),
        // Paths: escapes, arrays by escaped index, JavaScript's length, falsy values.
        MatchCase(#"properties.product\ 1.price = 5"#, #"{"properties":{"product 1":{"price":5}}}"#, true),
        MatchCase(#"properties.product\ 1.price = 5"#, #"{"properties":{"product1":{"price":5}}}"#, false),
        MatchCase(#"properties.a\.b = "x""#, #"{"properties":{"a":{"b":"x"}}}"#, true),
        MatchCase(#"properties.a\.b = "x""#, #"{"properties":{"a.b":"x"}}"#, false),
        MatchCase(#"properties.products.\0.sku = "45790-32""#, #"{"properties":{"products":[{"sku":"45790-32"}]}}"#, true),
        MatchCase(#"properties.products.\1.sku != null"#, #"{"properties":{"products":[{"sku":"a"}]}}"#, false),
        MatchCase(#"properties.products.\0\0.sku != null"#, #"{"properties":{"products":[{"sku":"a"}]}}"#, false),
        MatchCase(#"properties.products.length >= 2"#, #"{"properties":{"products":[1,2]}}"#, true),
        MatchCase(#"properties.code.length = 3"#, #"{"properties":{"code":"abc"}}"#, true),
        MatchCase(#"properties.code.\1 = "b""#, #"{"properties":{"code":"abc"}}"#, true),
        MatchCase(#"properties.products.sku != null"#, #"{"properties":{"products":[{"sku":"a"}]}}"#, false),
        MatchCase(#"properties.a.b = 0"#, #"{"properties":{"a":0}}"#, true),
        MatchCase(#"properties.a.b = """#, #"{"properties":{"a":""}}"#, true),
        MatchCase(#"properties.a.b = false"#, #"{"properties":{"a":false}}"#, true),
        MatchCase(#"properties.a.b != null"#, #"{"properties":{"a":5}}"#, false),
        MatchCase(#"properties.a.b != null"#, #"{"properties":{"a":true}}"#, false),
        MatchCase(#"context.app.version = "1""#, #"{"context":{"app":{"version":"1"}}}"#, true),
        MatchCase(#"context.app.version = "1""#, #"{"context":{"app":{"version":1}}}"#, false),
        MatchCase(#"properties.\and = "x""#, #"{"properties":{"and":"x"}}"#, true),
        // Segment's grouping: the last conjunction at a level decides for the whole level.
        MatchCase(#"type = "track" and event = "A" or event = "B""#, #"{"type":"track","event":"Z"}"#, true),
        MatchCase(#"event = "A" or event = "B" and type = "track""#, #"{"type":"track","event":"A"}"#, false),
        MatchCase(#"type = "track" and (event = "A" or (properties.x = 1 and properties.y = 2))"#,
                  #"{"type":"track","event":"Z","properties":{"x":1,"y":2}}"#, true),
        MatchCase(#"type = "track" and (event = "A" or (properties.x = 1 and properties.y = 2))"#,
                  #"{"type":"track","event":"Z","properties":{"x":1,"y":3}}"#, false),
        MatchCase(#"type = "track" and (event = "A" or (properties.x = 1 and properties.y = 2))"#,
                  #"{"type":"identify","event":"A"}"#, false),
        // Events that are not objects match nothing, whatever the subscription says.
        MatchCase(#"properties.v != "x""#, #""""#, false),
        MatchCase(#"properties.v != "x""#, #"null"#, false),
        MatchCase(#"type != "x""#, #"[{"type":"track"}]"#, false),
    ]

    @Test("edge cases", arguments: edgeCases)
    func edgeCase(_ testCase: MatchCase) throws { try check(testCase) }

    static let identify = #"""
        {"anonymousId":"507f191e810c19729de860ea","channel":"browser",
         "context":{"ip":"8.8.8.8","library":{"name":"analytics.js","version":"next-1.68.0"},"locale":"en-US",
                    "page":{"path":"/account","title":"Account","url":"https://shop.example.com/account"}},
         "integrations":{},"messageId":"ajs-next-8b8d5e7e2c1f4c0b9f1c6a3a6b7c8d9e",
         "traits":{"name":"Peter Gibbons","email":"peter@example.com","plan":"premium","logins":5,
                   "first_time_shopper":true,"address":{"city":"San Francisco","country":"USA"}},
         "type":"identify","userId":"97980cfea0067","version":2}
        """#

    static let sampleCases: [MatchCase] = [
        MatchCase(#"type = "identify""#, identify, true, eventName: "identify.json"),
        MatchCase(#"type = "track""#, identify, false, eventName: "identify.json"),
        MatchCase(#"type = "identify" and traits.logins >= 5 and traits.first_time_shopper = true"#, identify, true, eventName: "identify.json"),
        MatchCase(#"type = "identify" and (traits.plan = "enterprise" or contains(traits.email, "@example.com"))"#, identify, true, eventName: "identify.json"),
        MatchCase(#"traits.address.city = "San Francisco" and context.library.name = "analytics.js""#, identify, true, eventName: "identify.json"),
        MatchCase(#"match(context.page.url, "https://shop.example.com*") and traits.plan != null"#, identify, true, eventName: "identify.json"),
        MatchCase(#"traits.logins > 5"#, identify, false, eventName: "identify.json"),
        MatchCase(#"traits.logins = "5""#, identify, false, eventName: "identify.json"),
        MatchCase(#"event = "Order Completed""#, identify, false, eventName: "identify.json"),
        MatchCase(#"userId != null and traits.vip = null"#, identify, true, eventName: "identify.json"),
    ]

    @Test("sample identify", arguments: sampleCases)
    func sample(_ testCase: MatchCase) throws { try check(testCase) }
}
