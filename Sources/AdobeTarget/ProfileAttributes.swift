import JSONKit

/// One `profile.{name}={value}` pair of an update, before percent-encoding.
public struct ProfileAttribute: Sendable, Hashable {
    /// The flattened name, nested keys joined with `.` (`address.city`), without `profile.`.
    public var name: String
    /// The value as JavaScript's `String(value)` prints it.
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The flattened traits of a profile update, in the order Adobe receives them.
///
/// Flattening follows Segment's hosted destination (`getNestedObjects`): every member whose
/// value is not a JSON object or array becomes one attribute; objects and arrays are walked,
/// their keys (array indices `0`, `1`, … for arrays, as `Object.keys` gives them) joined to the
/// parent's with `.`; `null` produces nothing (and so does an empty object or array).
/// Strings are sent as they are, numbers as JavaScript prints them (`21`, `1.5`, `1e+21`) and
/// booleans as `true` / `false`.
///
/// Two members that flatten to the same name (`{"a.b": 1, "a": {"b": 2}}`) behave as in
/// JavaScript: the first position is kept and the last value wins.
public struct ProfileAttributes: Sendable, Hashable, Sequence, ExpressibleByArrayLiteral {
    public private(set) var attributes: [ProfileAttribute] = []
    private var positions: [String: Int] = [:]

    public init() {}

    public init(arrayLiteral elements: ProfileAttribute...) {
        for element in elements { set(element.name, to: element.value) }
    }

    /// Flattens one traits object.
    public init(flattening traits: JSONObject) {
        append(flattening: traits)
    }

    /// Merges several traits objects for one user, in order: a later value of a flattened name
    /// replaces an earlier one in the earlier one's position; new names go at the end. A `null`
    /// in a later payload removes nothing, as sending both updates one after the other would
    /// leave the earlier value in Adobe's profile too.
    public init(coalescing traitsList: some Sequence<JSONObject>) {
        for traits in traitsList { append(flattening: traits) }
    }

    public var count: Int { attributes.count }
    public var isEmpty: Bool { attributes.isEmpty }

    public func makeIterator() -> IndexingIterator<[ProfileAttribute]> {
        attributes.makeIterator()
    }

    public subscript(name: String) -> String? {
        positions[name].map { attributes[$0].value }
    }

    /// Sets one attribute: in place when the name is known, at the end otherwise.
    public mutating func set(_ name: String, to value: String) {
        if let position = positions[name] {
            attributes[position].value = value
        } else {
            positions[name] = attributes.count
            attributes.append(ProfileAttribute(name: name, value: value))
        }
    }

    /// Flattens `traits` on top of what is already here (later values win).
    public mutating func append(flattening traits: JSONObject) {
        for (key, value) in traits { flatten(value, name: key) }
    }

    /// Merges `other` on top of this (its values win, first-seen order kept).
    public mutating func merge(_ other: ProfileAttributes) {
        for attribute in other.attributes { set(attribute.name, to: attribute.value) }
    }

    private mutating func flatten(_ value: JSONValue, name: String) {
        switch value {
        case .null:
            return
        case .string(let string):
            set(name, to: string)
        case .number(let number):
            set(name, to: JSNumberFormatter.string(from: number))
        case .bool(let bool):
            set(name, to: bool ? "true" : "false")
        case .object(let object):
            for (key, member) in object { flatten(member, name: name + "." + key) }
        case .array(let array):
            for (index, element) in array.enumerated() { flatten(element, name: name + "." + String(index)) }
        }
    }

    public static func == (lhs: ProfileAttributes, rhs: ProfileAttributes) -> Bool {
        lhs.attributes == rhs.attributes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(attributes)
    }
}
