import JSONKit

/// A problem in a `@liquid` template, found when the mapping is loaded.
struct LiquidError: Error {
    var message: String
}

/// The subset of Liquid (as LiquidJS runs it in Segment) that `@liquid` allows: text, `{{ }}`
/// outputs with filters, and the tags `if`/`elsif`/`else`, `unless`, `assign`, `capture`,
/// `echo`, `comment` and `raw`, with whitespace control (`{{-`, `-%}`).
///
/// Segment disables the tags `case`, `for`, `include`, `layout`, `render`, `tablerow` and a set
/// of array filters; those are refused here with Segment's message. Tags and filters this engine
/// does not implement are refused too, rather than rendered differently from Segment.
struct LiquidTemplate: Sendable {
    static let maximumLength = 1000
    static let disabledTags: Set<String> = ["case", "for", "include", "layout", "render", "tablerow"]
    static let disabledFilters: Set<String> = [
        "array_to_sentence_string", "concat", "find", "find_exp", "find_index", "find_index_exp", "group_by",
        "group_by_exp", "has", "has_exp", "map", "newline_to_br", "reject", "reject_exp", "reverse", "sort",
        "sort_natural", "uniq", "where_exp", "type",
    ]

    private let nodes: [LiquidNode]

    init(parsing source: String) throws(LiquidError) {
        if source.utf16.count > LiquidTemplate.maximumLength {
            throw LiquidError(message: "liquid template values are limited to \(LiquidTemplate.maximumLength) characters;"
                + " this one has \(source.utf16.count)")
        }
        var parser = LiquidParser(tokens: try LiquidTokenizer.tokenize(source))
        nodes = try parser.parseBlock(until: [])
    }

    func render(_ scope: JSONValue?) throws(MappingError) -> String {
        var context = LiquidContext(scope: scope ?? .object(JSONObject()))
        var output = ""
        context.render(nodes, into: &output)
        return output
    }
}

// MARK: - Syntax tree

indirect enum LiquidValue: Sendable {
    case literal(JSONValue?)
    case empty
    case blank
    case variable(name: String, properties: [LiquidProperty])
}

indirect enum LiquidProperty: Sendable {
    case key(String)
    case dynamic(LiquidValue)
}

struct LiquidFilter: Sendable {
    var name: String
    var arguments: [LiquidValue]
}

struct LiquidFilteredValue: Sendable {
    var value: LiquidValue
    var filters: [LiquidFilter]
}

/// A condition in postfix order, built with LiquidJS's precedences (comparisons above `and`/`or`,
/// operators of equal precedence grouping from the right).
struct LiquidCondition: Sendable {
    enum Item: Sendable {
        case operand(LiquidValue)
        case operation(String)
    }
    var postfix: [Item]
}

indirect enum LiquidNode: Sendable {
    case text(String)
    case output(LiquidFilteredValue)
    case conditional(branches: [(condition: LiquidCondition, negated: Bool, body: [LiquidNode])], otherwise: [LiquidNode]?)
    case assign(String, LiquidFilteredValue)
    case capture(String, [LiquidNode])
}

// MARK: - Tokenizer

enum LiquidToken {
    case text(String)
    case output(String)
    case tag(name: String, arguments: String)
}

