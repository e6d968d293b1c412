/// An insertion-ordered string-keyed map: the object model of JavaScript.
///
/// Setting an existing key keeps its position (as assigning to a JS object property does);
/// removing a key and setting it again moves it to the end. Keys are compared by their UTF-8
/// bytes, as JavaScript compares property names.
///
/// Lookups scan the members linearly while the object is small (Segment events have a handful
/// of keys per object, where a scan beats hashing); once an object grows past
/// `JSONObject.indexThreshold` members it keeps a hash index as well.
///
/// `@unchecked Sendable` because its storage is a `ManagedBuffer`, which the standard library
/// marks non-Sendable; the storage is never mutated once shared (every mutation copies it
/// first unless this value holds the only reference), which is what makes sharing safe.
public struct JSONObject: @unchecked Sendable {
    public typealias Element = (key: String, value: JSONValue)

    /// Objects with more members than this keep a hash index from key to position.
    public static let indexThreshold = 16

    /// A member as stored: a struct rather than the `Element` tuple, because buffers of tuples
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

    @usableFromInline
    struct Header {
        @usableFromInline var count: Int
        @usableFromInline var capacity: Int
        /// Key to position, kept only while `count > indexThreshold`.
        @usableFromInline var keyIndex: [ByteKey: Int]?

        @inlinable init(count: Int, capacity: Int, keyIndex: [ByteKey: Int]?) {
            self.count = count
            self.capacity = capacity
            self.keyIndex = keyIndex
        }
    }

    /// The members in one allocation, header and all: an object costs one allocation to build
    /// and one to free, and freeing destroys its members in specialised code rather than through
    /// the runtime's generic per-element walk of an `Array`.
    @usableFromInline
    final class Storage: ManagedBuffer<Header, Member> {
        @inlinable
        static func allocate(capacity: Int) -> Storage {
            let buffer = Storage.create(minimumCapacity: capacity) { _ in
                Header(count: 0, capacity: capacity, keyIndex: nil)
            }
            return unsafeDowncast(buffer, to: Storage.self)
        }

        deinit {
            withUnsafeMutablePointers { header, members in
                for offset in 0..<header.pointee.count { _ = (members + offset).move() }
            }
        }
    }

    /// `nil` for an object that never held a member.
    @usableFromInline var storage: Storage?

    public init() {
        storage = nil
    }

