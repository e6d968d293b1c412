import JSONKit

/// A mapping's trigger: a condition in Segment's FQL, as Segment's trigger builder writes it,
/// e.g. `type = "identify"` or `event = "Order Completed" and properties.total > 100`.
///
/// Parsing compiles the text once into a small tree with pre-split field paths; `matches`
/// walks that tree without allocating. Matching follows Segment's actions runtime
/// (`parseFql` + `validate` in `@segment/destination-subscriptions`), including its quirks:
/// a quoted value compares as a string (`properties.n = "1"` does not match the number 1),
/// orderings match numbers only, `= true` matches the boolean only, and `and`/`or` group by the
/// last conjunction at each level rather than by precedence (see `FQLParser`).
public struct Subscription: Sendable, Hashable {
    /// The subscription text as given.
    public let source: String
    let expression: FQLExpression

    /// Compiles `source`, or throws naming the position and what was expected there.
    public init(parsing source: String) throws(FQLParseError) {
        self.source = source
        self.expression = try FQLParser.parse(source)
    }

    /// Whether the Segment event (a JSON object) satisfies the subscription. Anything other
    /// than an object matches nothing, as Segment's runtime never accepts one.
    public func matches(_ event: JSONValue) -> Bool {
        guard case .object(let object) = event else { return false }
        return expression.matches(object)
    }

    /// Subscriptions are equal when their texts are: the compiled tree is derived from the text.
    public static func == (lhs: Subscription, rhs: Subscription) -> Bool {
        lhs.source == rhs.source
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
    }
}

extension Subscription: CustomStringConvertible {
    public var description: String { source }
}
