/// Parses a subscription into an `FQLExpression`, following Segment's `parseFql`
/// (action-destinations, packages/destination-subscriptions/src/parse-fql.ts).
///
/// Grouping is Segment's, not classic precedence: within one level (the whole subscription or
/// one pair of parentheses) all conditions form a single group, and the *last* `and`/`or` at
/// that level decides for all of them. So `a and b or c` means `a or b or c`, and
/// `a or b and c` means `a and b and c`.
///
/// Where Segment's parser accepts text but misreads it (drops a condition on an unknown field,
/// ignores a `!` before a group, reads `type =` as `type = "eos"`), this parser rejects it with
/// the position and what was expected, so a subscription never silently matches something other
/// than what it says. Nested parentheses, which Segment's parser cannot read, are grouped as
/// written.
struct FQLParser {
    private let source: String
    private let tokens: [FQLToken]
    private var index = 0
    private var depth = 0

    /// Deep enough for any trigger a person writes, shallow enough that the recursion cannot
    /// exhaust the stack.
    static let maximumDepth = 64

    static func parse(_ source: String) throws(FQLParseError) -> FQLExpression {
        var parser = FQLParser(source: source, tokens: try FQLLexer.tokenize(source))
        return try parser.parseSubscription()
    }

    private init(source: String, tokens: [FQLToken]) {
        self.source = source
        self.tokens = tokens
    }

    private var current: FQLToken { tokens[index] }
    private var next: FQLToken { tokens[min(index + 1, tokens.count - 1)] }
    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private func failure(at token: FQLToken, _ message: String) -> FQLParseError {
        FQLParseError(source: source, position: token.position, message: message)
    }

    /// "found ')'" or "but the subscription ends there", for the end of a message.
    private static func found(_ token: FQLToken) -> String {
        token.kind == .end ? "but the subscription ends there" : "found '\(token.text)'"
    }

    private mutating func parseSubscription() throws(FQLParseError) -> FQLExpression {
        if current.kind == .end {
            throw failure(at: current, "the subscription is empty; write a condition such as type = \"identify\"")
        }
        let expression = try parseGroup()
        switch current.kind {
        case .end:
            return expression
        case .rightParenthesis:
            throw failure(at: current, "')' has no matching '('")
        default:
            if case .word(let word, _) = current.kind, word.lowercased() == "and" || word.lowercased() == "or" {
                throw failure(at: current, "conjunctions are lowercase: write '\(word.lowercased())' instead of '\(word)'")
            }
            throw failure(at: current, "expected 'and' or 'or' between conditions, found '\(current.text)'")
        }
    }

    private enum Conjunction { case and, or }

    private func conjunction(_ token: FQLToken) -> Conjunction? {
        guard case .word(let word, escaped: false) = token.kind else { return nil }
        switch word {
        case "and": return .and
        case "or": return .or
        default: return nil
        }
    }

    /// One level: terms joined by `and`/`or`, grouped Segment's way (the last conjunction wins).
    private mutating func parseGroup() throws(FQLParseError) -> FQLExpression {
        var children = [try parseTerm()]
        var groupConjunction = Conjunction.and
        while let conjunction = conjunction(current) {
            let conjunctionToken = current
            groupConjunction = conjunction
            advance()
            if current.kind == .end || current.kind == .rightParenthesis {
                throw failure(at: current, "expected a condition after '\(conjunctionToken.text)', \(Self.found(current))")
            }
            children.append(try parseTerm())
        }
        if children.count == 1 { return children[0] }
        return groupConjunction == .and ? .all(children) : .any(children)
    }

    private mutating func parseTerm() throws(FQLParseError) -> FQLExpression {
        let token = current
        if conjunction(token) != nil {
            throw failure(at: token, "expected a condition before '\(token.text)'")
        }
        switch token.kind {
        case .leftParenthesis:
            depth += 1
            defer { depth -= 1 }
            if depth > Self.maximumDepth {
                throw failure(at: token, "parentheses nest deeper than \(Self.maximumDepth) levels")
            }
            advance()
            if current.kind == .rightParenthesis {
                throw failure(at: current, "empty parentheses: put a condition between '(' and ')'")
            }
            let group = try parseGroup()
            guard current.kind == .rightParenthesis else {
                if current.kind == .end {
                    throw failure(at: current, "expected ')' to close the '(' at position \(token.position)")
                }
                throw failure(at: current, "expected 'and', 'or' or ')', found '\(current.text)'")
            }
            advance()
            return group

        case .bang:
            advance()
            if case .word(let name, _) = current.kind, let function = FQLFunction(rawValue: name),
               next.kind == .leftParenthesis {
                return try parseFunction(function, negated: true)
            }
            throw failure(at: token,
                "'!' can only negate contains() or match(); Segment ignores it anywhere else, so write the opposite condition instead (e.g. != for =)")

        case .word(let name, _):
            if let function = FQLFunction(rawValue: name), next.kind == .leftParenthesis {
                return try parseFunction(function, negated: false)
            }
            return try parseComparison()

        case .end:
            throw failure(at: token, "expected a condition, but the subscription ends there")

        default:
            throw failure(at: token,
                "expected a condition (a field such as type or properties.total, contains(…), match(…) or '('), found '\(token.text)'")
        }
    }

