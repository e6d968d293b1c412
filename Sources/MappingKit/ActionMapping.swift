import JSONKit

/// One configured mapping of the destination's Update Profile action: a Segment
/// "subscription" (trigger + field mapping) as users define it in Segment's UI.
///
/// The same parser serves the config file and the admin API, so both refuse exactly the
/// same things with the same JSON paths.
public struct ActionMapping: Sendable {
    /// The only action this destination has (Segment's `updateProfile`).
    public static let updateProfileAction = "updateProfile"

    /// Segment's default for the Mbox 3rd Party ID field: userId, falling back to anonymousId.
    public static let defaultUserIDDirective: JSONValue = [
        "@if": [
            "exists": ["@path": "$.userId"],
            "then": ["@path": "$.userId"],
            "else": ["@path": "$.anonymousId"],
        ]
    ]

    public let id: String
    public let name: String
    public let isEnabled: Bool
    public let subscription: Subscription
    public let action: String
    /// The mapping as the user wrote it (without the implied `user_id` default).
    public let mappingJSON: JSONValue
    /// The definition as given, for the admin API.
    public let json: JSONValue
    private let compiledMapping: Mapping

    /// What applying a mapping to an event produced.
    public enum Outcome: Sendable, Equatable {
        case update(userID: String, traits: JSONObject)
        case mappingError(String)
    }

    /// Parses and validates one definition. `path` locates it in its document, e.g.
    /// `$.mappings[3]`, so every problem names its place (`$.mappings[3].mapping.traits`).
    public static func parse(_ json: JSONValue, at path: [PathComponent]) -> Result<ActionMapping, ConfigurationProblems> {
        var problems: [ConfigurationProblem] = []
        guard let object = json.objectValue else {
            return .failure(ConfigurationProblems([
                ConfigurationProblem(path, "must be an object with id, subscription, action and mapping")
            ]))
        }
        let known: Set = ["id", "name", "enabled", "subscription", "action", "mapping"]
        for key in object.keys where !known.contains(key) {
            problems.append(ConfigurationProblem(path + [.key(key)],
                "unknown field; a mapping has only id, name, enabled, subscription, action and mapping"))
        }

        var id = ""
        switch object["id"] {
        case .string(let value) where !value.isEmpty && value.count <= 128:
            id = value
        case nil:
            problems.append(ConfigurationProblem(path + [.key("id")], "is required: give the mapping a unique id such as \"update-profile\""))
        default:
            problems.append(ConfigurationProblem(path + [.key("id")], "must be a non-empty string of at most 128 characters"))
        }

        var name = id
        switch object["name"] {
        case .string(let value): name = value
        case nil, .null?: break
        default: problems.append(ConfigurationProblem(path + [.key("name")], "must be a string"))
        }

        var isEnabled = true
        switch object["enabled"] {
        case .bool(let value): isEnabled = value
        case nil: break
        default: problems.append(ConfigurationProblem(path + [.key("enabled")], "must be true or false"))
        }

        var action = updateProfileAction
        switch object["action"] {
        case .string(updateProfileAction), nil: break
        case .string(let other):
            action = other
            problems.append(ConfigurationProblem(path + [.key("action")],
                "unknown action \"\(other)\"; this destination has one action: \"\(updateProfileAction)\""))
        default:
            problems.append(ConfigurationProblem(path + [.key("action")], "must be the string \"\(updateProfileAction)\""))
        }

        var subscription: Subscription?
        switch object["subscription"] {
        case .string(let source):
            do {
                subscription = try Subscription(parsing: source)
            } catch {
                problems.append(ConfigurationProblem(path + [.key("subscription")], error.description))
            }
        case nil:
            problems.append(ConfigurationProblem(path + [.key("subscription")],
                "is required: a trigger in Segment's FQL, e.g. \"type = \\\"identify\\\"\""))
        default:
            problems.append(ConfigurationProblem(path + [.key("subscription")], "must be a string in Segment's FQL trigger language"))
        }

        var compiled: Mapping?
        let mappingPath = path + [.key("mapping")]
        let mappingJSON = object["mapping"] ?? .null
        if let fields = mappingJSON.objectValue {
            var effective = fields
            if fields["traits"] == nil {
                problems.append(ConfigurationProblem(mappingPath + [.key("traits")],
                    "is required (Profile Attributes) and has no default, so that no personal data is sent by accident; map it explicitly, e.g. {\"@path\": \"$.traits\"}"))
            }
            for key in fields.keys where key != "user_id" && key != "traits" {
                problems.append(ConfigurationProblem(mappingPath + [.key(key)],
                    "unknown field of the Update Profile action; it has user_id and traits"))
            }
            if fields["user_id"] == nil {
                effective = JSONObject([("user_id", defaultUserIDDirective)])
                for (key, value) in fields { effective[key] = value }
            }
            do {
                compiled = try Mapping(.object(effective))
            } catch {
                for problem in error.problems {
                    problems.append(ConfigurationProblem(mappingPath + problem.path, problem.message))
                }
            }
        } else {
            problems.append(ConfigurationProblem(mappingPath,
                "is required: an object with the fields user_id (optional) and traits, in Segment's mapping-kit language"))
        }

        guard problems.isEmpty, let subscription, let compiled else {
            return .failure(ConfigurationProblems(problems))
        }
        return .success(ActionMapping(
            id: id, name: name, isEnabled: isEnabled, subscription: subscription, action: action,
            mappingJSON: mappingJSON, json: json, compiledMapping: compiled))
    }

    /// Applies the mapping to an event whose subscription matched. A `user_id` that resolves to
    /// nothing is an error for that event, never a silent drop.
    public func resolve(_ event: JSONValue) -> Outcome {
        let resolved: JSONValue?
        do {
            resolved = try compiledMapping.resolve(event)
        } catch {
            return .mappingError(error.description)
        }
        guard let fields = resolved?.objectValue else {
            return .mappingError("The root value is missing the required field 'user_id'.")
        }
        let userID: String
        switch fields["user_id"] {
        case .string(let value) where !value.isEmpty: userID = value
        case .number(let value): userID = JSNumberFormatter.string(from: value)
        case nil, .null?, .string?:
            return .mappingError("The root value is missing the required field 'user_id'.")
        default:
            return .mappingError("The value at /user_id must be a string.")
        }
        // Adobe cannot address such a profile, and the store reads ids as C strings.
        if userID.utf8.contains(0) {
            return .mappingError("The value at /user_id contains a NUL character (U+0000); no Adobe Target profile id can hold one.")
        }
        switch fields["traits"] {
        case .object(let traits)?: return .update(userID: userID, traits: traits)
        case nil: return .mappingError("The root value is missing the required field 'traits'.")
        default: return .mappingError("The value at /traits must be an object.")
        }
    }
}

/// A problem in a configuration document, located by its JSON path.
public struct ConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    public var path: [PathComponent]
    public var message: String

    public init(_ path: [PathComponent], _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path.rendered()): \(message)" }
}

/// Every problem found, so an operator fixes them all in one pass.
public struct ConfigurationProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigurationProblem]

    public init(_ problems: [ConfigurationProblem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