    /// Builds an object from pairs; a repeated key keeps its first position and its last value,
    /// as `JSON.parse` does.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        self.init()
        let expected = pairs.underestimatedCount
        if expected > 0 { _ = uniqueStorage(minimumCapacity: expected) }
        for (key, value) in pairs { self[key] = value }
    }

    /// Adopts `count` members with distinct keys (the parser checks that), which `initialize`
    /// must initialise in order.
    @inline(__always)
    init(uniqueCount count: Int, initialize: (UnsafeMutablePointer<Member>) -> Void) {
        let storage = Storage.allocate(capacity: count)
        storage.withUnsafeMutablePointers { header, members in
            initialize(members)
            header.pointee.count = count
            if count > Self.indexThreshold { Self.rebuildIndex(header, members) }
        }
        self.storage = storage
    }

    public var count: Int { storage?.header.count ?? 0 }
    public var isEmpty: Bool { count == 0 }
    /// The keys in member order.
    public var keys: [String] { withMembers { $0.map(\.key) } }
    /// The values in member order.
    public var values: [JSONValue] { withMembers { $0.map(\.value) } }
    /// The members in order.
    public var elements: [Element] { withMembers { $0.map { ($0.key, $0.value) } } }

    /// Calls `body` with the members in order, without copying (retaining) them.
    @inlinable
    func withMembers<Result>(_ body: (UnsafeBufferPointer<Member>) throws -> Result) rethrows -> Result {
        guard let storage else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        return try storage.withUnsafeMutablePointers { header, members in
            try body(UnsafeBufferPointer(start: members, count: header.pointee.count))
        }
    }

    /// The position of `key` among the members, usable with `self[position]`.
    @inlinable
    public func index(forKey key: String) -> Int? {
        guard let storage else { return nil }
        return storage.withUnsafeMutablePointers { header, members in
            if header.pointee.keyIndex != nil { return header.pointee.keyIndex![ByteKey(key)] }
            // `utf8Equal` rejects most members without touching their bytes.
            for position in 0..<header.pointee.count where utf8Equal(members[position].key, key) {
                return position
            }
            return nil
        }
    }

    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = index(forKey: key) else { return nil }
            return withMembers { $0[position].value }
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
            let target = uniqueStorage(minimumCapacity: count)
            return target.withUnsafeMutablePointerToElements { members in
                let old = members[position].value
                members[position].value = value
                return old
            }
        }
        let target = uniqueStorage(minimumCapacity: count + 1)
        target.withUnsafeMutablePointers { header, members in
            let position = header.pointee.count
            (members + position).initialize(to: Member(key: key, value: value))
            header.pointee.count = position + 1
            if header.pointee.keyIndex != nil {
                header.pointee.keyIndex![ByteKey(key)] = position
            } else if position + 1 > Self.indexThreshold {
                Self.rebuildIndex(header, members)
            }
        }
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = index(forKey: key) else { return nil }
        let target = uniqueStorage(minimumCapacity: count)
        return target.withUnsafeMutablePointers { header, members in
            let removed = (members + position).move()
            let remaining = header.pointee.count - 1
            (members + position).moveInitialize(from: members + position + 1, count: remaining - position)
            header.pointee.count = remaining
            if header.pointee.keyIndex != nil {
                if remaining > Self.indexThreshold {
                    Self.rebuildIndex(header, members)
                } else {
                    header.pointee.keyIndex = nil
                }
            }
            return removed.value
        }
    }

    /// Storage that only this value refers to, with room for `minimumCapacity` members: the
    /// current one if it qualifies, otherwise a copy (shared storage) or a larger move.
    @usableFromInline
    mutating func uniqueStorage(minimumCapacity: Int) -> Storage {
        let isUnique = isKnownUniquelyReferenced(&storage)
        if isUnique, let current = storage, current.header.capacity >= minimumCapacity { return current }
        let count = self.count
        let capacity = Swift.max(minimumCapacity, storage?.header.capacity ?? 0, count * 2, 4)
        let replacement = Storage.allocate(capacity: capacity)
        if let current = storage {
            current.withUnsafeMutablePointers { header, members in
                replacement.withUnsafeMutablePointers { newHeader, newMembers in
                    if isUnique {
                        newMembers.moveInitialize(from: members, count: count)
                        header.pointee.count = 0
                        newHeader.pointee.keyIndex = header.pointee.keyIndex.take()
                    } else {
                        newMembers.initialize(from: members, count: count)
                        newHeader.pointee.keyIndex = header.pointee.keyIndex
                    }
                    newHeader.pointee.count = count
                }
            }
        }
        storage = replacement
        return replacement
    }

    static func rebuildIndex(_ header: UnsafeMutablePointer<Header>, _ members: UnsafeMutablePointer<Member>) {
        let count = header.pointee.count
        var index = [ByteKey: Int](minimumCapacity: count)
        for position in 0..<count { index[ByteKey(members[position].key)] = position }
        header.pointee.keyIndex = index
    }
}

extension JSONObject: RandomAccessCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>
    public typealias SubSequence = Slice<JSONObject>
    public typealias Iterator = IndexingIterator<JSONObject>

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The member at `position` (as found by `index(forKey:)`).
    public subscript(position: Int) -> Element {
        withMembers { members in
            precondition(position >= 0 && position < members.count, "JSONObject position \(position) is out of range 0..<\(members.count)")
            return (members[position].key, members[position].value)
        }
    }
}

extension JSONObject: Hashable {
    /// Objects compare equal when they hold the same members in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        if lhs.storage === rhs.storage { return true }
        return lhs.withMembers { left in
            rhs.withMembers { right in
                guard left.count == right.count else { return false }
                for position in left.indices {
                    guard utf8Equal(left[position].key, right[position].key), left[position].value == right[position].value
                    else { return false }
                }
                return true
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        withMembers { members in
            hasher.combine(members.count)
            for member in members {
                hasher.combine(member.key)
                hasher.combine(member.value)
            }
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
