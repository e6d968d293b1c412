/// Why a subscription (a trigger in Segment's FQL) was rejected, and where.
///
/// Segment's own runtime reports a subscription it cannot parse as "Invalid subscription" on
/// every event; rejecting it when the configuration loads says the same thing earlier.
public struct FQLParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The subscription text as given.
    public var source: String
    /// Offset of the offending character in `source`, from 0, counted in Unicode scalars (which
    /// are characters for any text without combining marks or emoji sequences). Equal to the
    /// length when the text ended too early.
    public var position: Int
    /// What is wrong and what was expected, without the location.
    public var message: String

    public init(source: String, position: Int, message: String) {
        self.source = source
        self.position = position
        self.message = message
    }

    public var description: String {
        "subscription \"\(source)\" is invalid at position \(position): \(message)"
    }
}
