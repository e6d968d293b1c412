/// Tokens of Segment's FQL trigger language, as `@segment/fql-ts` defines them.
///
/// Facts kept from fql-ts (the tokenizer Segment's `parseFql` uses):
/// - identifiers start with an ASCII letter, `_` or `\` and continue with letters, digits, `_`,
///   `-` and `\`; a backslash takes the next character literally (`product\ 1` is `product 1`);
/// - strings have no escape sequences: a backslash inside quotes is an ordinary character, and
///   the string ends at the next quote of the same kind;
/// - numbers are an optional sign, digits and at most one decimal point (no exponent);
/// - `and`, `or` and `null` are keywords only when written without escapes.
///
/// Where fql-ts would produce tokens that Segment's parser then misreads (`a<=5` lexes as `<`,
/// `=`), this lexer either reads what the text says or rejects it with a position.
struct FQLToken: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        /// An identifier with its escapes removed; `escaped` records whether it had any,
        /// because `\and` is a field name while `and` is a conjunction.
        case word(String, escaped: Bool)
        /// The characters between double quotes, verbatim.
        case string(String)
        case number(Double, text: String)
        case comparison(FQLComparison)
        case bang
        case leftParenthesis
        case rightParenthesis
        case comma
        case dot
        case end
    }

    var kind: Kind
    /// Offset of the token's first character, in Unicode scalars.
    var position: Int
    /// The token as written, for error messages.
    var text: String
}

/// The comparison operators of FQL.
enum FQLComparison: String, Sendable {
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
}

struct FQLLexer {
    private let source: String
    /// Unicode scalars, not Characters: a combining mark after a quote must not merge with it.
    private let characters: [Unicode.Scalar]
    private var index = 0
    private var previousKind: FQLToken.Kind?

    init(source: String) {
        self.source = source
        self.characters = Array(source.unicodeScalars)
    }

