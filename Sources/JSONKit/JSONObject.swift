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
/// `@unchecked Sendable` because its storage is a `ManagedBufferPointer`, which the standard
/// library marks non-Sendable; the storage is never mutated once shared (every mutation copies it
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
        /// The first member, in the same allocation as this header. Kept here so that reading
        /// members needs no `withUnsafeMutablePointers` call, whose closure and lifetime fence
        /// made every key lookup retain and release the buffer. Valid as long as the storage is.
        @usableFromInline let members: UnsafeMutablePointer<Member>
        /// Key to position, kept only while `count > indexThreshold`.
        @usableFromInline var keyIndex: [ByteKey: Int]?

        @inlinable init(capacity: Int, members: UnsafeMutablePointer<Member>) {
            self.count = 0
            self.capacity = capacity
            self.members = members
            self.keyIndex = nil
        }
    }

    /// The members in one allocation, header and all: an object costs one allocation to build
    /// and one to free, and freeing destroys its members in specialised code rather than through
    /// the runtime's generic per-element walk of an `Array`.
    @usableFromInline
    final class Storage: ManagedBuffer<Header, Member> {
        @inlinable
        static func allocate(capacity: Int) -> Reference {
            let buffer = Storage.create(minimumCapacity: capacity) { buffer in
                Header(capacity: capacity, members: buffer.withUnsafeMutablePointerToElements { $0 })
            }
            return Reference(unsafeBufferObject: buffer)
        }

        deinit {
            // Member by member: `deinitialize(count:)` hands the whole run to the runtime's
            // generic `swift_arrayDestroy`, which destroys through value witnesses. The header
            // through its pointer: the stored `header` property costs exclusivity checks.
            withUnsafeMutablePointerToHeader { header in
                let members = header.pointee.members
                for offset in 0..<header.pointee.count { _ = (members + offset).move() }
            }
        }
    }

    /// The storage is held through a `ManagedBufferPointer` rather than as a `Storage`
    /// reference: its `header` is reached through an addressor, where the class's stored
    /// `header` property costs a dynamic exclusivity check (`swift_beginAccess`) on every read.
    @usableFromInline typealias Reference = ManagedBufferPointer<Header, Member>

    /// `nil` for an object that never held a member.
    @usableFromInline var storage: Reference?

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
    /// must initialise in order at the pointer it is given.
    @inline(__always)
    init(uniqueCount count: Int, initialize: (UnsafeMutablePointer<Member>) -> Void) {
        var storage = Storage.allocate(capacity: count)
        initialize(storage.header.members)
        storage.header.count = count
        if count > Self.indexThreshold { Self.rebuildIndex(&storage.header) }
        self.storage = storage
    }

    @inlinable
    public var count: Int { storage?.header.count ?? 0 }
    @inlinable
    public var isEmpty: Bool { count == 0 }
    /// The keys in member order.
    public var keys: [String] { withMembers { $0.map(\.key) } }
    /// The values in member order.
    public var values: [JSONValue] { withMembers { $0.map(\.value) } }
    /// The members in order.
    public var elements: [Element] { withMembers { $0.map { ($0.key, $0.value) } } }

    /// The members in order, valid while this object (or a copy sharing its storage) is.
    @inlinable
    var members: UnsafeBufferPointer<Member> {
        guard let storage else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: storage.header.members, count: storage.header.count)
    }

    /// Calls `body` with the members in order, without copying (retaining) them.
    @inlinable
    func withMembers<Result>(_ body: (UnsafeBufferPointer<Member>) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(members) }
    }

    /// The position of `key` among the members, usable with `self[position]`.
    @inlinable
    public func index(forKey key: String) -> Int? {
        // No closures and no lifetime fences: `self` keeps the storage alive for the call.
        guard let storage else { return nil }
        if storage.header.keyIndex != nil { return storage.header.keyIndex![ByteKey(key)] }
        let members = storage.header.members
        // `utf8Equal` rejects most members without touching their bytes.
        for position in 0..<storage.header.count where utf8Equal(members[position].key, key) {
            return position
        }
        return nil
    }

    @inlinable
    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = index(forKey: key) else { return nil }
            return storage.unsafelyUnwrapped.header.members[position].value
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
            let members = uniqueStorage(minimumCapacity: count).header.members
            let old = members[position].value
            members[position].value = value
            return old
        }
        var target = uniqueStorage(minimumCapacity: count + 1)
        let position = target.header.count
        (target.header.members + position).initialize(to: Member(key: key, value: value))
        target.header.count = position + 1
        if target.header.keyIndex != nil {
            target.header.keyIndex![ByteKey(key)] = position
        } else if position + 1 > Self.indexThreshold {
            Self.rebuildIndex(&target.header)
        }
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = index(forKey: key) else { return nil }
        var target = uniqueStorage(minimumCapacity: count)
        let members = target.header.members
        let removed = (members + position).move()
        let remaining = target.header.count - 1
        (members + position).moveInitialize(from: members + position + 1, count: remaining - position)
        target.header.count = remaining
        if target.header.keyIndex != nil {
            if remaining > Self.indexThreshold {
                Self.rebuildIndex(&target.header)
            } else {
                target.header.keyIndex = nil
            }
        }
        return removed.value
    }

    /// Storage that only this value refers to, with room for `minimumCapacity` members: the
    /// current one if it qualifies, otherwise a copy (shared storage) or a larger move.
    @usableFromInline
    mutating func uniqueStorage(minimumCapacity: Int) -> Reference {
        let isUnique = storage?.isUniqueReference() ?? false
        if isUnique, let current = storage, current.header.capacity >= minimumCapacity { return current }
        let count = self.count
        let capacity = Swift.max(minimumCapacity, storage?.header.capacity ?? 0, count * 2, 4)
        var replacement = Storage.allocate(capacity: capacity)
        if var current = storage {
            if isUnique {
                replacement.header.members.moveInitialize(from: current.header.members, count: count)
                current.header.count = 0
                replacement.header.keyIndex = current.header.keyIndex.take()
            } else {
                replacement.header.members.initialize(from: current.header.members, count: count)
                replacement.header.keyIndex = current.header.keyIndex
            }
            replacement.header.count = count
        }
        storage = replacement
        return replacement
    }

    static func rebuildIndex(_ header: inout Header) {
        let count = header.count
        var index = [ByteKey: Int](minimumCapacity: count)
        for position in 0..<count { index[ByteKey(header.members[position].key)] = position }
        header.keyIndex = index
    }
}

extension JSONObject: RandomAccessCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>
    public typealias SubSequence = Slice<JSONObject>
    public typealias Iterator = IndexingIterator<JSONObject>

    @inlinable
    public var startIndex: Int { 0 }
    @inlinable
    public var endIndex: Int { count }

    /// The member at `position` (as found by `index(forKey:)`).
    @inlinable
    public subscript(position: Int) -> Element {
        let count = self.count
        precondition(position >= 0 && position < count, "JSONObject position \(position) is out of range 0..<\(count)")
        let member = storage.unsafelyUnwrapped.header.members + position
        return (member.pointee.key, member.pointee.value)
    }
}

extension JSONObject: Hashable {
    /// Objects compare equal when they hold the same members in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        if lhs.storage == rhs.storage { return true }
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
