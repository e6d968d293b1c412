import JSONKit

/// A compiled mapping: every path pre-split, every template pre-parsed, every static option
/// decided, so resolving an event does no parsing.
indirect enum Node: Sendable {
    /// A raw value with no directive inside: copied as is.
    case constant(JSONValue)
    /// A raw object holding directives: members resolving to `undefined` are dropped.
    case object(keys: [String], values: [Node])
    /// A raw array holding directives; an `undefined` element becomes `null`, as in the JSON
    /// Segment would send.
    case array([Node])
    /// `@path` with a string: the path relative to the current payload.
    case path(PropertyPath)
    /// `@path` or `@arrayPath` whose path comes from a directive, resolved per event.
    case dynamicPath(Node, directive: String)
    case template(PlaceholderTemplate)
    case dynamicTemplate(Node)
    case literal(Node)
    case condition(Condition)
    case arrayPath(root: Node, itemShape: Node?)
    case caseConversion(value: Node?, upper: Bool?)
    case replace(Replace)
    case merge(objects: [Node], direction: Node)
    case transform(apply: Node, mapping: Node)
    case flatten(value: Node, separator: Node, omitArrays: Bool)
    case json(value: Node, mode: JSONMode?)
    case excludeWhenNull(Node)
    case liquid(LiquidTemplate)
    /// A directive whose options make it fail whenever it runs; mapping-kit throws this message.
    case failure(String)

    struct Condition: Sendable {
        enum Test: Sendable { case exists, notBlank }
        var test: Test
        var operand: Node
        var then: Node?
        var otherwise: Node?
    }

    struct Replace: Sendable {
        var value: Node?
        var first: LiteralReplacement
        /// The `pattern2`/`replacement2` step, or the error mapping-kit throws when it runs.
        var second: Result<LiteralReplacement, MappingError>?
    }

    enum JSONMode: Sendable { case encode, decode }
}

extension Node {
    func resolve(_ payload: JSONValue?) throws(MappingError) -> JSONValue? {
        switch self {
        case .constant(let value):
            return value
        case .object(let keys, let values):
            var object = JSONObject()
            for index in keys.indices {
                if let value = try values[index].resolve(payload) { object[keys[index]] = value }
            }
            return .object(object)
        case .array(let elements):
            var array: [JSONValue] = []
            array.reserveCapacity(elements.count)
            for element in elements { array.append(try element.resolve(payload) ?? .null) }
            return .array(array)
        case .path(let path):
            guard let payload else { return nil }
            return path.lookUp(in: payload)
        case .dynamicPath(let node, let directive):
            let resolved = try node.resolve(payload)
            guard case .string(let text)? = resolved else {
                throw MappingError("\(directive): expected string, got \(JS.typeName(resolved))")
            }
            guard let payload else { return nil }
            return PropertyPath(parsing: text.removingFirst("$.")).lookUp(in: payload)
        case .template(let template):
            return .string(template.render(payload))
        case .dynamicTemplate(let node):
            let resolved = try node.resolve(payload)
            guard case .string(let text)? = resolved else {
                throw MappingError("@template: expected string, got \(JS.typeName(resolved))")
            }
            return .string(PlaceholderTemplate(text).render(payload))
        case .literal(let node):
            return try node.resolve(payload)
        case .condition(let condition):
            return try condition.resolve(payload)
        case .arrayPath(let rootNode, let itemShape):
            let root = try rootNode.resolve(payload)
            guard let itemShape else { return root }
            let items: [JSONValue]
            switch root {
            case .array(let array): items = array
            case .object: items = [root!]
            default: return root
            }
            var mapped: [JSONValue] = []
            mapped.reserveCapacity(items.count)
            for item in items { mapped.append(try itemShape.resolve(item) ?? .null) }
            return .array(mapped)
        case .caseConversion(let valueNode, let upper):
            guard let valueNode else { return nil }
            let value = try valueNode.resolve(payload)
            guard case .string(let text)? = value else { return value }
            guard let upper else {
                throw MappingError("operator key should have a value of \"lower\" or \"upper\"")
            }
            return .string(upper ? text.uppercased() : text.lowercased())
        case .replace(let replace):
            return try replace.resolve(payload)
        case .merge(let objects, let directionNode):
            let direction = try directionNode.resolve(payload)
            var slots = OrderedSlots()
            var operands: [Node] = objects
            if case .string("left")? = direction { operands.reverse() }
            for operand in operands { try operand.assignSlots(payload, into: &slots) }
            return .object(slots.object)
        case .transform(let apply, let mapping):
            guard case .object? = payload else {
                throw MappingError("@transform: data must be an object, got \(JS.typeName(payload))")
            }
            let intermediate = try apply.resolve(payload)
            return try mapping.resolve(intermediate)
        case .flatten(let valueNode, let separatorNode, let omitArrays):
            let separatorValue = try separatorNode.resolve(payload)
            guard case .string(let separator)? = separatorValue else {
                throw MappingError("@flatten requires a string separator")
            }
            var slots = OrderedSlots()
            flattenValue(try valueNode.resolve(payload), prefix: "", separator: separator, omitArrays: omitArrays,
                         into: &slots)
            return .object(slots.object)
        case .json(let valueNode, let mode):
            let value = try valueNode.resolve(payload)
            switch mode {
            case .encode:
                guard let value else { return nil }
                return .string(value.jsonString)
            case .decode:
                guard case .string(let text)? = value else { return value }
                return (try? JSONValue(parsing: text)) ?? value
            case nil:
                return nil
            }
        case .excludeWhenNull(let node):
            let value = try node.resolve(payload)
            if case .null? = value { return nil }
            return value.map(removingNulls)
        case .liquid(let template):
            return .string(try template.render(payload))
        case .failure(let message):
            throw MappingError(message)
        }
    }