enum LiquidTokenizer {
    static func tokenize(_ source: String) throws(LiquidError) -> [LiquidToken] {
        let scalars = Array(source.unicodeScalars)
        var tokens: [LiquidToken] = []
        var pendingText = String.UnicodeScalarView()
        var trimNextText = false
        var index = 0

        func flushText(trimTrailing: Bool) {
            var text = String(pendingText)
            if trimNextText { text = JS.trim(text, leading: true, trailing: false) }
            if trimTrailing { text = JS.trim(text, leading: false, trailing: true) }
            if !text.isEmpty { tokens.append(.text(text)) }
            pendingText = String.UnicodeScalarView()
        }
        func find(_ closing: (Unicode.Scalar, Unicode.Scalar), from start: Int) -> Int? {
            var position = start
            while position + 1 < scalars.count {
                if scalars[position] == closing.0 && scalars[position + 1] == closing.1 { return position }
                position += 1
            }
            return nil
        }

        while index < scalars.count {
            let isOutput = scalars[index] == "{" && index + 1 < scalars.count && scalars[index + 1] == "{"
            let isTag = scalars[index] == "{" && index + 1 < scalars.count && scalars[index + 1] == "%"
            guard isOutput || isTag else {
                pendingText.append(scalars[index])
                index += 1
                continue
            }
            let closing: (Unicode.Scalar, Unicode.Scalar) = isOutput ? ("}", "}") : ("%", "}")
            guard let end = find(closing, from: index + 2) else {
                let opening = isOutput ? "{{" : "{%"
                throw LiquidError(message: "Liquid syntax error: \(opening) at character \(index) is never closed with \(isOutput ? "}}" : "%}")")
            }
            var contentStart = index + 2
            var contentEnd = end
            let trimLeft = contentStart < contentEnd && scalars[contentStart] == "-"
            if trimLeft { contentStart += 1 }
            let trimRight = contentEnd > contentStart && scalars[contentEnd - 1] == "-"
            if trimRight { contentEnd -= 1 }
            flushText(trimTrailing: trimLeft)
            trimNextText = trimRight
            let content = String(String.UnicodeScalarView(scalars[contentStart..<contentEnd]))
            index = end + 2
            if isOutput {
                tokens.append(.output(content))
                continue
            }
            let trimmed = JS.trim(content, leading: true, trailing: true)
            let name = String(trimmed.prefix { !$0.isWhitespace })
            let arguments = JS.trim(String(trimmed.dropFirst(name.count)), leading: true, trailing: false)
            if name == "raw" || name == "comment" {
                // The body is not Liquid: copy it (raw) or drop it (comment) up to the closing tag.
                let closingName = "end" + name
                var search = index
                var bodyEnd: Int?
                while let open = find(("{", "%"), from: search) {
                    guard let close = find(("%", "}"), from: open + 2) else { break }
                    var inner = String(String.UnicodeScalarView(scalars[(open + 2)..<close]))
                    inner = inner.trimmingCharacters(in: "-")
                    if JS.trim(inner, leading: true, trailing: true) == closingName {
                        bodyEnd = open
                        let body = String(String.UnicodeScalarView(scalars[index..<open]))
                        if name == "raw" { tokens.append(.text(body)) }
                        let closeTrimRight = close > open + 2 && scalars[close - 1] == "-"
                        trimNextText = closeTrimRight
                        index = close + 2
                        break
                    }
                    search = close + 2
                }
                guard bodyEnd != nil else {
                    throw LiquidError(message: "Liquid syntax error: tag {% \(name) %} is never closed with {% \(closingName) %}")
                }
                continue
            }
            tokens.append(.tag(name: name, arguments: arguments))
        }
        flushText(trimTrailing: false)
        return tokens
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}

// MARK: - Parser

struct LiquidParser {
    private let tokens: [LiquidToken]
    private var position = 0

    init(tokens: [LiquidToken]) {
        self.tokens = tokens
    }

    /// Parses nodes until one of `terminators` (returned through `terminator`), or the end.
    mutating func parseBlock(until terminators: Set<String>) throws(LiquidError) -> [LiquidNode] {
        var terminator: (name: String, arguments: String)?
        let nodes = try parseBlock(until: terminators, terminator: &terminator)
        return nodes
    }

    private mutating func parseBlock(until terminators: Set<String>,
                                     terminator: inout (name: String, arguments: String)?) throws(LiquidError) -> [LiquidNode] {
        var nodes: [LiquidNode] = []
        while position < tokens.count {
            let token = tokens[position]
            position += 1
            switch token {
            case .text(let text):
                nodes.append(.text(text))
            case .output(let content):
                let trimmed = JS.trim(content, leading: true, trailing: true)
                if trimmed.isEmpty { continue }
                nodes.append(.output(try LiquidExpressionParser.parseFilteredValue(trimmed)))
            case .tag(let name, let arguments):
                if terminators.contains(name) {
                    terminator = (name, arguments)
                    return nodes
                }
                nodes.append(try parseTag(name, arguments))
            }
        }
        if !terminators.isEmpty {
            let expected = terminators.sorted().map { "{% \($0) %}" }.joined(separator: " or ")
            throw LiquidError(message: "Liquid syntax error: a block is never closed; expected \(expected)")
        }
        return nodes
    }

