import JSONKit

/// Validates a mapping as mapping-kit's `validate.ts` does and compiles it into `Node`s.
///
/// Two deliberate differences, both refusing at load what Segment would only reject while
/// processing events: directives nested inside raw arrays and raw objects are validated too
/// (Segment resolves them but does not validate them), and `@liquid` templates are parsed here,
/// so a disabled tag or filter, a syntax error or an over-long template is reported up front.
struct MappingCompiler {
    private(set) var problems: [MappingValidationError.Problem] = []

    static let directiveNames = [
        "@arrayPath", "@case", "@excludeWhenNull", "@flatten", "@if", "@json", "@liquid", "@literal", "@merge",
        "@path", "@replace", "@template", "@transform",
    ]
    static let maximumPatternLength = 10
    static let maximumReplacementLength = 10
    private static let rootDirectiveKey = "__segment_internal_directive"

    private mutating func report(_ path: [PathComponent], _ message: String) {
        problems.append(.init(path: path, message: message))
    }

    /// The whole mapping. A `__segment_internal_directive` key wraps the other keys into the
    /// `mapping` option of that root directive, as Segment's `transform` does.
    mutating func compileRoot(_ mapping: JSONValue) -> Node {
        guard case .object(let object) = mapping, let rootDirective = object[Self.rootDirectiveKey] else {
            return compile(mapping, at: [])
        }
        let rootPath: [PathComponent] = [.key(Self.rootDirectiveKey)]
        guard case .object(var directiveObject) = rootDirective, directiveObject.count == 1,
            let name = directiveObject.keys.first, case .object(var options) = directiveObject[name]!
        else {
            report(rootPath, "should be an object with a single directive whose value is an object")
            return .failure("The root mapping must only have a single directive object")
        }
        var customerMappings = JSONObject()
        for (key, value) in object where key != Self.rootDirectiveKey { customerMappings[key] = value }
        options["mapping"] = .object(customerMappings)
        directiveObject[name] = .object(options)
        return compile(.object(directiveObject), at: rootPath)
    }

    /// Any mapping value: a raw value, a raw container (whose directives are compiled), or a directive.
    mutating func compile(_ value: JSONValue, at path: [PathComponent]) -> Node {
        switch value {
        case .array(let elements):
            let nodes = elements.enumerated().map { compile($1, at: path + [.index($0)]) }
            if nodes.allSatisfy(\.isConstant) { return .constant(value) }
            return .array(nodes)
        case .object(let object):
            if object.keys.contains(where: { $0.hasPrefix("@") }) { return compileDirective(object, at: path) }
            let nodes = object.map { compile($0.value, at: path + [.key($0.key)]) }
            if nodes.allSatisfy(\.isConstant) { return .constant(value) }
            return .object(keys: object.keys, values: nodes)
        default:
            return .constant(value)
        }
    }

    private mutating func compileDirective(_ object: JSONObject, at path: [PathComponent]) -> Node {
        let directiveKeys = object.keys.filter { $0.hasPrefix("@") }
        if directiveKeys.count > 1 {
            report(path, "should only have one @-prefixed key but it has \(directiveKeys.count) keys")
            return .failure("more than one directive in one object")
        }
        if object.keys.contains(where: { !$0.hasPrefix("@") && $0 != "_metadata" }) {
            report(path, "should only have one @-prefixed key but it has \(object.count) keys"
                + " (put raw values and the directive in separate objects)")
            return .failure("a directive mixed with raw keys")
        }
        let name = directiveKeys[0]
        let argument = object[name]!
        let at = path + [.key(name)]
        switch name {
        case "@path": return compilePath(argument, at: at)
        case "@template": return compileTemplate(argument, at: at)
        case "@literal": return .literal(compile(argument, at: at))
        case "@excludeWhenNull": return .excludeWhenNull(compile(argument, at: at))
        case "@if": return compileIf(argument, at: at)
        case "@case": return compileCase(argument, at: at)
        case "@replace": return compileReplace(argument, at: at)
        case "@arrayPath": return compileArrayPath(argument, at: at)
        case "@merge": return compileMerge(argument, at: at)
        case "@transform": return compileTransform(argument, at: at)
        case "@flatten": return compileFlatten(argument, at: at)
        case "@json": return compileJSON(argument, at: at)
        case "@liquid": return compileLiquid(argument, at: at)
        default:
            report(path, "has an invalid directive: \(name) (valid directives: "
                + Self.directiveNames.joined(separator: ", ") + ")")
            return .failure("\(name) is not a valid directive, got undefined")
        }
    }