    /// `Object.assign(target, resolved)` for one `@merge` operand. Raw objects and the directives
    /// that pass them through keep their `undefined` members here, because in JavaScript such a
    /// member still overrides an earlier value before `undefined`s are dropped at the end.
    func assignSlots(_ payload: JSONValue?, into slots: inout OrderedSlots) throws(MappingError) {
        switch self {
        case .object(let keys, let values):
            for index in keys.indices { slots.set(keys[index], try values[index].resolve(payload)) }
        case .literal(let node):
            try node.assignSlots(payload, into: &slots)
        case .condition(let condition):
            try condition.branch(payload)?.assignSlots(payload, into: &slots)
        case .excludeWhenNull(let node):
            let value = try node.resolve(payload)
            guard case .object(let object)? = value else { return slots.assign(value) }
            for (key, member) in object {
                slots.set(key, member.isNull ? nil : removingNulls(member))
            }
        default:
            slots.assign(try resolve(payload))
        }
    }
}

extension Node.Condition {
    /// The branch `@if` takes, or `nil` when that branch is absent (the result is `undefined`).
    func branch(_ payload: JSONValue?) throws(MappingError) -> Node? {
        let value = try operand.resolve(payload)
        let holds: Bool
        switch (test, value) {
        case (_, nil), (_, .null?): holds = false
        case (.exists, _): holds = true
        case (.notBlank, let value?): holds = !JS.looselyEqualsEmptyString(value)
        }
        return holds ? then : otherwise
    }

    func resolve(_ payload: JSONValue?) throws(MappingError) -> JSONValue? {
        try branch(payload)?.resolve(payload)
    }
}

extension Node.Replace {
    func resolve(_ payload: JSONValue?) throws(MappingError) -> JSONValue? {
        guard let valueNode = value else { return nil }
        let text: String
        switch try valueNode.resolve(payload) {
        case .string(let string)?: text = string
        case .bool(let bool)?: text = bool ? "true" : "false"
        case .number(let number)?: text = JS.string(fromNumber: number)
        default: return .string("")
        }
        var result = first.apply(to: text)
        if let second { result = try second.get().apply(to: result) }
        return .string(result)
    }
}

/// `cleanNulls` of `@excludeWhenNull`: drops `null` members of objects, recursively through
/// objects but not into arrays.
func removingNulls(_ value: JSONValue) -> JSONValue {
    guard case .object(let object) = value else { return value }
    var cleaned = JSONObject()
    for (key, member) in object where !member.isNull {
        cleaned[key] = removingNulls(member)
    }
    return .object(cleaned)
}

/// `flattenObject` of mapping-kit: nested keys joined with the separator; empty containers vanish.
func flattenValue(_ input: JSONValue?, prefix: String, separator: String, omitArrays: Bool,
                  into slots: inout OrderedSlots) {
    func key(_ member: String) -> String { prefix.isEmpty ? member : prefix + separator + member }
    switch input {
    case .object(let object)?:
        for (member, value) in object {
            flattenValue(value, prefix: key(member), separator: separator, omitArrays: omitArrays, into: &slots)
        }
    case .array(let array)? where !omitArrays:
        for (index, value) in array.enumerated() {
            flattenValue(value, prefix: key(String(index)), separator: separator, omitArrays: omitArrays,
                         into: &slots)
        }
    default:
        slots.set(prefix, input)
    }
}

