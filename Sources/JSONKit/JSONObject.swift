/// An insertion-ordered string-keyed map: the object model of JavaScript.
///
/// Setting an existing key keeps its position (as assigning to a JS object property does);
/// removing a key and setting it again moves it to the end. Keys are compared by their UTF-8
/// bytes, as JavaScript compares property names.
///
/// Lookups scan the members linearly while the object is small (Segment events have a handful
/// of keys per object, where a scan beats hashing); once an object grows past
/// `JSONObject.indexThreshold` members it keeps a hash index as well.
public struct JSONObject: Sendable {
    public typealias Element = (key: String, value: JSONValue)

    /// Objects with more members than this keep a hash index from key to position.
    public static let indexThreshold = 16

    /// A member as stored: a struct rather than the `Element` tuple, because arrays of tuples
    /// need their type metadata built at run time, which dominated parsing costs.
    @usableFromInline
    struct Member: Sendable {
        @usableFromInline var key: String
        @usableFromInline var value: JSONValue

        @inlinable init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    @usableFromInline var entries: [Member]
    @usableFromInline var keyIndex: [ByteKey: Int]?

    public init() {
        entries = []
        keyIndex = nil
    }

    /// Builds an object from pairs; a repeated key keeps its first position and its last value,
    /// as `JSON.parse` does.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        self.init()
        entries.reserveCapacity(pairs.underestimatedCount)
        for (key, value) in pairs { self[key] = value }
    }

    /// Adopts members already known to have distinct keys (the parser checks that).
    init(uniqueEntries: [Member]) {
        entries = uniqueEntries
        keyIndex = nil
        if entries.count > Self.indexThreshold { rebuildIndex() }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The keys in member order.
    public var keys: [String] { entries.map(\.key) }
    /// The values in member order.
    public var values: [JSONValue] { entries.map(\.value) }
    /// The members in order.
    public var elements: [Element] { entries.map { ($0.key, $0.value) } }

    /// The position of `key` among the members, usable with `self[position]`.
    @inlinable
    public func index(forKey key: String) -> Int? {
        if let keyIndex { return keyIndex[ByteKey(key)] }
        // Through the buffer, so that looking at a member's key does not copy (retain and
        // release) the member; `utf8Equal` rejects most members without touching their bytes.
        return entries.withUnsafeBufferPointer { members in
            for position in members.indices where utf8Equal(members[position].key, key) {
                return position
            }
            return nil
        }
    }

    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = index(forKey: key) else { return nil }
            return entries[position].value
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Sets the value of `key`, keeping its position if present, appending it otherwise;
    /// returns the value it replaced.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        if let position = index(forKey: key) {
            let old = entries[position].value
            entries[position].value = value
            return old
        }
        entries.append(Member(key: key, value: value))
        if keyIndex != nil {
            keyIndex![ByteKey(key)] = entries.count - 1
        } else if entries.count > Self.indexThreshold {
            rebuildIndex()
        }
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = index(forKey: key) else { return nil }
        let removed = entries.remove(at: position).value
        if keyIndex != nil {
            if entries.count > Self.indexThreshold { rebuildIndex() } else { keyIndex = nil }
        }
        return removed
    }

    mutating func rebuildIndex() {
        var index = [ByteKey: Int](minimumCapacity: entries.count)
        for (position, entry) in entries.enumerated() { index[ByteKey(entry.key)] = position }
        keyIndex = index
    }
}

extension JSONObject: RandomAccessCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>
    public typealias SubSequence = Slice<JSONObject>
    public typealias Iterator = IndexingIterator<JSONObject>

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }

    /// The member at `position` (as found by `index(forKey:)`).
    public subscript(position: Int) -> Element {
        let member = entries[position]
        return (member.key, member.value)
    }
}

extension JSONObject: Hashable {
    /// Objects compare equal when they hold the same members in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        for (left, right) in zip(lhs.entries, rhs.entries) {
            guard utf8Equal(left.key, right.key), left.value == right.value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries.count)
        for entry in entries {
            hasher.combine(entry.key)
            hasher.combine(entry.value)
        }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

/// A dictionary key that hashes and compares a string by its UTF-8 bytes.
@usableFromInline
struct ByteKey: Hashable, Sendable {
    @usableFromInline let string: String

    @inlinable init(_ string: String) { self.string = string }

    @inlinable static func == (lhs: ByteKey, rhs: ByteKey) -> Bool { utf8Equal(lhs.string, rhs.string) }

    @inlinable func hash(into hasher: inout Hasher) {
        var string = string
        string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