    private mutating func parseTag(_ name: String, _ arguments: String) throws(LiquidError) -> LiquidNode {
        if LiquidTemplate.disabledTags.contains(name) {
            throw LiquidError(message: "tag \"\(name)\" is disabled (Segment disables the Liquid tags "
                + LiquidTemplate.disabledTags.sorted().joined(separator: ", ") + ")")
        }
        switch name {
        case "if", "unless":
            var branches: [(condition: LiquidCondition, negated: Bool, body: [LiquidNode])] = []
            var otherwise: [LiquidNode]?
            var condition = try LiquidExpressionParser.parseCondition(arguments)
            var negated = name == "unless"
            let end = "end" + name
            while true {
                var terminator: (name: String, arguments: String)?
                let body = try parseBlock(until: ["elsif", "else", end], terminator: &terminator)
                branches.append((condition, negated, body))
                guard let (terminatorName, terminatorArguments) = terminator else { break }
                if terminatorName == end { break }
                if terminatorName == "else" {
                    var closing: (name: String, arguments: String)?
                    otherwise = try parseBlock(until: [end], terminator: &closing)
                    break
                }
                condition = try LiquidExpressionParser.parseCondition(terminatorArguments)
                negated = false
            }
            return .conditional(branches: branches, otherwise: otherwise)
        case "assign":
            guard let equals = arguments.firstIndex(of: "=") else {
                throw LiquidError(message: "Liquid syntax error: {% assign \(arguments) %} needs the form {% assign name = value %}")
            }
            let variable = JS.trim(String(arguments[..<equals]), leading: true, trailing: true)
            guard LiquidExpressionParser.isIdentifier(variable) else {
                throw LiquidError(message: "Liquid syntax error: \"\(variable)\" is not a valid variable name for assign")
            }
            let value = try LiquidExpressionParser.parseFilteredValue(String(arguments[arguments.index(after: equals)...]))
            return .assign(variable, value)
        case "capture":
            var variable = JS.trim(arguments, leading: true, trailing: true)
            if variable.count >= 2, let first = variable.first, first == "\"" || first == "'", variable.last == first {
                variable = String(variable.dropFirst().dropLast())
            }
            guard LiquidExpressionParser.isIdentifier(variable) else {
                throw LiquidError(message: "Liquid syntax error: {% capture %} needs a variable name, got \"\(variable)\"")
            }
            return .capture(variable, try parseBlock(until: ["endcapture"]))
        case "echo":
            if JS.trim(arguments, leading: true, trailing: true).isEmpty { return .text("") }
            return .output(try LiquidExpressionParser.parseFilteredValue(arguments))
        case "elsif", "else", "endif", "endunless", "endcapture", "endraw", "endcomment":
            throw LiquidError(message: "Liquid syntax error: {% \(name) %} without a matching opening tag")
        default:
            throw LiquidError(message: "tag \"\(name)\" is not supported in @liquid here (supported: if, elsif, else, unless,"
                + " assign, capture, echo, comment, raw)")
        }
    }
}

// MARK: - Expressions

struct LiquidExpressionParser {
    enum Token: Equatable {
        case string(String)
        case number(Double)
        case word(String)
        case symbol(String)
    }

    static let filters: Set<String> = [
        "abs", "append", "at_least", "at_most", "capitalize", "ceil", "compact", "default", "divided_by", "downcase",
        "escape", "escape_once", "first", "floor", "join", "last", "lstrip", "minus", "modulo", "plus", "prepend",
        "remove", "remove_first", "remove_last", "replace", "replace_first", "replace_last", "round", "rstrip", "size",
        "slice", "split", "strip", "strip_html", "strip_newlines", "times", "truncate", "truncatewords", "upcase",
        "url_decode", "url_encode",
    ]
    private static let comparisonOperators: Set<String> = ["==", "!=", "<>", "<", ">", "<=", ">=", "contains"]

    private let source: String
    private var tokens: [Token] = []
    private var position = 0

    init(_ source: String) {
        self.source = source
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || $0 == "-" || $0 == "?" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
    }

    private func error(_ detail: String) -> LiquidError {
        LiquidError(message: "Liquid syntax error in \"\(JS.trim(source, leading: true, trailing: true))\": \(detail)")
    }

