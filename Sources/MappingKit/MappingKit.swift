// TEMPORARY STUB in main so DestinationApp compiles; replaced by the mapping-kit work.
import JSONKit

public enum PathComponent: Sendable, Hashable { case key(String), index(Int) }

public struct MappingValidationError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Hashable {
        public var path: [PathComponent]
        public var message: String
    }
    public var problems: [Problem]
    public var description: String { problems.map(\.message).joined(separator: "; ") }
}

public struct MappingError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

public struct Mapping: Sendable, Hashable {
    public let json: JSONValue
    public init(_ json: JSONValue) throws(MappingValidationError) { self.json = json }
    public func resolve(_ payload: JSONValue) throws(MappingError) -> JSONValue? { nil }
}

extension PathComponent {
    public static func render(_ path: [PathComponent]) -> String {
        var text = "$"
        for component in path {
            switch component {
            case .key(let key): text += ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}
