import Testing
@testable import EventStore

@Suite("Incremental collections")
struct IncrementalCollectionsTests {
    @Test func shardedTableStoresReplacesAndRemovesByKey() {
        var table = ShardedTable<[Int]>()
        let keys: [UInt64] = [0, 1, 1 << 58, UInt64.max, 0xDEAD_BEEF_0000_0001]
        for (position, key) in keys.enumerated() { table[key] = [position] }
        for (position, key) in keys.enumerated() { #expect(table[key] == [position]) }
        table[1]?.append(9)
        #expect(table[1] == [1, 9])
        table[UInt64.max] = nil
        #expect(table[UInt64.max] == nil)
        #expect(table[1 << 58] == [2], "a key in another shard is untouched")
        #expect(table[42] == nil)
    }

    /// Random appends and removals at both ends, across many chunk boundaries, against an array.
    @Test func chunkedQueueMatchesAnArray() {
        var queue = ChunkedQueue<Int>()
        var model: [Int] = []
        var state: UInt64 = 0xC0FFEE
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var value = 0
        for step in 0..<60_000 {
            // Mostly appends at first, then mostly removals, so that the queue grows over
            // several chunks and empties again.
            let appendWeight: UInt64 = step < 30_000 ? 7 : 3
            switch next() % 10 {
            case 0..<appendWeight:
                value += 1
                queue.append(value)
                model.append(value)
            case appendWeight..<(appendWeight + 2):
                let removed = queue.removeLast()
                #expect(removed == model.popLast(), "step \(step)")
            default:
                let removed = queue.removeFirst()
                #expect(removed == (model.isEmpty ? nil : model.removeFirst()), "step \(step)")
            }
            guard queue.count == model.count, queue.first == model.first else {
                Issue.record("step \(step): count \(queue.count) first \(String(describing: queue.first)); expected \(model.count) \(String(describing: model.first))")
                return
            }
        }
        while let first = queue.removeFirst() { #expect(first == model.removeFirst()) }
        #expect(model.isEmpty && queue.isEmpty && queue.removeLast() == nil)
    }
}