    private mutating func tokenize() throws(LiquidError) {
        let scalars = Array(source.unicodeScalars)
        var index = 0
        func isDigit(_ at: Int) -> Bool { at < scalars.count && ("0"..."9").contains(scalars[at]) }
        while index < scalars.count {
            let scalar = scalars[index]
            if JS.isWhitespace(scalar) { index += 1; continue }
            if scalar == "\"" || scalar == "'" {
                var end = index + 1
                while end < scalars.count, scalars[end] != scalar { end += 1 }
                guard end < scalars.count else { throw error("a string is never closed") }
                tokens.append(.string(String(String.UnicodeScalarView(scalars[(index + 1)..<end]))))
                index = end + 1
            } else if isDigit(index) || (scalar == "-" && isDigit(index + 1)) {
                var end = index + 1
                while isDigit(end) { end += 1 }
                if end < scalars.count, scalars[end] == ".", isDigit(end + 1) {
                    end += 1
                    while isDigit(end) { end += 1 }
                }
                tokens.append(.number(Double(String(String.UnicodeScalarView(scalars[index..<end])))!))
                index = end
            } else if scalar == "_" || scalar.properties.isAlphabetic {
                var end = index + 1
                while end < scalars.count, scalars[end] == "_" || scalars[end] == "-" || scalars[end] == "?"
                    || scalars[end].properties.isAlphabetic || ("0"..."9").contains(scalars[end])
                {
                    end += 1
                }
                tokens.append(.word(String(String.UnicodeScalarView(scalars[index..<end]))))
                index = end
            } else {
                let two = index + 1 < scalars.count ? String(String.UnicodeScalarView(scalars[index...(index + 1)])) : ""
                if ["==", "!=", "<>", "<=", ">=", ".."].contains(two) {
                    tokens.append(.symbol(two))
                    index += 2
                } else if "<>|:,.[]()=".unicodeScalars.contains(scalar) {
                    tokens.append(.symbol(String(scalar)))
                    index += 1
                } else {
                    throw error("unexpected character \"\(scalar)\"")
                }
            }
        }
    }

    private var current: Token? { position < tokens.count ? tokens[position] : nil }

    private mutating func expect(_ symbol: String) throws(LiquidError) {
        guard current == .symbol(symbol) else { throw error("expected \"\(symbol)\"") }
        position += 1
    }

    static func parseFilteredValue(_ source: String) throws(LiquidError) -> LiquidFilteredValue {
        var parser = LiquidExpressionParser(source)
        return try parser.parseFilteredValue()
    }

    static func parseCondition(_ source: String) throws(LiquidError) -> LiquidCondition {
        var parser = LiquidExpressionParser(source)
        return try parser.parseCondition()
    }

    private mutating func parseFilteredValue() throws(LiquidError) -> LiquidFilteredValue {
        try tokenize()
        let value = try parseValue()
        var filters: [LiquidFilter] = []
        while current == .symbol("|") {
            position += 1
            guard case .word(let name)? = current else { throw error("expected a filter name after \"|\"") }
            position += 1
            if LiquidTemplate.disabledFilters.contains(name) {
                throw LiquidError(message: "filter \"\(name)\" is disabled (Segment disables the Liquid filters "
                    + LiquidTemplate.disabledFilters.sorted().joined(separator: ", ") + ")")
            }
            guard LiquidExpressionParser.filters.contains(name) else {
                throw LiquidError(message: "filter \"\(name)\" is not supported in @liquid here (supported: "
                    + LiquidExpressionParser.filters.sorted().joined(separator: ", ") + ")")
            }
            var arguments: [LiquidValue] = []
            if current == .symbol(":") {
                position += 1
                arguments.append(try parseValue())
                while current == .symbol(",") {
                    position += 1
                    arguments.append(try parseValue())
                }
            }
            filters.append(LiquidFilter(name: name, arguments: arguments))
        }
        guard current == nil else { throw error("unexpected \(describe(current!))") }
        return LiquidFilteredValue(value: value, filters: filters)
    }

