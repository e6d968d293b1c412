import JSONKit
import Testing
@testable import MappingKit

/// Cases from mapping-kit's `liquid.test.ts` and the README, plus LiquidJS semantics.
@Suite struct LiquidTests {
    static let cases: [ResolutionCase] = [
        .init(#"{"field": {"@liquid": "test"}}"#, #"{"properties": {"test": "abc"}}"#, #"{"field": "test"}"#),
        .init(#"{"field": {"@liquid": "Hello, {{ properties.world }} !"}}"#, #"{"properties": {"world": "Earth"}}"#, #"{"field": "Hello, Earth !"}"#),
        .init(#"{"fieldA": {"@liquid": "Hello, {{ properties.planet.country.city }}"}, "fieldB": {"@liquid": "Hi Patrick this is {{ properties.name }}, I want a {{ traits.preferences.food }}"}}"#,
              #"{"properties": {"planet": {"country": {"city": "Bikini Bottom"}}, "name": "SpongeBob"}, "traits": {"preferences": {"food": "Krabby Patty"}}}"#,
              #"{"fieldA": "Hello, Bikini Bottom", "fieldB": "Hi Patrick this is SpongeBob, I want a Krabby Patty"}"#),
        .init(#"{"field": {"@liquid": "{% if properties.world == \"Earth\" %}Hello {{ properties.world }} {% else %} Hello World {% endif %}"}}"#,
              #"{"properties": {"world": "Earth"}}"#, #"{"field": "Hello Earth "}"#),
        .init(#"{"field": {"@liquid": "HELLO {{ properties.world | upcase }}"}}"#, #"{"properties": {"world": "earth"}}"#, #"{"field": "HELLO EARTH"}"#),
        .init(#"{"field": {"@liquid": "{% if properties.world == \"earth\" %}Hello {{ properties.world | upcase }}{% else %} Hello World {% endif %}"}}"#,
              #"{"properties": {"world": "earth"}}"#, #"{"field": "Hello EARTH"}"#),
        .init(#"{"@liquid": ""}"#, #"{}"#, #""""#),
        .init(#"{"@liquid": "{{ missing }}|{{ missing | upcase }}|{{ n }}|{{ b }}|{{ nul }}"}"#, #"{"n": 1.5, "b": false, "nul": null}"#, #""||1.5|false|""#),
        .init(#"{"@liquid": "{{ a }}"}"#, #"{"a": ["x", 1, ["y"]]}"#, #""x1y""#),
        .init(#"{"@liquid": "{% if s %}truthy{% endif %}{% if z %}zero{% endif %}{% if f %}no{% endif %}{% unless f %}un{% endunless %}"}"#,
              #"{"s": "", "z": 0, "f": false}"#, #""truthyzeroun""#),
        .init(#"{"@liquid": "{% if a > 1 and b contains \"x\" or false %}yes{% else %}no{% endif %}"}"#, #"{"a": 2, "b": "xyz"}"#, #""yes""#),
        // and/or of equal precedence group from the right: false and (false or true) is false.
        .init(#"{"@liquid": "{% if false and false or true %}yes{% else %}no{% endif %}"}"#, #"{}"#, #""no""#),
        .init(#"{"@liquid": "{% if n == \"1\" %}str{% elsif n == 1 %}num{% endif %}"}"#, #"{"n": 1}"#, #""num""#),
        .init(#"{"@liquid": "{% if tags contains \"vip\" %}VIP{% endif %}{% if x != empty %}!{% endif %}{% if y == blank %}b{% endif %}"}"#,
              #"{"tags": ["a", "vip"], "x": "q", "y": "  "}"#, #""VIP!b""#),
        .init(#"{"@liquid": "{% assign name = traits.first_name | capitalize %}{% capture greeting %}Hi {{ name }}{% endcapture %}{{ greeting | append: \"!\" }}"}"#,
              #"{"traits": {"first_name": "bOB"}}"#, #""Hi Bob!""#),
        .init(#"{"@liquid": "  {{- a -}}  \n {%- if true -%} x {%- endif -%} ."}"#, #"{"a": "A"}"#, #""Ax.""#),
        .init(#"{"@liquid": "{% raw %}{{ a }}{% endraw %}{% comment %}{{ ignored }}{% endcomment %}"}"#, #"{"a": 1}"#, #""{{ a }}""#),
        .init(#"{"@liquid": "{{ a.size }} {{ a.first }} {{ a.last }} {{ a[-1] }} {{ s.size }} {{ o.size }} {{ a[0] }} {{ o[\"k k\"] }}"}"#,
              #"{"a": [1, 2, 3], "s": "abcd", "o": {"k k": "v"}}"#, #""3 1 3 3 4 1 1 v""#),
        .init(#"{"@liquid": "{{ 10 | plus: 5 }} {{ 10 | minus: 15 }} {{ 3 | times: 1.5 }} {{ 10 | divided_by: 4 }} {{ 10 | divided_by: 4, true }} {{ 7 | modulo: 3 }}"}"#,
              #"{}"#, #""15 -5 4.5 2.5 2 1""#),
        .init(#"{"@liquid": "{{ 2.5 | round }} {{ -2.5 | round }} {{ 3.14159 | round: 2 }} {{ -3 | abs }} {{ 1.2 | ceil }} {{ 1.8 | floor }} {{ 1 | at_least: 5 }} {{ 9 | at_most: 5 }} {{ \"4\" | plus: 1 }}"}"#,
              #"{}"#, #""3 -2 3.14 3 2 1 5 5 5""#),
        .init(#"{"@liquid": "{{ s | strip }}|{{ s | lstrip }}|{{ s | rstrip }}|{{ w | downcase }}|{{ w | size }}"}"#,
              #"{"s": "  x  ", "w": "ABC"}"#, #""x|x  |  x|abc|3""#),
        .init(#"{"@liquid": "{{ s | replace: \"a\", \"o\" }} {{ s | replace_first: \"a\", \"o\" }} {{ s | remove: \"a\" }} {{ s | prepend: \">\" }}"}"#,
              #"{"s": "banana"}"#, #""bonono bonana bnn >banana""#),
        .init(#"{"@liquid": "{{ s | truncate: 8 }}|{{ s | truncate: 8, \"\" }}|{{ s | truncatewords: 2 }}"}"#,
              #"{"s": "one two three four"}"#, #""one t...|one two |one two...""#),
        .init(#"{"@liquid": "{{ s | split: \",\" | join: \" & \" }}|{{ s | split: \",\" | first }}|{{ s | split: \",\" | last }}|{{ s | split: \",\" | size }}"}"#,
              #"{"s": "a,b,c"}"#, #""a & b & c|a|c|3""#),
        .init(#"{"@liquid": "{{ missing | default: \"anon\" }} {{ e | default: \"empty\" }} {{ z | default: 1 }} {{ f | default: \"f\" }}"}"#,
              #"{"e": "", "z": 0, "f": false}"#, #""anon empty 0 f""#),
        .init(#"{"@liquid": "{{ u | url_encode }} {{ h | escape }}"}"#, #"{"u": "a b&c/é", "h": "<b>\"x\"</b>"}"#,
              #""a+b%26c%2F%C3%A9 &lt;b&gt;&#34;x&#34;&lt;/b&gt;""#),
    ]

    @Test(arguments: cases) func renders(_ testCase: ResolutionCase) throws {
        let result = try resolve(testCase.mapping, testCase.payload)
        #expect(result == (try testCase.expected.map(json)), "got \(result?.jsonString ?? "undefined")")
    }
}
