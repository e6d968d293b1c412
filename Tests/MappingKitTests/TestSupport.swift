import JSONKit
@testable import MappingKit

/// A resolution case written as JSON text: `expected` is JSON text, or nil for `undefined`.
struct ResolutionCase: CustomTestStringConvertible, Sendable {
    var mapping: String
    var payload: String
    var expected: String?
    var testDescription: String { mapping }

    init(_ mapping: String, _ payload: String = "{}", _ expected: String?) {
        self.mapping = mapping
        self.payload = payload
        self.expected = expected
    }
}

func json(_ text: String) throws -> JSONValue {
    try JSONValue(parsing: text)
}

func resolve(_ mapping: String, _ payload: String) throws -> JSONValue? {
    try Mapping(json(mapping)).resolve(json(payload))
}

func validationProblems(_ mapping: String) throws -> [String] {
    let value = try json(mapping)
    do {
        _ = try Mapping(value)
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

import Testing