    // MARK: Argument checks (validate.ts)

    private static func typeOrDirective(_ value: JSONValue?) -> String {
        if case .object(let object)? = value, object.keys.contains(where: { $0.hasPrefix("@") }) { return "directive" }
        return JS.typeName(value)
    }

    private static func described(_ type: String) -> String {
        let article = ["a", "e", "i", "o", "u"].contains(type.first.map(String.init) ?? "") ? "an" : "a"
        return "\(article) \(type)"
    }

    private static func isDirective(_ value: JSONValue?) -> Bool { typeOrDirective(value) == "directive" }

    /// `validateDirectiveOrString`, then compiles the directive (a string is left to the caller).
    private mutating func directiveOrString(_ value: JSONValue?, at path: [PathComponent]) -> Node? {
        if Self.isDirective(value) { return compile(value!, at: path) }
        if case .string? = value { return nil }
        report(path, "should be a string or a mapping directive but it is \(Self.described(Self.typeOrDirective(value)))")
        return .failure("invalid argument")
    }

    /// `validateDirectiveOrObject`.
    private mutating func directiveOrObject(_ value: JSONValue?, at path: [PathComponent]) -> Node {
        switch Self.typeOrDirective(value) {
        case "directive", "object": return compile(value!, at: path)
        case let type:
            report(path, "should be a object or a mapping directive but it is \(Self.described(type))")
            return .failure("invalid argument")
        }
    }

    @discardableResult
    private mutating func expectString(_ value: JSONValue?, at path: [PathComponent]) -> String? {
        if case .string(let string)? = value { return string }
        report(path, "should be a string but it is \(Self.described(Self.typeOrDirective(value)))")
        return nil
    }

    private mutating func expectBoolean(_ value: JSONValue?, at path: [PathComponent]) {
        if case .bool? = value { return }
        report(path, "should be a boolean but it is \(Self.described(Self.typeOrDirective(value)))")
    }

    private mutating func expectOneOf(_ allowed: [String], _ value: JSONValue?, at path: [PathComponent]) {
        guard let string = expectString(value, at: path) else { return }
        if !allowed.contains(string.lowercased()) {
            report(path, "should be one of \(allowed.joined(separator: ", ")) but it is \(JSONValue.string(string).jsonString)")
        }
    }

    private mutating func expectLength(_ value: JSONValue?, _ range: ClosedRange<Int>, at path: [PathComponent]) {
        guard case .string(let string)? = value else { return }
        let length = string.utf16.count
        if length < range.lowerBound { report(path, "should be a string of length \(range.lowerBound) or greater") }
        if length > range.upperBound { report(path, "should be a string of length \(range.upperBound) or less") }
    }

    /// `validateObject` for a directive's options: an object without @-keys, whose members are
    /// each valid mappings. Returns the options and the compiled members.
    private mutating func options(_ value: JSONValue, at path: [PathComponent]) -> (JSONObject, [String: Node])? {
        guard case .object(let object) = value else {
            report(path, "should be an object but it is \(Self.described(Self.typeOrDirective(value)))")
            return nil
        }
        if let key = object.keys.first(where: { $0.hasPrefix("@") }) {
            report(path, "shouldn't have directive (@-prefixed) keys but it has \(JSONValue.string(key).jsonString)")
            return nil
        }
        var nodes: [String: Node] = [:]
        for (key, member) in object { nodes[key] = compile(member, at: path + [.key(key)]) }
        return (object, nodes)
    }

    private mutating func require(_ field: String, in object: JSONObject, at path: [PathComponent]) -> Bool {
        if object[field] != nil { return true }
        report(path, "should have field \(JSONValue.string(field).jsonString) but it doesn't")
        return false
    }

    // MARK: Directives

    private mutating func compilePath(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        if let node = directiveOrString(argument, at: path) { return .dynamicPath(node, directive: "@path") }
        return .path(PropertyPath(parsing: argument.stringValue!.removingFirst("$.")))
    }

