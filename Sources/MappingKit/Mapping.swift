import JSONKit

/// A Segment mapping-kit mapping, validated and compiled once for fast repeated resolution.
///
/// Behaviour follows `@segment/actions-core`'s mapping-kit: raw values are copied, directives
/// (`@path`, `@template`, `@if`, …) are resolved against the event, keys whose value resolves to
/// `undefined` are dropped from objects while `null` is kept, and key order is preserved.
public struct Mapping: Sendable, Hashable {
    /// The mapping exactly as given.
    public let json: JSONValue
    let root: Node

    /// Validates like mapping-kit's `validate`, then compiles for fast repeated resolution.
    ///
    /// Every problem is reported, each with its path inside the mapping.
    public init(_ json: JSONValue) throws(MappingValidationError) {
        self.json = json
        var compiler = MappingCompiler()
        let node = compiler.compileRoot(json)
        guard compiler.problems.isEmpty else { throw MappingValidationError(problems: compiler.problems) }
        root = node
    }

    /// Resolves the mapping against an event (the payload). `nil` stands for JavaScript's
    /// `undefined`: the mapping produced nothing (for instance a lone `@path` to a missing field).
    ///
    /// Throws when the payload is not an object (as mapping-kit's `transform` does) or when a
    /// directive fails for this event (a `@template` whose path resolves to a non-string, a
    /// Liquid render error, …).
    public func resolve(_ payload: JSONValue) throws(MappingError) -> JSONValue? {
        guard case .object = payload else {
            throw MappingError("The event must be a JSON object, got \(JS.typeName(payload)).")
        }
        return try root.resolve(payload)
    }

    public static func == (lhs: Mapping, rhs: Mapping) -> Bool { lhs.json == rhs.json }
    public func hash(into hasher: inout Hasher) { hasher.combine(json) }
}

/// A mapping refused by validation, listing every problem found.
public struct MappingValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// Where the problem is, relative to the mapping's root.
        public var path: [PathComponent]
        public var message: String

        public init(path: [PathComponent], message: String) {
            self.path = path
            self.message = message
        }

        /// `$.traits["@path"]: should be a string or a mapping directive but it is a number`.
        public func rendered(prefix: String = "$") -> String { "\(path.rendered(prefix: prefix)): \(message)" }
        public var description: String { rendered() }
    }

    public var problems: [Problem]

    public init(problems: [Problem]) {
        self.problems = problems
    }

    /// One line per problem, each path rendered after `prefix` (e.g. `$.mappings[0].mapping`).
    public func rendered(prefix: String = "$") -> String {
        problems.map { $0.rendered(prefix: prefix) }.joined(separator: "\n")
    }

    public var description: String { rendered() }
}

/// A mapping that failed for one event (a directive given a value it cannot use).
public struct MappingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