    static func tokenize(_ source: String) throws(FQLParseError) -> [FQLToken] {
        var lexer = FQLLexer(source: source)
        var tokens: [FQLToken] = []
        while true {
            let token = try lexer.nextToken()
            lexer.previousKind = token.kind
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func failure(at position: Int, _ message: String) -> FQLParseError {
        FQLParseError(source: source, position: position, message: message)
    }

    private var current: Unicode.Scalar? { index < characters.count ? characters[index] : nil }

    private func character(at offset: Int) -> Unicode.Scalar? {
        offset < characters.count ? characters[offset] : nil
    }

    private mutating func nextToken() throws(FQLParseError) -> FQLToken {
        while let character = current, Self.isWhitespace(character) { index += 1 }
        let start = index
        guard let character = current else {
            return FQLToken(kind: .end, position: start, text: "")
        }

        func single(_ kind: FQLToken.Kind) -> FQLToken {
            index += 1
            return FQLToken(kind: kind, position: start, text: String(character))
        }

        switch character {
        case "(": return single(.leftParenthesis)
        case ")": return single(.rightParenthesis)
        case ",": return single(.comma)
        case ".": return single(.dot)
        case "=": return single(.comparison(.equal))
        case "!":
            if self.character(at: start + 1) == "=" {
                index += 2
                return FQLToken(kind: .comparison(.notEqual), position: start, text: "!=")
            }
            return single(.bang)
        case "<", ">":
            let orEqual = self.character(at: start + 1) == "="
            index += orEqual ? 2 : 1
            let comparison: FQLComparison = character == "<"
                ? (orEqual ? .lessOrEqual : .less)
                : (orEqual ? .greaterOrEqual : .greater)
            return FQLToken(kind: .comparison(comparison), position: start, text: comparison.rawValue)
        case "\"":
            return try lexString()
        case "'":
            throw failure(at: start,
                "single-quoted strings are not supported: Segment keeps the quotes as part of the value, so the condition could never match; use double quotes")
        case "[", "]":
            throw failure(at: start,
                "square brackets are not supported in field paths; address an array element as a path segment with an escaped index, e.g. properties.items.\\0.price")
        default:
            break
        }

        if previousKind == .dot, Self.isDigit(character) {
            throw failure(at: start,
                "a field name cannot start with a digit unless escaped: write \\\(character) (e.g. properties.items.\\0.price)")
        }
        if Self.isDigit(character) || character == "-" || character == "+" {
            return try lexNumber()
        }
        if Self.isIdentifierStart(character) {
            return try lexWord()
        }
        if character.properties.isAlphabetic {
            throw failure(at: start,
                "unexpected character '\(character)': field names take ASCII letters, digits, '_' and '-'; escape any other character with a backslash (\\\(character))")
        }
        throw failure(at: start,
            "unexpected character '\(character)': expected a field, a quoted string, a number, an operator (= != < <= > >=), '(' or ')'")
    }

    private mutating func lexString() throws(FQLParseError) -> FQLToken {
        let start = index
        index += 1
        var value = String.UnicodeScalarView()
        while let character = current, character != "\"" {
            value.append(character)
            index += 1
        }
        guard current == "\"" else {
            throw failure(at: start, "unterminated string: add the closing '\"'")
        }
        index += 1
        return FQLToken(kind: .string(String(value)), position: start, text: Self.string(characters[start..<index]))
    }

    private mutating func lexNumber() throws(FQLParseError) -> FQLToken {
        let start = index
        if current == "-" || current == "+" { index += 1 }
        var digitCount = 0
        while let character = current, Self.isDigit(character) { index += 1; digitCount += 1 }
        if current == "." {
            let point = index
            index += 1
            var fractionCount = 0
            while let character = current, Self.isDigit(character) { index += 1; fractionCount += 1 }
            if fractionCount == 0 {
                throw failure(at: point, "expected digits after the decimal point")
            }
            if current == "." {
                throw failure(at: index, "a number has at most one decimal point")
            }
            digitCount += fractionCount
        }
        if digitCount == 0 {
            throw failure(at: start, "expected digits after '\(characters[start])'")
        }
        if let next = current, Self.isIdentifierPart(next) || next == "\"" {
            throw failure(at: index,
                "unexpected '\(next)' right after a number: numbers are digits with an optional sign and decimal point (no exponent); separate tokens with a space")
        }
        let text = Self.string(characters[start..<index])
        return FQLToken(kind: .number(FQLJavaScriptNumber.parse(text), text: text), position: start, text: text)
    }

    private mutating func lexWord() throws(FQLParseError) -> FQLToken {
        let start = index
        var value = String.UnicodeScalarView()
        var escaped = false
        while let character = current, Self.isIdentifierPart(character) {
            if character == "\\" {
                guard let literal = self.character(at: index + 1) else {
                    throw failure(at: index, "a backslash must be followed by the character it escapes")
                }
                value.append(literal)
                escaped = true
                index += 2
            } else {
                value.append(character)
                index += 1
            }
        }
        return FQLToken(kind: .word(String(value), escaped: escaped), position: start,
                        text: Self.string(characters[start..<index]))
    }

    // fql-ts counts space, tab and newline as whitespace; a carriage return (from a pasted
    // Windows line ending) separates tokens just as well and changes no meaning.
    static func isWhitespace(_ character: Unicode.Scalar) -> Bool {
        character == " " || character == "\t" || character == "\n" || character == "\r"
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    static func isDigit(_ character: Unicode.Scalar) -> Bool {
        character.value >= 0x30 && character.value <= 0x39
    }

    static func isASCIILetter(_ character: Unicode.Scalar) -> Bool {
        (character.value >= 0x41 && character.value <= 0x5A) || (character.value >= 0x61 && character.value <= 0x7A)
    }

    static func isIdentifierStart(_ character: Unicode.Scalar) -> Bool {
        isASCIILetter(character) || character == "_" || character == "\\"
    }

    static func isIdentifierPart(_ character: Unicode.Scalar) -> Bool {
        isIdentifierStart(character) || isDigit(character) || character == "-"
    }
}