    private mutating func compileTemplate(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        if let node = directiveOrString(argument, at: path) { return .dynamicTemplate(node) }
        return .template(PlaceholderTemplate(argument.stringValue!))
    }

    private mutating func compileIf(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let (object, nodes) = options(argument, at: path) else { return .failure("invalid @if") }
        // The checks of mapping-kit's `@if` look at the raw options, not at what they resolve to.
        guard JS.isTruthy(object["exists"]) || JS.isTruthy(object["blank"]) else {
            report(path, "requires an \"exists\" key or a \"blank\" key (each a mapping directive or a non-empty value)")
            return .failure("@if requires an \"exists\" key or a \"blank\" key")
        }
        let test: Node.Condition.Test = object["exists"] != nil ? .exists : .notBlank
        let operand = test == .exists ? nodes["exists"]! : nodes["blank"]!
        return .condition(.init(test: test, operand: operand, then: nodes["then"],
                                otherwise: JS.isTruthy(object["else"]) ? nodes["else"] : nil))
    }

    private mutating func compileCase(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let (object, nodes) = options(argument, at: path) else { return .failure("invalid @case") }
        if let operatorValue = object["operator"] { expectString(operatorValue, at: path + [.key("operator")]) }
        if let value = object["value"] { _ = directiveOrString(value, at: path + [.key("value")]) }
        guard JS.isTruthy(object["operator"]) else {
            report(path, "requires an \"operator\" key: \"lower\" or \"upper\"")
            return .failure("@case requires a \"operator\" key")
        }
        let upper: Bool? = switch object["operator"] {
        case .string("lower")?: false
        case .string("upper")?: true
        default: nil
        }
        return .caseConversion(value: JS.isTruthy(object["value"]) ? nodes["value"] : nil, upper: upper)
    }

    private mutating func compileReplace(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let (object, nodes) = options(argument, at: path) else { return .failure("invalid @replace") }
        if require("pattern", in: object, at: path) {
            expectString(object["pattern"], at: path + [.key("pattern")])
            expectLength(object["pattern"], 1...Self.maximumPatternLength, at: path + [.key("pattern")])
        }
        if let replacement = object["replacement"] {
            expectString(replacement, at: path + [.key("replacement")])
            expectLength(replacement, 0...Self.maximumReplacementLength, at: path + [.key("replacement")])
        }
        if require("value", in: object, at: path) { _ = directiveOrString(object["value"], at: path + [.key("value")]) }
        for flag in ["ignorecase", "global"] {
            if let value = object[flag] { expectBoolean(value, at: path + [.key(flag)]) }
        }
        guard case .string(let pattern)? = object["pattern"] else { return .failure("@replace requires a \"pattern\" key") }
        let ignoresCase = object["ignorecase"]?.boolValue ?? false
        let isGlobal = object["global"]?.boolValue ?? true
        let replacement = object["replacement"]?.stringValue ?? ""
        var second: Result<LiteralReplacement, MappingError>?
        if case .string(let pattern2)? = object["pattern2"], !pattern2.isEmpty {
            let replacement2: JSONValue = (object["replacement2"] == nil || object["replacement2"] == .null)
                ? .string("") : object["replacement2"]!
            if case .string(let replacement2) = replacement2 {
                if pattern2.utf16.count > Self.maximumPatternLength {
                    second = .failure(MappingError("@replace requires a \"pattern\" less than \(Self.maximumPatternLength) characters"))
                } else if replacement2.utf16.count > Self.maximumReplacementLength {
                    second = .failure(MappingError("@replace requires a \"replacement\" less than \(Self.maximumReplacementLength) characters"))
                } else {
                    second = .success(LiteralReplacement(pattern: pattern2, replacement: replacement2,
                                                         isGlobal: isGlobal, ignoresCase: ignoresCase))
                }
            }
        }
        return .replace(.init(value: JS.isTruthy(object["value"]) ? nodes["value"] : nil,
                              first: LiteralReplacement(pattern: pattern, replacement: replacement,
                                                        isGlobal: isGlobal, ignoresCase: ignoresCase),
                              second: second))
    }

