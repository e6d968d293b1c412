import JSONKit

/// Why a resolved Update Profile mapping cannot be delivered, worded as Segment's action
/// runtime words payload validation errors (`The root value is missing the required field 'user_id'.`).
public struct UpdateProfilePayloadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every problem, each one sentence, in field order.
    public var problems: [String]

    public var description: String { problems.joined(separator: " ") }
}

/// The two fields of Segment's Update Profile action, after mapping.
public struct UpdateProfilePayload: Sendable, Hashable {
    /// The Mbox 3rd Party ID.
    public var userID: String
    /// The Profile Attributes, flattened into `profile.*` parameters at delivery.
    public var traits: JSONObject

    public init(userID: String, traits: JSONObject) {
        self.userID = userID
        self.traits = traits
    }

    /// Checks a resolved mapping against the action's schema the way Segment's runtime does
    /// (JSON Schema with `coerceTypes: "array"`): `user_id` must be a string, and a number,
    /// boolean or `null` is turned into one (`21` → `"21"`, `null` → `""`), as is a
    /// one-element array of those; `traits` must be an object. Extra fields are ignored.
    public init(validating payload: JSONValue) throws(UpdateProfilePayloadError) {
        guard let object = payload.objectValue else {
            throw UpdateProfilePayloadError(problems: ["The root value must be an object but it was \(Self.kind(of: payload))."])
        }
        var problems: [String] = []
        var userID: String?
        switch object["user_id"] {
        case nil:
            problems.append("The root value is missing the required field 'user_id'.")
        case let value?:
            userID = Self.coercedString(value)
            if userID == nil {
                problems.append("The value at /user_id must be a string but it was \(Self.kind(of: value)).")
            }
        }
        var traits: JSONObject?
        switch object["traits"] {
        case nil:
            problems.append("The root value is missing the required field 'traits'.")
        case let value?:
            traits = value.objectValue
            if traits == nil {
                problems.append("The value at /traits must be an object but it was \(Self.kind(of: value)).")
            }
        }
        guard problems.isEmpty, let userID, let traits else { throw UpdateProfilePayloadError(problems: problems) }
        self.init(userID: userID, traits: traits)
    }

    private static func coercedString(_ value: JSONValue) -> String? {
        switch value {
        case .string(let string): return string
        case .number(let number): return JSNumberFormatter.string(from: number)
        case .bool(let bool): return bool ? "true" : "false"
        case .null: return ""
        case .array(let elements) where elements.count == 1:
            if case .array = elements[0] { return nil }
            return coercedString(elements[0])
        case .array, .object: return nil
        }
    }

    private static func kind(of value: JSONValue) -> String {
        value.kindDescription
    }
}

extension AdobeTargetClient {
    /// Delivers a validated payload.
    public func deliver(_ payload: UpdateProfilePayload) async -> DeliveryResult {
        await deliver(userID: payload.userID, traits: payload.traits)
    }
}