    private mutating func parseCondition() throws(LiquidError) -> LiquidCondition {
        try tokenize()
        guard current != nil else { throw error("the condition is empty") }
        var output: [LiquidCondition.Item] = []
        var operators: [(name: String, precedence: Int)] = []
        while true {
            output.append(.operand(try parseValue()))
            guard let token = current else { break }
            let name: String
            switch token {
            case .symbol(let symbol) where LiquidExpressionParser.comparisonOperators.contains(symbol): name = symbol
            case .word(let word) where ["and", "or", "contains"].contains(word): name = word
            default: throw error("unexpected \(describe(token)); expected an operator such as ==, contains, and, or")
            }
            position += 1
            let precedence = (name == "and" || name == "or") ? 0 : 2
            while let top = operators.last, top.precedence > precedence {
                output.append(.operation(top.name))
                operators.removeLast()
            }
            operators.append((name, precedence))
        }
        while let top = operators.popLast() { output.append(.operation(top.name)) }
        return LiquidCondition(postfix: output)
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .string(let string): "string \"\(string)\""
        case .number(let number): "number \(JS.string(fromNumber: number))"
        case .word(let word): "\"\(word)\""
        case .symbol(let symbol): "\"\(symbol)\""
        }
    }

    private mutating func parseValue() throws(LiquidError) -> LiquidValue {
        guard let token = current else { throw error("expected a value") }
        position += 1
        switch token {
        case .string(let string): return .literal(.string(string))
        case .number(let number): return .literal(.number(number))
        case .symbol("("): throw error("ranges such as (1..5) are not supported")
        case .symbol("["):
            // A bracketed root: `["first name"]`.
            let key = try parseValue()
            try expect("]")
            return .variable(name: "", properties: [.dynamic(key)] + (try parseProperties()))
        case .word(let word):
            switch word {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "nil", "null": return .literal(nil)
            case "empty": return .empty
            case "blank": return .blank
            default: return .variable(name: word, properties: try parseProperties())
            }
        default:
            throw error("unexpected \(describe(token))")
        }
    }

    private mutating func parseProperties() throws(LiquidError) -> [LiquidProperty] {
        var properties: [LiquidProperty] = []
        while true {
            if current == .symbol(".") {
                position += 1
                guard case .word(let word)? = current else {
                    if case .number(let number)? = current, number >= 0, number == number.rounded() {
                        position += 1
                        properties.append(.key(JS.string(fromNumber: number)))
                        continue
                    }
                    throw error("expected a property name after \".\"")
                }
                position += 1
                properties.append(.key(word))
            } else if current == .symbol("[") {
                position += 1
                let key = try parseValue()
                try expect("]")
                if case .literal(let literal) = key {
                    properties.append(.key(JS.string(literal)))
                } else {
                    properties.append(.dynamic(key))
                }
            } else {
                return properties
            }
        }
    }
}

// MARK: - Rendering

struct LiquidContext {
    let scope: JSONValue
    var assigned: [String: JSONValue?] = [:]

    init(scope: JSONValue) {
        self.scope = scope
    }

