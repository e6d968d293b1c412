/// The messageIds accepted within the dedup window, in memory, owned by the writer thread.
///
/// The durable truth is the events table (every accepted event with its messageId and time);
/// this index is rebuilt from it at start. Keeping it out of SQLite matters for throughput:
/// messageIds are random, and a B-tree keyed by them costs about one page write per event once
/// it outgrows a commit group. Entries hold a hash of the messageId and the sequence of the
/// accepting event; a hash hit is confirmed against the stored event, so a collision can never
/// turn a new event into a duplicate. Memory: about 51 bytes per messageId in the window (measured).
struct DedupIndex {
    private struct Entry {
        var acceptedAt: Int64
        var hash: UInt64
        var sequence: Int64
    }

    // Incremental collections: the index reaches millions of entries, and a Dictionary's
    // growth would hold the writer for tens of milliseconds.
    private var sequences = ShardedTable<Int64>()
    /// Further sequences for a hash already in `sequences` (distinct messageIds, same hash).
    private var collisions: [UInt64: [Int64]] = [:]
    /// Acceptance order, for expiry from the front.
    private var order = ChunkedQueue<Entry>()

    var count: Int { order.count }

    static func hash(_ messageId: String) -> UInt64 {
        UInt64(bitPattern: Int64(messageId.hashValue))
    }

    /// Sequences of accepted events whose messageId may be `hash`'s.
    func candidates(for hash: UInt64) -> [Int64] {
        guard let first = sequences[hash] else { return [] }
        return [first] + (collisions[hash] ?? [])
    }

    mutating func insert(hash: UInt64, sequence: Int64, acceptedAt: Int64) {
        if sequences[hash] == nil {
            sequences[hash] = sequence
        } else {
            collisions[hash, default: []].append(sequence)
        }
        order.append(Entry(acceptedAt: acceptedAt, hash: hash, sequence: sequence))
    }

    /// Forgets messageIds accepted before `cutoff`: later events with them are new again.
    mutating func expire(before cutoff: Int64) {
        while let oldest = order.first, oldest.acceptedAt < cutoff {
            remove(oldest)
            order.removeFirst()
        }
    }

    /// Undoes the last `count` insertions (their transaction rolled back).
    mutating func removeLast(_ count: Int) {
        for _ in 0..<count {
            guard let entry = order.removeLast() else { return }
            remove(entry)
        }
    }

    private mutating func remove(_ entry: Entry) {
        if sequences[entry.hash] == entry.sequence {
            if var others = collisions[entry.hash], !others.isEmpty {
                sequences[entry.hash] = others.removeFirst()
                collisions[entry.hash] = others.isEmpty ? nil : others
            } else {
                sequences[entry.hash] = nil
            }
        } else if var others = collisions[entry.hash], let index = others.firstIndex(of: entry.sequence) {
            others.remove(at: index)
            collisions[entry.hash] = others.isEmpty ? nil : others
        }
    }
}
