// TEMPORARY STUB in main so DestinationApp compiles; replaced by the FQL work.
import JSONKit

public struct FQLParseError: Error, Sendable, CustomStringConvertible {
    public var position: Int
    public var message: String
    public var description: String { message }
}

public struct Subscription: Sendable, Hashable {
    public let source: String
    public init(parsing source: String) throws(FQLParseError) { self.source = source }
    public func matches(_ event: JSONValue) -> Bool { false }
}