    mutating func render(_ nodes: [LiquidNode], into output: inout String) {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .output(let value):
                output += LiquidContext.stringify(evaluate(value))
            case .conditional(let branches, let otherwise):
                var taken = false
                for branch in branches {
                    let holds = LiquidContext.isTruthy(evaluate(branch.condition))
                    if holds != branch.negated {
                        render(branch.body, into: &output)
                        taken = true
                        break
                    }
                }
                if !taken, let otherwise { render(otherwise, into: &output) }
            case .assign(let name, let value):
                assigned[name] = .some(evaluate(value))
            case .capture(let name, let body):
                var captured = ""
                render(body, into: &captured)
                assigned[name] = .some(.string(captured))
            }
        }
    }

    /// Liquid truthiness: only `false`, `nil` and undefined are false.
    static func isTruthy(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?, .bool(false)?: false
        default: true
        }
    }

    static func stringify(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: ""
        case .string(let string)?: string
        case .array(let array)?: array.map { stringify($0) }.joined()
        case let value?: JS.string(value)
        }
    }

    // MARK: Values

    func evaluate(_ value: LiquidFilteredValue) -> JSONValue? {
        var result = evaluate(value.value)
        for filter in value.filters {
            result = LiquidFilters.apply(filter.name, to: result, arguments: filter.arguments.map { evaluate($0) })
        }
        return result
    }

    func evaluate(_ value: LiquidValue) -> JSONValue? {
        switch value {
        case .literal(let literal): return literal
        case .empty, .blank: return nil
        case .variable(let name, let properties):
            var current: JSONValue?
            var remaining = properties[...]
            if name.isEmpty {
                guard case .dynamic(let key)? = remaining.first else { return nil }
                remaining = remaining.dropFirst()
                current = lookUpRoot(JS.string(evaluate(key)))
            } else {
                current = lookUpRoot(name)
            }
            for property in remaining {
                guard let object = current else { return nil }
                let key: String
                switch property {
                case .key(let name): key = name
                case .dynamic(let value): key = JS.string(evaluate(value))
                }
                current = LiquidContext.readProperty(object, key)
            }
            return current
        }
    }

    private func lookUpRoot(_ name: String) -> JSONValue? {
        if let value = assigned[name] { return value }
        return JS.property(of: scope, name)
    }

    /// LiquidJS's `readProperty`: negative array indices count from the end, and `size`,
    /// `first` and `last` work on arrays, strings and objects.
    static func readProperty(_ object: JSONValue, _ key: String) -> JSONValue? {
        if case .null = object { return nil }
        if case .array(let array) = object, key.hasPrefix("-"), let offset = Int(key), array.count + offset >= 0 {
            return array[array.count + offset]
        }
        let own = JS.property(of: object, key)
        switch key {
        case "size":
            if let own { return own }
            switch object {
            case .array(let array): return .number(Double(array.count))
            case .string(let string): return .number(Double(string.utf16.count))
            case .object(let members): return .number(Double(members.count))
            default: return nil
            }
        case "first":
            if case .array(let array) = object { return array.first }
            return own
        case "last":
            if case .array(let array) = object { return array.last }
            return own
        default:
            return own
        }
    }

    // MARK: Conditions

    func evaluate(_ condition: LiquidCondition) -> JSONValue? {
        var stack: [Operand] = []
        for item in condition.postfix {
            switch item {
            case .operand(let value):
                switch value {
                case .empty: stack.append(.empty)
                case .blank: stack.append(.blank)
                default: stack.append(.value(evaluate(value)))
                }
            case .operation(let name):
                let right = stack.removeLast(), left = stack.removeLast()
                stack.append(.value(.bool(LiquidContext.apply(name, left, right))))
            }
        }
        switch stack.last {
        case .value(let value)?: return value
        default: return nil
        }
    }

    enum Operand {
        case value(JSONValue?)
        case empty
        case blank
    }

    static func apply(_ name: String, _ left: Operand, _ right: Operand) -> Bool {
        switch name {
        case "and": return isTruthy(left.value) && isTruthy(right.value)
        case "or": return isTruthy(left.value) || isTruthy(right.value)
        case "==": return equals(left, right)
        case "!=", "<>": return !equals(left, right)
        case "contains":
            switch left.value {
            case .string(let string)?:
                let needle = JS.string(right.value)
                return needle.isEmpty || string.utf16.count >= needle.utf16.count && string.contains(needle)
            case .array(let array)?:
                return array.contains { JS.strictlyEquals($0, right.value) }
            default:
                return false
            }
        default:
            // Drops (`empty`, `blank`) are never greater or less than anything.
            guard case .value(let l) = left, case .value(let r) = right else { return false }
            switch name {
            case "<": return JS.lessThan(l, r) ?? false
            case ">": return JS.lessThan(r, l) ?? false
            case "<=": return JS.lessThan(r, l).map { !$0 } ?? false
            case ">=": return JS.lessThan(l, r).map { !$0 } ?? false
            default: return false
            }
        }
    }

    private static func equals(_ left: Operand, _ right: Operand) -> Bool {
        switch (left, right) {
        case (.value(let l), .value(let r)): return JS.strictlyEquals(l, r)
        case (.empty, .value(let v)), (.value(let v), .empty): return isEmpty(v)
        case (.blank, .value(let v)), (.value(let v), .blank): return isBlank(v)
        default: return false
        }
    }

    private static func isEmpty(_ value: JSONValue?) -> Bool {
        switch value {
        case .string(let string)?: string.isEmpty
        case .array(let array)?: array.isEmpty
        case .object(let object)?: object.isEmpty
        default: false
        }
    }

    private static func isBlank(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?, .bool(false)?: true
        case .string(let string)?: string.unicodeScalars.allSatisfy(JS.isWhitespace)
        default: isEmpty(value)
        }
    }
}

extension LiquidContext.Operand {
    var value: JSONValue? {
        if case .value(let value) = self { return value }
        return nil
    }
}