    private mutating func compileArrayPath(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard case .array(let elements) = argument else {
            report(path, "should be an array but it is \(Self.described(JS.typeName(argument)))")
            return .failure("@arrayPath expected array, got \(JS.typeName(argument))")
        }
        let first = elements.first
        let root: Node
        if let node = directiveOrString(first, at: path + [.index(0)]) {
            root = node
        } else {
            root = .path(PropertyPath(parsing: first!.stringValue!.removingFirst("$.")))
        }
        var itemShape: Node?
        if elements.count > 1 {
            let shape = compile(elements[1], at: path + [.index(1)])
            if case .object(let object) = elements[1], !object.isEmpty { itemShape = shape }
        }
        return .arrayPath(root: root, itemShape: itemShape)
    }

    private mutating func compileMerge(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let (object, nodes) = options(argument, at: path) else { return .failure("invalid @merge") }
        if let direction = object["direction"] { expectOneOf(["left", "right"], direction, at: path + [.key("direction")]) }
        var operands: [Node] = []
        if require("objects", in: object, at: path) {
            if case .array(let elements) = object["objects"]! {
                operands = elements.enumerated().map { directiveOrObject($1, at: path + [.key("objects"), .index($0)]) }
            } else {
                report(path + [.key("objects")], "should be an array but it is \(Self.described(JS.typeName(object["objects"])))")
            }
        }
        guard JS.isTruthy(object["direction"]) else {
            report(path, "requires a \"direction\" key: \"left\" or \"right\"")
            return .failure("@merge requires a \"direction\" key")
        }
        return .merge(objects: operands, direction: nodes["direction"]!)
    }

    private mutating func compileTransform(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let (object, _) = options(argument, at: path) else { return .failure("invalid @transform") }
        var apply: Node = .failure("@transform requires a \"apply\" key")
        var mapping: Node = .failure("@transform requires a \"mapping\" key")
        if require("apply", in: object, at: path) { apply = directiveOrObject(object["apply"], at: path + [.key("apply")]) }
        if require("mapping", in: object, at: path) {
            mapping = directiveOrObject(object["mapping"], at: path + [.key("mapping")])
        }
        return .transform(apply: apply, mapping: mapping)
    }

    private mutating func compileFlatten(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let (object, nodes) = options(argument, at: path) else { return .failure("invalid @flatten") }
        if let separator = object["separator"] { expectString(separator, at: path + [.key("separator")]) }
        _ = require("value", in: object, at: path)
        guard JS.isTruthy(object["separator"]) else {
            report(path, "requires a \"separator\" key: a non-empty string such as \".\"")
            return .failure("@flatten requires a \"separator\" key")
        }
        return .flatten(value: nodes["value"] ?? .constant(.null), separator: nodes["separator"]!,
                        omitArrays: JS.isTruthy(object["omitArrays"]))
    }

    private mutating func compileJSON(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let (object, nodes) = options(argument, at: path) else { return .failure("invalid @json") }
        let hasValue = require("value", in: object, at: path)
        if require("mode", in: object, at: path) { expectOneOf(["encode", "decode"], object["mode"], at: path + [.key("mode")]) }
        guard hasValue else { return .failure("@json requires a \"value\" key") }
        // mapping-kit checks the raw option for truthiness: `""`, `0`, `false` and `null` fail every event.
        guard JS.isTruthy(object["value"]) else {
            report(path + [.key("value")], "should be a mapping directive or a non-empty value (mapping-kit fails every event otherwise)")
            return .failure("@json requires a \"value\" key")
        }
        let mode: Node.JSONMode? = switch object["mode"] {
        case .string("encode")?: .encode
        case .string("decode")?: .decode
        default: nil
        }
        return .json(value: nodes["value"]!, mode: mode)
    }

    private mutating func compileLiquid(_ argument: JSONValue, at path: [PathComponent]) -> Node {
        guard let source = expectString(argument, at: path) else { return .failure("liquid template value must be a string") }
        do {
            return .liquid(try LiquidTemplate(parsing: source))
        } catch {
            report(path, error.message)
            return .failure(error.message)
        }
    }
}

extension Node {
    var isConstant: Bool {
        if case .constant = self { return true }
        return false
    }
}