    // MARK: Fields and values

    /// A field as Segment's `normalize` joins it: words separated by dots, escapes removed.
    private mutating func parseFieldReference() throws(FQLParseError) -> (name: String, token: FQLToken) {
        let start = current
        guard case .word(var name, _) = start.kind else {
            throw failure(at: start, "expected a field such as type or properties.total, \(Self.found(start))")
        }
        advance()
        while current.kind == .dot {
            advance()
            guard case .word(let segment, _) = current.kind else {
                throw failure(at: current, "expected a field name after '.', \(Self.found(current))")
            }
            name += "." + segment
            advance()
        }
        return (name, start)
    }

    private func resolveField(_ name: String, at token: FQLToken, function: FQLFunction? = nil) throws(FQLParseError) -> FQLFieldKind {
        let scalars = name.unicodeScalars
        let head = String(String.UnicodeScalarView(scalars.prefix { $0 != "." }))
        switch head {
        case "type", "event", "name", "userId":
            if head.unicodeScalars.count != scalars.count {
                throw failure(at: token, "'\(head)' has no sub-fields; test the field itself, e.g. \(head) = \"…\"")
            }
            if head == "type", let function {
                throw failure(at: token,
                    "\(function.rawValue)() cannot test 'type' (Segment's parser drops such a condition); use type = \"…\" instead")
            }
            return .member(head)
        case "properties", "traits", "context":
            if head.unicodeScalars.count == scalars.count {
                throw failure(at: token, "'\(head)' needs a field path after it, e.g. \(head).plan")
            }
            // Segment's `get` splits the path on '.', '[' and ']', whether escaped or not.
            let segments = scalars.dropFirst(head.unicodeScalars.count + 1)
                .split(whereSeparator: { $0 == "." || $0 == "[" || $0 == "]" })
                .map { String(String.UnicodeScalarView($0)) }
            if segments.isEmpty {
                throw failure(at: token, "the field path after '\(head).' is empty")
            }
            return .path(root: head, FQLPath(segments: segments))
        default:
            throw failure(at: token,
                "unknown field '\(name)': a subscription can test type, event, name, userId, properties.…, traits.… and context.… (Segment would ignore this condition and match more events than intended)")
        }
    }

    private mutating func parseLiteral(after operatorToken: FQLToken) throws(FQLParseError) -> FQLLiteral {
        let token = current
        switch token.kind {
        case .string(let value):
            advance()
            return .string(value)
        case .number(let value, _):
            advance()
            return .number(value)
        case .word:
            // A bare word is a value too: Segment compares `type = track` with the string "track".
            let (word, _) = try parseFieldReference()
            switch word {
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            case "null": return .null
            default: return .word(word)
            }
        default:
            if token.kind == .end {
                throw failure(at: token, "expected a value after '\(operatorToken.text)'")
            }
            throw failure(at: token,
                "expected a value after '\(operatorToken.text)' (a double-quoted string, a number, true, false or null), found '\(token.text)'")
        }
    }

    // MARK: Conditions

    private mutating func parseComparison() throws(FQLParseError) -> FQLExpression {
        let (name, fieldToken) = try parseFieldReference()
        let field = try resolveField(name, at: fieldToken)
        let operatorToken = current
        guard case .comparison(let comparison) = operatorToken.kind else {
            throw failure(at: operatorToken,
                "expected an operator (= != < <= > >=) after '\(name)', \(Self.found(operatorToken))")
        }
        advance()
        let literal = try parseLiteral(after: operatorToken)
        return .condition(FQLCompiler.condition(field, comparison, literal))
    }