/// The members of a JavaScript object under construction, where a member may hold `undefined`
/// (keeping its position) until the final clean-up drops it.
struct OrderedSlots {
    private var keys: [String] = []
    private var values: [JSONValue?] = []
    private var positions: [String: Int] = [:]

    mutating func set(_ key: String, _ value: JSONValue?) {
        if let position = positions[key] {
            values[position] = value
        } else {
            positions[key] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    /// `Object.assign(target, value)` for a resolved value: objects copy their members, strings
    /// and arrays their indexed elements; other values add nothing.
    mutating func assign(_ value: JSONValue?) {
        switch value {
        case .object(let object)?:
            for (key, member) in object { set(key, member) }
        case .array(let array)?:
            for (index, element) in array.enumerated() { set(String(index), element) }
        case .string(let string)?:
            for (index, unit) in string.utf16.enumerated() {
                set(String(index), .string(String(decoding: [unit], as: UTF16.self)))
            }
        default:
            break
        }
    }

    var object: JSONObject {
        var object = JSONObject()
        for index in keys.indices {
            if let value = values[index] { object[keys[index]] = value }
        }
        return object
    }
}

extension String {
    /// `String.prototype.replace` with a string pattern: only the first occurrence, anywhere.
    func removingFirst(_ needle: String) -> String {
        replacingFirst(needle, with: "")
    }
}

// MARK: - @template placeholders

/// A `@template` string: `{{{path}}}` placeholders are replaced first, then `{{path}}` ones,
/// each by the value at the path (empty for null or undefined, `String(value)` otherwise).
struct PlaceholderTemplate: Sendable {
    enum Segment: Sendable {
        case text(String)
        case placeholder(PropertyPath)
    }

    /// The triple-brace pass when the template has any; otherwise only the double-brace pass,
    /// precompiled (the triple pass is then a no-op).
    private let triplePass: [Segment]?
    private let doublePass: [Segment]

    init(_ template: String) {
        let triple = PlaceholderTemplate.segments(of: template, braces: 3)
        if triple.contains(where: { if case .placeholder = $0 { true } else { false } }) {
            triplePass = triple
            doublePass = []
        } else {
            triplePass = nil
            doublePass = PlaceholderTemplate.segments(of: template, braces: 2)
        }
    }

    func render(_ data: JSONValue?) -> String {
        guard let triplePass else { return PlaceholderTemplate.render(doublePass, data) }
        // A value inserted by the first pass is scanned by the second, as chained `.replace` calls do.
        let intermediate = PlaceholderTemplate.render(triplePass, data)
        return PlaceholderTemplate.render(PlaceholderTemplate.segments(of: intermediate, braces: 2), data)
    }

    private static func render(_ segments: [Segment], _ data: JSONValue?) -> String {
        var output = ""
        for segment in segments {
            switch segment {
            case .text(let text):
                output += text
            case .placeholder(let path):
                guard let data else { continue }
                switch path.lookUp(in: data) {
                case nil, .null?: break
                case let value?: output += JS.string(value)
                }
            }
        }
        return output
    }

    /// Splits like `/\{{n}([^}]+)\}{n}/g`: n opening braces, one or more characters other than
    /// `}`, n closing braces; the inside is trimmed and read as a `get` path.
    static func segments(of template: String, braces: Int) -> [Segment] {
        let scalars = Array(template.unicodeScalars)
        var segments: [Segment] = []
        var textStart = 0
        var index = 0
        func run(of scalar: Unicode.Scalar, at start: Int) -> Bool {
            guard start + braces <= scalars.count else { return false }
            return scalars[start..<(start + braces)].allSatisfy { $0 == scalar }
        }
        while index < scalars.count {
            guard run(of: "{", at: index) else { index += 1; continue }
            var end = index + braces
            while end < scalars.count, scalars[end] != "}" { end += 1 }
            guard end > index + braces, run(of: "}", at: end) else { index += 1; continue }
            if textStart < index {
                segments.append(.text(String(String.UnicodeScalarView(scalars[textStart..<index]))))
            }
            let inside = String(String.UnicodeScalarView(scalars[(index + braces)..<end]))
            segments.append(.placeholder(PropertyPath(parsing: JS.trim(inside, leading: true, trailing: true))))
            index = end + braces
            textStart = index
        }
        if textStart < scalars.count {
            segments.append(.text(String(String.UnicodeScalarView(scalars[textStart...]))))
        }
        return segments
    }
}
