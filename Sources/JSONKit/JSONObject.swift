/// An insertion-ordered string-keyed map: the object model of JavaScript.
///
/// Setting an existing key keeps its position (as assigning to a JS object property does);
/// removing a key and setting it again moves it to the end.
public struct JSONObject: Hashable, Sendable, Sequence {
    public typealias Element = (key: String, value: JSONValue)

    @usableFromInline var storedKeys: [String]
    @usableFromInline var storedValues: [JSONValue]

    public init() {
        storedKeys = []
        storedValues = []
    }

    /// Builds an object from pairs; a repeated key keeps its first position and its last value,
    /// as `JSON.parse` does.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        self.init()
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { storedKeys.count }
    public var isEmpty: Bool { storedKeys.isEmpty }
    public var keys: [String] { storedKeys }
    public var values: [JSONValue] { storedValues }

    @inlinable
    public func index(forKey key: String) -> Int? {
        storedKeys.firstIndex(of: key)
    }

    public subscript(key: String) -> JSONValue? {
        get {
            guard let index = index(forKey: key) else { return nil }
            return storedValues[index]
        }
        set {
            if let index = index(forKey: key) {
                if let newValue {
                    storedValues[index] = newValue
                } else {
                    storedKeys.remove(at: index)
                    storedValues.remove(at: index)
                }
            } else if let newValue {
                storedKeys.append(key)
                storedValues.append(newValue)
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let index = index(forKey: key) else { return nil }
        storedKeys.remove(at: index)
        return storedValues.remove(at: index)
    }

    public func makeIterator() -> AnyIterator<Element> {
        var index = 0
        return AnyIterator {
            guard index < storedKeys.count else { return nil }
            defer { index += 1 }
            return (storedKeys[index], storedValues[index])
        }
    }

    /// Objects compare equal when they hold the same members in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.storedKeys == rhs.storedKeys && lhs.storedValues == rhs.storedValues
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storedKeys)
        hasher.combine(storedValues)
    }
}