    private mutating func parseFunction(_ function: FQLFunction, negated: Bool) throws(FQLParseError) -> FQLExpression {
        let nameToken = current
        advance()  // the name
        advance()  // "(", checked by the caller
        let (name, fieldToken) = try parseFieldReference()
        let field = try resolveField(name, at: fieldToken, function: function)
        guard current.kind == .comma else {
            throw failure(at: current, "expected ',' after the field in \(function.rawValue)(), \(Self.found(current))")
        }
        let comma = current
        advance()
        let patternToken = current
        let literal = try parseLiteral(after: comma)
        guard current.kind == .rightParenthesis else {
            throw failure(at: current, "expected ')' to close \(function.rawValue)( at position \(nameToken.position), \(Self.found(current))")
        }
        advance()

        let test: FQLTest
        switch function {
        case .contains:
            let text = FQLText(literal.javaScriptString)
            test = negated ? .notContains(text) : .contains(text)
        case .match:
            guard case .string(let pattern) = literal else {
                throw failure(at: patternToken, "match() takes a double-quoted pattern such as \"abc*\" or \"*abc\"")
            }
            // Segment: a pattern ending in '*' is a prefix test of everything before that '*';
            // otherwise a suffix test of everything after the first character.
            // Scalars, not Characters: in "*\u{301}" the '*' and the accent are one Character.
            let scalars = pattern.unicodeScalars
            if scalars.last == "*" {
                let text = FQLText(String(String.UnicodeScalarView(scalars.dropLast())))
                test = negated ? .notStartsWith(text) : .startsWith(text)
            } else if scalars.first == "*" {
                let text = FQLText(String(String.UnicodeScalarView(scalars.dropFirst())))
                test = negated ? .notEndsWith(text) : .endsWith(text)
            } else {
                throw failure(at: patternToken,
                    "match() patterns must start or end with '*': \"abc*\" tests how a value starts, \"*abc\" how it ends")
            }
        }
        return .condition(FQLCondition(field: field.field, test: test))
    }
}

enum FQLFunction: String {
    case contains
    case match
}

/// A field after validation, and how Segment's parser treats it.
enum FQLFieldKind {
    case member(String)
    case path(root: String, FQLPath)

    var field: FQLField {
        switch self {
        case .member(let key): .member(FQLText(key))
        case .path(let root, let path): .path(root: FQLText(root), path)
        }
    }
}

/// A value as written after an operator.
enum FQLLiteral: Equatable {
    case string(String)
    case number(Double)
    case boolean(Bool)
    case null
    /// A bare word other than true, false and null.
    case word(String)

    /// `String(getTokenValue(token))` in parse-fql.ts.
    var javaScriptString: String {
        switch self {
        case .string(let value), .word(let value): value
        case .number(let value): FQLJavaScriptNumber.format(value)
        case .boolean(let value): value ? "true" : "false"
        case .null: "null"
        }
    }

    /// `Number(getTokenValue(token))`: what validate.ts compares numbers with.
    var javaScriptNumber: Double {
        switch self {
        case .string(let value), .word(let value): FQLJavaScriptNumber.parse(value)
        case .number(let value): value
        case .boolean(let value): value ? 1 : 0
        case .null: .nan
        }
    }
}

/// Chooses each condition's test exactly as parse-fql.ts chooses its operator, so that
/// evaluation never has to look at the literal's kind again.
enum FQLCompiler {
    static func condition(_ kind: FQLFieldKind, _ comparison: FQLComparison, _ literal: FQLLiteral) -> FQLCondition {
        FQLCondition(field: kind.field, test: test(kind, comparison, literal))
    }

    private static func test(_ kind: FQLFieldKind, _ comparison: FQLComparison, _ literal: FQLLiteral) -> FQLTest {
        let isNull = literal == .null
        switch kind {
        case .member(let key):
            // `name` and `userId` know exists / not exists; `userId` also true / false.
            // `type` and `event` compare every value as a string, even null ("null").
            if key == "name" || key == "userId" {
                if comparison == .notEqual && isNull { return .exists }
                if comparison == .equal && isNull { return .notExists }
            }
            if key == "userId", comparison == .equal, case .boolean(let flag) = literal {
                return flag ? .isTrue : .isFalse
            }
            let text = literal.javaScriptString
            return stringOperandTest(comparison, text: text, number: FQLJavaScriptNumber.parse(text))

        case .path:
            if comparison == .notEqual && isNull { return .exists }
            if comparison == .equal && isNull { return .notExists }
            if comparison == .equal, case .boolean(let flag) = literal { return flag ? .isTrue : .isFalse }
            if case .number(let number) = literal {
                if comparison == .equal { return .numberEquals(number) }
                if comparison == .notEqual { return .numberNotEquals(number) }
            }
            return stringOperandTest(comparison, text: literal.javaScriptString, number: literal.javaScriptNumber)
        }
    }

    /// validate.ts: `=` and `!=` compare with `String(expected)`; the orderings with `Number(expected)`.
    private static func stringOperandTest(_ comparison: FQLComparison, text: String, number: Double) -> FQLTest {
        switch comparison {
        case .equal: .stringEquals(FQLText(text))
        case .notEqual: .stringNotEquals(FQLText(text))
        case .less: .less(number)
        case .lessOrEqual: .lessOrEqual(number)
        case .greater: .greater(number)
        case .greaterOrEqual: .greaterOrEqual(number)
        }
    }
}
