import JSONKit
import Testing
@testable import MappingKit

/// Cases ported from mapping-kit's README and `index.iso.test.ts`, plus edge cases of the
/// JavaScript semantics mapping-kit inherits.
@Suite struct DirectiveTests {
    static let rawAndRemoval: [ResolutionCase] = [
        .init(#"{}"#, #"{"cool": false}"#, #"{}"#),
        .init(#"{"cool": true}"#, #"{}"#, #"{"cool": true}"#),
        .init(#"{"x": null}"#, #"{}"#, #"{"x": null}"#),
        .init(#"{"x": {}}"#, #"{}"#, #"{"x": {}}"#),
        .init(#"{"foo": {"@path": "$.a"}, "bar": {"@path": "$.b"}, "baz": null}"#, #"{"a": 1}"#, #"{"foo": 1, "baz": null}"#),
        .init(#"{"x": {"y": {"@path": "$.no"}, "z": 1}, "foo": 1}"#, #"{}"#, #"{"x": {"z": 1}, "foo": 1}"#),
        .init(#"{"x": {"y": {"z": {"@path": "$.no"}}}, "foo": 1}"#, #"{}"#, #"{"x": {"y": {}}, "foo": 1}"#),
        .init(#"{"z": 1, "a": {"@path": "$.a"}, "m": 2}"#, #"{"a": 0}"#, #"{"z": 1, "a": 0, "m": 2}"#),
        .init(#"["cool", {"@path": "$.a"}, {"@path": "$.missing"}]"#, #"{"a": 1}"#, #"["cool", 1, null]"#),
        .init(#"123"#, #"{}"#, #"123"#),
        .init(#""neat""#, #"{}"#, #""neat""#),
        .init(#"{"a": {"_metadata": {"x": 1}, "@path": "$.a"}}"#, #"{"a": 5}"#, #"{"a": 5}"#),
    ]

    @Test(arguments: rawAndRemoval) func rawValues(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let paths: [ResolutionCase] = [
        .init(#"{"neat": {"@path": "$.foo"}}"#, #"{"foo": "bar"}"#, #"{"neat": "bar"}"#),
        .init(#"{"@path": ""}"#, #"{"foo": "bar"}"#, #"{"foo": "bar"}"#),
        .init(#"{"@path": "$."}"#, #"{"foo": "bar"}"#, #"{"foo": "bar"}"#),
        .init(#"{"@path": "$.foo.bar"}"#, #"{"foo": {"bar": 42}}"#, #"42"#),
        .init(#"{"@path": "foo.bar"}"#, #"{"foo": {"bar": 42}}"#, #"42"#),
        .init(#"{"@path": "$.foo.baz[0].num"}"#, #"{"foo": {"baz": [{"num": 1}, {"num": 2}]}}"#, #"1"#),
        .init(#"{"@path": "$.foo.baz.1.num"}"#, #"{"foo": {"baz": [{"num": 1}, {"num": 2}]}}"#, #"2"#),
        .init(#"{"@path": "$.a['b c'].d"}"#, #"{"a": {"b c": {"d": 3}}}"#, #"3"#),
        .init(#"{"@path": "$.a[\"b\"]"}"#, #"{"a": {"b": 4}}"#, #"4"#),
        .init(#"{"@path": "$.[txt] non"}"#, #"{"[txt] non": true}"#, #"true"#),
        .init(#"{"@path": "$.integrations.Actions Amplitude.session_id"}"#,
              #"{"integrations": {"Actions Amplitude": {"session_id": "bar"}}}"#, #""bar""#),
        .init(#"{"neat": {"@path": "$.oops"}}"#, #"{"foo": "bar"}"#, #"{}"#),
        .init(#"{"neat": {"@path": "$.foo.bar.baz"}}"#, #"{"foo": "bar"}"#, #"{}"#),
        .init(#"{"@path": {"@path": "$.foo"}}"#, #"{"foo": "bar", "bar": "baz"}"#, #""baz""#),
        // A falsy value met midway is returned as it is (`prevObj && prevObj[key]`).
        .init(#"{"@path": "$.a.b"}"#, #"{"a": 0}"#, #"0"#),
        .init(#"{"@path": "$.a.b"}"#, #"{"a": ""}"#, #""""#),
        .init(#"{"@path": "$.a.b"}"#, #"{"a": false}"#, #"false"#),
        .init(#"{"@path": "$.a.b"}"#, #"{"a": null}"#, #"null"#),
        .init(#"{"@path": "$.a.length"}"#, #"{"a": [1, 2, 3]}"#, #"3"#),
        .init(#"{"@path": "$.a.length"}"#, #"{"a": "héllo"}"#, #"5"#),
        .init(#"{"@path": "$.a.01"}"#, #"{"a": [1, 2]}"#, nil),
        .init(#"{"@path": "$.a.b"}"#, #"{"a": "str"}"#, nil),
        .init(#"{"x": {"@path": "foo$.bar"}}"#, #"{"foobar": 1}"#, #"{"x": 1}"#),
    ]

    @Test(arguments: paths) func path(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let templates: [ResolutionCase] = [
        .init(#"{"@template": "Hello, {{who}}!"}"#, #"{"who": "World"}"#, #""Hello, World!""#),
        .init(#"{"@template": "Hello, {{who.name}}!"}"#, #"{"who": {"name": "World"}}"#, #""Hello, World!""#),
        .init(#"{"@template": "<blink>{{a}} {{{a}}}</blink>"}"#, #"{"a": "<b>Hi</b>"}"#, #""<blink><b>Hi</b> <b>Hi</b></blink>""#),
        .init(#"{"@template": "{{oops.yo}}"}"#, #"{}"#, #""""#),
        .init(#"{"@template": "{{ traits.name }} ({{userId}})"}"#, #"{"traits": {"name": "Mr. Rogers"}, "userId": "abc123"}"#,
              #""Mr. Rogers (abc123)""#),
        .init(#"{"@template": "{{foo}}"}"#, #"{"foo": true}"#, #""true""#),
        .init(#"{"@template": "{{foo}}"}"#, #"{"foo": 1.5}"#, #""1.5""#),
        .init(#"{"@template": "{{foo}}"}"#, #"{"foo": {"bar": "baz"}}"#, #""[object Object]""#),
        .init(#"{"@template": "{{foo}}"}"#, #"{"foo": null}"#, #""""#),
        .init(#"{"@template": "{{foo}}"}"#, #"{"foo": ["a", null, 2, ["b", "c"]]}"#, #""a,,2,b,c""#),
        .init(#"{"@template": "{{foo}}}"}"#, #"{"foo": "hello"}"#, #""hello}""#),
        .init(#"{"@template": "Hello world"}"#, #"{}"#, #""Hello world""#),
        .init(#"{"@template": "{{}} {{ }}x"}"#, #"{"a": 1}"#, #""{{}} [object Object]x""#),
        // A value inserted by the triple pass is scanned again by the double pass.
        .init(#"{"@template": "{{{a}}}"}"#, #"{"a": "{{b}}", "b": "B"}"#, #""B""#),
        .init(#"{"@template": {"@path": "$.t"}}"#, #"{"t": "Hi {{n}}", "n": "Bo"}"#, #""Hi Bo""#),
    ]

    @Test(arguments: templates) func template(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    @Test func templateFromNonStringDirectiveFails() throws {
        #expect(throws: MappingError.self) { try resolve(#"{"@template": {"@path": "$.n"}}"#, #"{"n": 5}"#) }
        let error = try #require(throws: MappingError.self) { try resolve(#"{"@path": {"@path": "$.n"}}"#, #"{}"#) }
        #expect(error.message == "@path: expected string, got undefined")
    }

    static let literals: [ResolutionCase] = [
        .init(#"{"simple": {"@literal": false}}"#, #"{}"#, #"{"simple": false}"#),
        .init(#"{"@literal": true}"#, #"{}"#, #"true"#),
        .init(#"{"@literal": "123"}"#, #"{}"#, #""123""#),
        .init(#"{"nested": {"@literal": {"a": {"@path": "$.a"}, "b": {"@path": "$.b"}}}}"#, #"{"a": "some value"}"#,
              #"{"nested": {"a": "some value"}}"#),
    ]

    @Test(arguments: literals) func literal(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let conditions: [ResolutionCase] = {
        let payload = #"{"a": 1, "b": true, "c": false, "d": null, "e": "", "z": 0, "arr": [], "arrs": [[""]], "obj": {}}"#
        func exists(_ field: String, _ expected: String) -> ResolutionCase {
            .init(#"{"@if": {"exists": {"@path": "$.\#(field)"}, "then": 1, "else": 2}}"#, payload, expected)
        }
        func blank(_ field: String, _ expected: String) -> ResolutionCase {
            .init(#"{"@if": {"blank": {"@path": "$.\#(field)"}, "then": 1, "else": 2}}"#, payload, expected)
        }
        return [
            exists("a", "1"), exists("d", "2"), exists("x", "2"), exists("e", "1"), exists("c", "1"),
            blank("a", "1"), blank("d", "2"), blank("x", "2"), blank("e", "2"),
            blank("c", "2"), blank("z", "2"), blank("arr", "2"), blank("arrs", "2"), blank("obj", "1"), blank("b", "1"),
            .init(#"{"foo-exists": {"@if": {"exists": {"@path": "$.foo"}, "then": true}}}"#, #"{"a": "cool"}"#, #"{}"#),
            .init(#"{"a": {"@if": {"exists": {"@path": "$.oops"}, "then": {"@path": "$.a"}}}}"#, #"{"a": "cool"}"#, #"{}"#),
            .init(#"{"x": {"@if": {"exists": {"@path": "$.a"}, "else": 2}}}"#, #"{"a": "cool"}"#, #"{}"#),
            // A falsy raw `else` is never used (mapping-kit tests `opts.else` for truthiness).
            .init(#"{"x": {"@if": {"exists": {"@path": "$.no"}, "then": 1, "else": 0}}}"#, #"{}"#, #"{}"#),
            .init(#"{"x": {"@if": {"exists": {"@path": "$.no"}, "then": 1, "else": ""}}}"#, #"{}"#, #"{}"#),
            .init(#"{"x": {"@if": {"exists": {"@path": "$.a"}, "then": 0, "else": 1}}}"#, #"{"a": 1}"#, #"{"x": 0}"#),
            .init(#"{"@if": {"exists": "raw", "then": "yep"}}"#, #"{}"#, #""yep""#),
        ]
    }()

    @Test(arguments: conditions) func condition(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let cases: [ResolutionCase] = {
        let payload = #"{"a": 1, "b": "MAKE ME LOWER CASE", "c": "make me upper case", "d": null, "e": "", "f": false, "g": "mIXeD StRinG CasING W/ NuMBErs 190wdB", "h": {"key1": "with values", "key2": ["hi", true, null]}}"#
        func lower(_ field: String, _ expected: String) -> ResolutionCase {
            .init(#"{"@case": {"operator": "lower", "value": {"@path": "$.\#(field)"}}}"#, payload, expected)
        }
        return [
            lower("b", #""make me lower case""#),
            .init(#"{"@case": {"operator": "upper", "value": {"@path": "$.c"}}}"#, payload, #""MAKE ME UPPER CASE""#),
            lower("e", #""""#), lower("g", #""mixed string casing w/ numbers 190wdb""#),
            .init(#"{"@case": {"operator": "upper", "value": {"@path": "$.g"}}}"#, payload, #""MIXED STRING CASING W/ NUMBERS 190WDB""#),
            lower("a", "1"), lower("d", "null"), lower("f", "false"),
            lower("h", #"{"key1": "with values", "key2": ["hi", true, null]}"#),
            .init(#"{"x": {"@case": {"operator": "upper", "value": ""}}}"#, payload, #"{}"#),
            .init(#"{"@case": {"operator": "upper", "value": "straße"}}"#, payload, #""STRASSE""#),
        ]
    }()

    @Test(arguments: cases) func caseConversion(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    @Test func caseWithUnknownOperatorFailsOnStrings() throws {
        let mapping = #"{"@case": {"operator": "unsupported snake", "value": {"@path": "$.b"}}}"#
        let error = try #require(throws: MappingError.self) { try resolve(mapping, #"{"b": "X"}"#) }
        #expect(error.message == #"operator key should have a value of "lower" or "upper""#)
        #expect(try resolve(mapping, #"{"b": 5}"#) == .number(5))
    }

    static let replacements: [ResolutionCase] = [
        .init(#"{"@replace": {"pattern": "_", "replacement": "rrrrr", "value": {"@path": "$.a"}}}"#, #"{"a": ""}"#, #""""#),
        .init(#"{"@replace": {"pattern": "_", "replacement": "rrrrr", "value": {"@path": "$.a"}}}"#, #"{"a": null}"#, #""""#),
        .init(#"{"@replace": {"pattern": "_", "value": {"@path": "$.missing"}}}"#, #"{}"#, #""""#),
        .init(#"{"@replace": {"pattern": "WW", "replacement": "oo", "value": {"@path": "$.a"}, "ignorecase": false}}"#,
              #"{"a": "cWWl-story-ww"}"#, #""cool-story-ww""#),
        .init(#"{"@replace": {"pattern": "AaB", "replacement": "nice", "value": {"@path": "$.a"}, "ignorecase": true}}"#,
              #"{"a": "aab-----AaB---aab"}"#, #""nice-----nice---nice""#),
        .init(#"{"@replace": {"pattern": "_", "replacement": "", "value": {"@path": "$.a"}}}"#,
              #"{"a": "nomore_underscore"}"#, #""nomoreunderscore""#),
        .init(#"{"@replace": {"pattern": "LOL", "replacement": "YAY", "value": {"@path": "$.a"}}}"#,
              #"{"a": "Well Hello there LOL"}"#, #""Well Hello there YAY""#),
        .init(#"{"@replace": {"pattern": "+", "replacement": "_", "value": {"@path": "$.a"}, "global": true}}"#,
              #"{"a": "many+different+things"}"#, #""many_different_things""#),
        .init(#"{"@replace": {"pattern": "+", "replacement": "_", "value": {"@path": "$.a"}, "global": false}}"#,
              #"{"a": "many+different+things"}"#, #""many_different+things""#),
        .init(#"{"@replace": {"pattern": "aaabbbcccd", "replacement": "", "value": {"@path": "$.a"}}}"#,
              #"{"a": "aaabbbcccd"}"#, #""""#),
        .init(#"{"@replace": {"pattern": "many+", "value": {"@path": "$.a"}}}"#, #"{"a": "many+different+things"}"#,
              #""different+things""#),
        .init(#"{"@replace": {"pattern": "true", "replacement": "granted", "value": {"@path": "$.a"}}}"#, #"{"a": true}"#,
              #""granted""#),
        .init(#"{"@replace": {"pattern": "1", "replacement": "granted", "value": {"@path": "$.a"}}}"#, #"{"a": 1}"#,
              #""granted""#),
        .init(#"{"@replace": {"pattern": "-", "replacement": " ", "pattern2": "great", "replacement2": "awesome", "value": {"@path": "$.a"}}}"#,
              #"{"a": "something-great!"}"#, #""something awesome!""#),
        .init(#"{"@replace": {"pattern": "true", "replacement": "granted", "pattern2": "false", "replacement2": "denied", "value": {"@path": "$.a"}}}"#,
              #"{"a": false}"#, #""denied""#),
        .init(#"{"@replace": {"pattern": "-", "replacement": "@", "global": false, "value": {"@path": "$.a"}}}"#,
              #"{"a": "just-the-first"}"#, #""just@the-first""#),
        // The pattern is literal, and the replacement follows String.prototype.replace's `$` rules.
        .init(#"{"@replace": {"pattern": ".*", "replacement": "X", "value": "a.*b.*"}}"#, #"{}"#, #""aXbX""#),
        .init(#"{"@replace": {"pattern": "b", "replacement": "[$&]", "value": "abc"}}"#, #"{}"#, #""a[b]c""#),
        .init(#"{"@replace": {"pattern": "b", "replacement": "$$", "value": "abc"}}"#, #"{}"#, #""a$c""#),
        .init(#"{"@replace": {"pattern": "b", "replacement": "$`$'", "value": "abc"}}"#, #"{}"#, #""aacc""#),
        .init(#"{"@replace": {"pattern": "b", "replacement": "$1$<n>", "value": "abc"}}"#, #"{}"#, #""a$1$<n>c""#),
        .init(#"{"@replace": {"pattern": "É", "replacement": "e", "ignorecase": true, "value": "été"}}"#, #"{}"#, #""ete""#),
        .init(#"{"x": {"@replace": {"pattern": "a", "value": ""}}}"#, #"{}"#, #"{}"#),
    ]

    @Test(arguments: replacements) func replace(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let arrayPaths: [ResolutionCase] = {
        let data = #"{"products": [{"productId": "123", "price": 0.5}, {"productId": "456", "price": 0.99}]}"#
        let shape = #"{"product_id": {"@path": "$.productId"}, "monies": {"@path": "$.price"}}"#
        return [
            .init(#"{"neat": {"@arrayPath": ["$.products"]}}"#, data,
                  #"{"neat": [{"productId": "123", "price": 0.5}, {"productId": "456", "price": 0.99}]}"#),
            .init(#"{"neat": {"@arrayPath": ["$.products", \#(shape)]}}"#, data,
                  #"{"neat": [{"product_id": "123", "monies": 0.5}, {"product_id": "456", "monies": 0.99}]}"#),
            .init(#"{"neat": {"@arrayPath": [{"@if": {"exists": {"@path": "$.products"}, "then": {"@path": "$.products"}, "else": []}}, \#(shape)]}}"#,
                  data, #"{"neat": [{"product_id": "123", "monies": 0.5}, {"product_id": "456", "monies": 0.99}]}"#),
            .init(#"{"neat": {"@arrayPath": ["$.products", \#(shape)]}}"#, #"{"products": {"notAnArray": true}}"#, #"{"neat": [{}]}"#),
            .init(#"{"neat": {"@arrayPath": ["$.properties", \#(shape)]}}"#, #"{"properties": {"productId": "123", "price": 0.5}}"#,
                  #"{"neat": [{"product_id": "123", "monies": 0.5}]}"#),
            .init(#"{"neat": {"@arrayPath": ["$.missing", \#(shape)]}}"#, data, #"{}"#),
            .init(#"{"neat": {"@arrayPath": ["$.s", \#(shape)]}}"#, #"{"s": "text"}"#, #"{"neat": "text"}"#),
            .init(#"{"neat": {"@arrayPath": ["$.products", {}]}}"#, data,
                  #"{"neat": [{"productId": "123", "price": 0.5}, {"productId": "456", "price": 0.99}]}"#),
            .init(#"{"@arrayPath": ["$.tags", {"@template": "n{{length}}"}]}"#, #"{"tags": ["ab", "cde"]}"#, #"["n2", "n3"]"#),
        ]
    }()

    @Test(arguments: arrayPaths) func arrayPath(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let jsonCases: [ResolutionCase] = {
        func encode(_ payload: String, _ expected: String) -> ResolutionCase {
            .init(#"{"neat": {"@json": {"mode": "encode", "value": {"@path": "$.foo"}}}}"#, payload, expected)
        }
        func decode(_ payload: String, _ expected: String) -> ResolutionCase {
            .init(#"{"neat": {"@json": {"mode": "decode", "value": {"@path": "$.foo"}}}}"#, payload, expected)
        }
        return [
            encode(#"{"foo": "bar"}"#, #"{"neat": "\"bar\""}"#),
            encode(#"{"foo": {"bar": "baz"}}"#, #"{"neat": "{\"bar\":\"baz\"}"}"#),
            encode(#"{"foo": ["bar", "baz"]}"#, #"{"neat": "[\"bar\",\"baz\"]"}"#),
            encode(#"{"foo": null}"#, #"{"neat": "null"}"#),
            encode(#"{"bar": 1}"#, #"{}"#),
            decode(#"{"foo": "\"bar\""}"#, #"{"neat": "bar"}"#),
            decode(#"{"foo": "{\"bar\":\"baz\"}"}"#, #"{"neat": {"bar": "baz"}}"#),
            decode(#"{"foo": "[\"bar\",\"baz\"]"}"#, #"{"neat": ["bar", "baz"]}"#),
            decode(#"{"foo": "Hello World"}"#, #"{"neat": "Hello World"}"#),
            decode(#"{"foo": 12}"#, #"{"neat": 12}"#),
            decode(#"{"foo": " 7 "}"#, #"{"neat": 7}"#),
        ]
    }()

    @Test(arguments: jsonCases) func jsonDirective(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let flattens: [ResolutionCase] = [
        .init(#"{"neat": {"@flatten": {"value": {"@path": "$.foo"}, "separator": "."}}}"#,
              #"{"foo": {"bar": "baz", "aces": {"a": 1, "b": 2}}}"#, #"{"neat": {"bar": "baz", "aces.a": 1, "aces.b": 2}}"#),
        .init(#"{"result": {"@flatten": {"value": {"@path": "$.foo"}, "separator": "."}}}"#,
              #"{"foo": [{"fazz": "bar", "fizz": "baz"}]}"#, #"{"result": {"0.fazz": "bar", "0.fizz": "baz"}}"#),
        .init(#"{"neat": {"@flatten": {"value": {"@path": "$.foo"}, "separator": ".", "omitArrays": true}}}"#,
              #"{"foo": {"bar": "baz", "aces": [1, 2]}}"#, #"{"neat": {"bar": "baz", "aces": [1, 2]}}"#),
        .init(#"{"@flatten": {"value": {"@path": "$.foo"}, "separator": "/"}}"#,
              #"{"foo": {"a": {"b": {"c": 1}, "d": 2}, "e": {}, "f": [], "g": null}}"#, #"{"a/b/c": 1, "a/d": 2, "g": null}"#),
        .init(#"{"@flatten": {"value": {"@path": "$.foo"}, "separator": "."}}"#, #"{"foo": 5}"#, #"{"": 5}"#),
        .init(#"{"@flatten": {"value": {"@path": "$.foo"}, "separator": "."}}"#, #"{}"#, #"{}"#),
        .init(#"{"@flatten": {"value": {"@path": "$.foo"}, "separator": "."}}"#, #"{"foo": {"a.b": 1, "a": {"b": 2}}}"#, #"{"a.b": 2}"#),
    ]

    @Test(arguments: flattens) func flatten(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let merges: [ResolutionCase] = {
        var cases: [ResolutionCase] = []
        for direction in ["left", "right"] {
            cases.append(.init(#"{"@merge": {"direction": "\#(direction)", "objects": []}}"#, #"{}"#, #"{}"#))
            cases.append(.init(#"{"@merge": {"direction": "\#(direction)", "objects": [{"cool": true}]}}"#, #"{}"#, #"{"cool": true}"#))
        }
        let traits = #"{"traits": {"name": "Mr. Rogers", "greeting": "Neighbor", "neighborhood": "Latrobe"}, "properties": {"neighborhood": "Make Believe"}}"#
        return cases + [
            .init(#"{"@merge": {"direction": "right", "objects": [{"cool": true}, {"cool": "you bet"}]}}"#, #"{}"#, #"{"cool": "you bet"}"#),
            .init(#"{"@merge": {"direction": "right", "objects": [{"cool": true}, {"@path": "foo"}]}}"#, #"{"foo": {"bar": "baz"}}"#,
                  #"{"cool": true, "bar": "baz"}"#),
            .init(#"{"@merge": {"direction": "right", "objects": [{"cool": true, "hey": "there"}, {"@path": "foo"}]}}"#,
                  #"{"foo": {"bar": "baz", "hey": "you"}}"#, #"{"cool": true, "hey": "you", "bar": "baz"}"#),
            .init(#"{"@merge": {"direction": "left", "objects": [{"cool": true}, {"cool": "you bet"}]}}"#, #"{}"#, #"{"cool": true}"#),
            .init(#"{"@merge": {"direction": "left", "objects": [{"cool": true, "hey": "there"}, {"@path": "foo"}]}}"#,
                  #"{"foo": {"bar": "baz", "hey": "you"}}"#, #"{"bar": "baz", "hey": "there", "cool": true}"#),
            .init(#"{"@merge": {"objects": [{"@path": "traits"}, {"@path": "properties"}], "direction": "right"}}"#, traits,
                  #"{"name": "Mr. Rogers", "greeting": "Neighbor", "neighborhood": "Make Believe"}"#),
            .init(#"{"@merge": {"objects": [{"name": "Missing name", "neighborhood": "Missing neighborhood"}, {"@path": "traits"}], "direction": "right"}}"#,
                  #"{"traits": {"name": "Mr. Rogers"}}"#, #"{"name": "Mr. Rogers", "neighborhood": "Missing neighborhood"}"#),
            // A member resolving to undefined still overrides, as Object.assign copies it before clean-up.
            .init(#"{"@merge": {"direction": "right", "objects": [{"a": 1, "b": 2}, {"a": {"@path": "$.none"}}]}}"#, #"{}"#, #"{"b": 2}"#),
            .init(#"{"@merge": {"direction": "right", "objects": [{"a": {"@path": "$.none"}, "b": 1}, {"a": 2}]}}"#, #"{}"#, #"{"a": 2, "b": 1}"#),
            .init(#"{"@merge": {"direction": "right", "objects": [{"@path": "s"}]}}"#, #"{"s": "ab"}"#, #"{"0": "a", "1": "b"}"#),
        ]
    }()

    @Test(arguments: merges) func merge(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let transforms: [ResolutionCase] = [
        .init(#"{"@transform": {"apply": {"foo": {"@path": "$.a"}}, "mapping": {"cool": {"@path": "$.foo"}}}}"#, #"{"a": 1, "b": 2}"#,
              #"{"cool": 1}"#),
        .init(#"{"@transform": {"apply": {"properties": {"@flatten": {"value": {"@path": "$.properties"}, "separator": "_"}}}, "mapping": {"properties": {"@path": "$.properties"}, "topLevel": {"@path": "$.properties.nested_a"}}}}"#,
              #"{"properties": {"test": "value", "another": "thing", "nested": {"a": "special", "b": 2}}, "otherStuff": "foo", "more": "bar"}"#,
              #"{"properties": {"test": "value", "another": "thing", "nested_a": "special", "nested_b": 2}, "topLevel": "special"}"#),
        .init(#"{"__segment_internal_directive": {"@transform": {"apply": {"properties": {"@flatten": {"value": {"@path": "$.properties"}, "separator": "_"}}}}}, "properties": {"@path": "$.properties"}, "topLevel": {"@path": "$.properties.nested_a"}}"#,
              #"{"properties": {"test": "value", "another": "thing", "nested": {"a": "special", "b": 2}}, "otherStuff": "foo", "more": "bar"}"#,
              #"{"properties": {"test": "value", "another": "thing", "nested_a": "special", "nested_b": 2}, "topLevel": "special"}"#),
    ]

    @Test(arguments: transforms) func transform(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    static let exclusions: [ResolutionCase] = {
        let payload = #"{"foo": {"bar": null, "aces": {"a": 1, "b": 2}}}"#
        return [
            .init(#"{"someFieldToExclude": {"@excludeWhenNull": {"@path": "$.foo.bar"}}}"#, payload, #"{}"#),
            .init(#"{"someFieldToExclude": {"@excludeWhenNull": {"@path": "$.foo.bar"}}, "anotherField": {"@path": "$.foo.aces.a"}}"#,
                  payload, #"{"anotherField": 1}"#),
            .init(#"{"neat": {"@excludeWhenNull": {"@path": "$.foo"}}}"#, payload, #"{"neat": {"aces": {"a": 1, "b": 2}}}"#),
            .init(#"{"neat": {"@excludeWhenNull": {"@path": "$.foo"}}}"#,
                  #"{"foo": {"bar": null, "aces": {"a": 1, "b": 2, "c": null, "d": {"a": null, "b": null}}, "l": [null]}}"#,
                  #"{"neat": {"aces": {"a": 1, "b": 2, "d": {}}, "l": [null]}}"#),
            .init(#"{"empty": {"@transform": {"apply": {"properties": {"@excludeWhenNull": {"@path": "$.properties"}}}, "mapping": {"properties": {"@path": "$.properties"}, "topLevel": {"@path": "$.properties.nested_a"}}}}}"#,
                  payload, #"{"empty": {}}"#),
            .init(#"""
                {"massive": {
                  "pathNull": {"@excludeWhenNull": {"@path": "$.foo.bar"}},
                  "templateEmpty": {"@excludeWhenNull": {"@template": "{{foo.bar}}"}},
                  "literalNull": {"@excludeWhenNull": {"@literal": null}},
                  "ifNull": {"@excludeWhenNull": {"@if": {"exists": {"@path": "$.foo.foobar"}, "then": 1, "else": null}}},
                  "caseNull": {"@excludeWhenNull": {"@case": {"operator": "upper", "value": {"@path": "$.foo.bar"}}}},
                  "replaceNull": {"@excludeWhenNull": {"@replace": {"pattern": "-", "replacement": "nice", "value": {"@path": "$.foo.bar"}}}},
                  "jsonNull": {"@excludeWhenNull": {"@json": {"mode": "decode", "value": {"@path": "$.foo.bar"}}}},
                  "transformNull": {"@excludeWhenNull": {"@transform": {"apply": {"properties": {"@path": "$.foo.bar"}},
                      "mapping": {"properties": {"@excludeWhenNull": {"@path": "$.properties"}}}}}},
                  "transformNull2": {"@excludeWhenNull": {"@transform": {"apply": {"properties": {"@excludeWhenNull": {"@path": "$.foo.bar"}}},
                      "mapping": {"properties": {"@path": "$.properties"}}}}},
                  "transformValue": {"@excludeWhenNull": {"@transform": {"apply": {"properties": {"@path": "$.foo"}},
                      "mapping": {"properties": {"@path": "$.properties"}}}}},
                  "jsonNullEncode": {"@excludeWhenNull": {"@json": {"mode": "encode", "value": {"@path": "$.foo.bar"}}}}
                }}
                """#, payload,
                  #"{"massive": {"templateEmpty": "", "replaceNull": "", "transformNull": {}, "transformNull2": {}, "transformValue": {"properties": {"aces": {"a": 1, "b": 2}}}, "jsonNullEncode": "null"}}"#),
        ]
    }()

    @Test(arguments: exclusions) func excludeWhenNull(_ testCase: ResolutionCase) throws {
        try expectResolution(testCase)
    }

    @Test func payloadMustBeAnObject() throws {
        let mapping = try Mapping(json(#"{"a": 1}"#))
        #expect(throws: MappingError.self) { try mapping.resolve(json("123")) }
        #expect(throws: MappingError.self) { try mapping.resolve(json("[]")) }
    }

    @Test func defaultUpdateProfileMappingOnSamples() throws {
        let mapping = try Mapping(json("""
            {"user_id": {"@if": {"exists": {"@path": "$.userId"}, "then": {"@path": "$.userId"}, "else": {"@path": "$.anonymousId"}}},
             "traits": {"@path": "$.traits"}}
            """))
        let known = try mapping.resolve(json(#"{"userId": "u1", "anonymousId": "a1", "traits": {"z": 1, "a": 2}}"#))
        #expect(known == (try json(#"{"user_id": "u1", "traits": {"z": 1, "a": 2}}"#)))
        let anonymous = try mapping.resolve(json(#"{"userId": null, "anonymousId": "a1"}"#))
        #expect(anonymous == (try json(#"{"user_id": "a1"}"#)))
    }

    private func expectResolution(_ testCase: ResolutionCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try resolve(testCase.mapping, testCase.payload)
        let expected = try testCase.expected.map(json)
        #expect(result == expected, "got \(result?.jsonString ?? "undefined")", sourceLocation: sourceLocation)
    }
}
