/// Collections for the writer thread's in-memory indexes that never pause it for long.
///
/// A Swift `Dictionary` or `Array` grows by copying everything at once. Measured with the
/// dedup index's shape: one insertion took 41 ms at 786k entries and 97 ms at 1.57M, and an
/// array of its entries 17 ms at 1.07M. On the writer thread such a pause holds every ingest
/// request waiting on the group commit; these collections bound it to a small slice.

/// A hash table keyed by well-mixed 64-bit hashes, in 64 shards that each grow on their own, so
/// that growing copies a sixty-fourth of the entries. Keys must be hashes already (their top
/// bits choose the shard).
struct ShardedTable<Value> {
    private var shards: [[UInt64: Value]] = Array(repeating: [:], count: 64)

    private static func shard(_ key: UInt64) -> Int { Int(truncatingIfNeeded: key >> 58) }

    subscript(key: UInt64) -> Value? {
        get { shards[Self.shard(key)][key] }
        // In place: changing a value (an array, say) through the subscript copies nothing.
        _modify { yield &shards[Self.shard(key)][key] }
    }
}

/// A first-in, first-out sequence stored in chunks of a fixed size: appending never copies
/// more than one chunk, and removing from the front frees whole chunks instead of moving
/// what remains.
struct ChunkedQueue<Element> {
    private static var chunkSize: Int { 4096 }

    private var chunks: [[Element]] = []
    /// Elements of the first chunk already removed.
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    var first: Element? { isEmpty ? nil : chunks[0][head] }

    mutating func append(_ element: Element) {
        // Not `if let last = chunks.last`: that binding would share the chunk's storage, and
        // the append would copy the whole chunk.
        if !chunks.isEmpty && chunks[chunks.count - 1].count < Self.chunkSize {
            chunks[chunks.count - 1].append(element)
        } else {
            var chunk: [Element] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunk.append(element)
            chunks.append(chunk)
        }
        count += 1
    }

    @discardableResult
    mutating func removeFirst() -> Element? {
        guard !isEmpty else { return nil }
        let element = chunks[0][head]
        head += 1
        count -= 1
        if head == chunks[0].count {
            // Only a full chunk, or the last one once emptied, is done with.
            chunks.removeFirst()
            head = 0
        }
        return element
    }

    @discardableResult
    mutating func removeLast() -> Element? {
        guard !isEmpty else { return nil }
        let element = chunks[chunks.count - 1].removeLast()
        count -= 1
        // A first chunk emptied down to `head` stays: appends go on from there.
        if chunks[chunks.count - 1].isEmpty {
            chunks.removeLast()
            if chunks.isEmpty { head = 0 }
        }
        return element
    }
}
