import JSONKit
import Testing
@testable import MappingKit

/// mapping-kit's schema fixtures (`schema-fixtures/valid` and `invalid`), with our path format.
@Suite struct ValidationTests {
    static let valid = [
        #"{"@arrayPath": ["$.products", {"id": {"@path": "$.id"}}]}"#,
        #"{"@arrayPath": ["$.products"]}"#,
        #"{"@if": {"exists": {"@path": "$.a"}, "then": {"@if": {"exists": {"@path": "$.b"}, "then": 1}}, "else": 2}}"#,
        #"{"@if": {"exists": {"@path": "$.a"}, "then": "yep"}}"#,
        #"{"@path": "$.foo.bar"}"#,
        #"{"@replace": {"pattern": "aB", "value": {"@path": "$.a"}, "ignorecase": true}}"#,
        #"{"@template": "Hello, {{traits.name}}", "_metadata": {"label": "x"}}"#,
        #"["cool", 1]"#, #""neat""#, #"123"#, #"{"a": {"b": {"c": 1}}}"#,
        #"{"@literal": false}"#,
        #"{"@liquid": "{% if a == 1 %}one{% elsif a > 1 %}many{% else %}none{% endif %}"}"#,
    ]

    @Test(arguments: valid) func acceptsValidMappings(_ mapping: String) throws {
        #expect(try validationProblems(mapping) == [])
    }

    static let invalid: [(String, [String])] = [
        (#"{"@arrayPath": "nope"}"#, [#"$["@arrayPath"]: should be an array but it is a string"#]),
        (#"{"@if": {"exists": true, "then": {"@oops": {}}}}"#,
         [#"$["@if"].then: has an invalid directive: @oops (valid directives: @arrayPath, @case, @excludeWhenNull, @flatten, @if, @json, @liquid, @literal, @merge, @path, @replace, @template, @transform)"#]),
        (#"{"@path": false}"#, [#"$["@path"]: should be a string or a mapping directive but it is a boolean"#]),
        (#"{"@replace": {"value": {"@path": "$.a"}}}"#, [#"$["@replace"]: should have field "pattern" but it doesn't"#]),
        (#"{"@replace": {"pattern": "bla"}}"#, [#"$["@replace"]: should have field "value" but it doesn't"#]),
        (#"{"@replace": {"pattern": "waaaaayyytoooooloooong", "value": {"@path": "$.a"}}}"#,
         [#"$["@replace"].pattern: should be a string of length 10 or less"#]),
        (#"{"@replace": {"pattern": "w", "replacement": "waaaayyyytooolong", "value": {"@path": "$.a"}}}"#,
         [#"$["@replace"].replacement: should be a string of length 10 or less"#]),
        (#"{"@replace": {"pattern": "+", "replacement": "-", "value": {"@path": "$.a"}, "global": "bla"}}"#,
         [#"$["@replace"].global: should be a boolean but it is a string"#]),
        (#"{"@replace": {"pattern": "+", "replacement": "-", "value": {"@path": "$.a"}, "ignorecase": "bla"}}"#,
         [#"$["@replace"].ignorecase: should be a boolean but it is a string"#]),
        (#"{"@template": 123}"#, [#"$["@template"]: should be a string or a mapping directive but it is a number"#]),
        (#"{"@path": "$.foo", "bar": "baz"}"#,
         ["$: should only have one @-prefixed key but it has 2 keys (put raw values and the directive in separate objects)"]),
        (#"{"@path": "$.foo", "@bar": "baz"}"#, ["$: should only have one @-prefixed key but it has 2 keys"]),
        (#"{"obj": {"@path": "foo.bar", "oops": true}, "hash": {"@template": {}}}"#, [
            "$.obj: should only have one @-prefixed key but it has 2 keys (put raw values and the directive in separate objects)",
            #"$.hash["@template"]: should be a string or a mapping directive but it is an object"#,
        ]),
        (#"{"oops": {"@merge": [{}, 123]}}"#, [#"$.oops["@merge"]: should be an object but it is an array"#]),
        (#"{"@merge": {"direction": "up", "objects": [{}, 1]}}"#, [
            #"$["@merge"].direction: should be one of left, right but it is "up""#,
            #"$["@merge"].objects[1]: should be a object or a mapping directive but it is a number"#,
        ]),
        (#"{"@json": {"mode": "oops", "value": {"@path": "$.foo"}}}"#, [#"$["@json"].mode: should be one of encode, decode but it is "oops""#]),
        (#"{"@transform": {"@path": {}}}"#, [#"$["@transform"]: shouldn't have directive (@-prefixed) keys but it has "@path""#]),
        (#"{"field": {"@liquid": 123}}"#, [#"$.field["@liquid"]: should be a string but it is a number"#]),
        (#"{"list": [1, {"@nope": 2}]}"#, [
            #"$.list[1]: has an invalid directive: @nope (valid directives: @arrayPath, @case, @excludeWhenNull, @flatten, @if, @json, @liquid, @literal, @merge, @path, @replace, @template, @transform)"#,
        ]),
        (#"{"a b": {"@case": {"value": "x"}}}"#, [#"$["a b"]["@case"]: requires an "operator" key: "lower" or "upper""#]),
    ]

    @Test(arguments: invalid) func refusesInvalidMappings(_ mapping: String, _ expected: [String]) throws {
        #expect(try validationProblems(mapping) == expected)
    }

    @Test func liquidProblemsAreReportedAtLoad() throws {
        for tag in ["case", "for", "include", "layout", "render", "tablerow"] {
            let problems = try validationProblems(#"{"field": {"@liquid": "{% \#(tag) %} , {{ properties.test }}"}}"#)
            #expect(problems.count == 1)
            #expect(problems.first?.hasPrefix(#"$.field["@liquid"]: tag "\#(tag)" is disabled"#) == true, "\(problems)")
        }
        for filter in LiquidTemplate.disabledFilters {
            let problems = try validationProblems(#"{"f": {"@liquid": "{{ properties.test | \#(filter) }}"}}"#)
            #expect(problems.first?.hasPrefix(#"$.f["@liquid"]: filter "\#(filter)" is disabled"#) == true, "\(problems)")
        }
        let long = try validationProblems(#"{"f": {"@liquid": "{{ properties.test }}\#(String(repeating: "a", count: 1001))"}}"#)
        #expect(long.first?.hasPrefix(#"$.f["@liquid"]: liquid template values are limited to 1000 characters"#) == true)
        #expect(try validationProblems(#"{"f": {"@liquid": "{% if a %}x"}}"#).count == 1)
        #expect(try validationProblems(#"{"f": {"@liquid": "{{ a "}}"#).count == 1)
    }

    @Test func pathsRenderWithACallerPrefix() throws {
        let error = try #require(throws: MappingValidationError.self) { try Mapping(json(#"{"traits": {"@path": 1}}"#)) }
        #expect(error.rendered(prefix: "$.mappings[0].mapping")
            == #"$.mappings[0].mapping.traits["@path"]: should be a string or a mapping directive but it is a number"#)
        #expect([PathComponent.key("a"), .index(0), .key("b c"), .key("_x1")].rendered() == #"$.a[0]["b c"]._x1"#)
    }
}
