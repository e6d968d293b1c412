import Testing
@testable import EventStore

@Suite("DedupIndex")
struct DedupIndexTests {
    @Test func collidingHashesKeepEverySequenceUntilEachExpires() {
        var index = DedupIndex()
        index.insert(hash: 7, sequence: 1, acceptedAt: 100)
        index.insert(hash: 7, sequence: 2, acceptedAt: 200)
        index.insert(hash: 9, sequence: 3, acceptedAt: 300)
        #expect(index.candidates(for: 7) == [1, 2])
        index.expire(before: 150)
        #expect(index.candidates(for: 7) == [2])
        #expect(index.candidates(for: 9) == [3])
        index.expire(before: 301)
        #expect(index.candidates(for: 7).isEmpty && index.candidates(for: 9).isEmpty && index.count == 0)
    }

    @Test func removeLastUndoesAGroupThatRolledBack() {
        var index = DedupIndex()
        index.insert(hash: 1, sequence: 1, acceptedAt: 10)
        index.insert(hash: 1, sequence: 2, acceptedAt: 11)
        index.insert(hash: 5, sequence: 3, acceptedAt: 12)
        index.removeLast(2)
        #expect(index.candidates(for: 1) == [1])
        #expect(index.candidates(for: 5).isEmpty)
        #expect(index.count == 1)
    }

    @Test func expiryCompactsLongRuns() {
        var index = DedupIndex()
        for sequence in 0..<10_000 { index.insert(hash: UInt64(sequence), sequence: Int64(sequence), acceptedAt: Int64(sequence)) }
        index.expire(before: 9_000)
        #expect(index.count == 1_000)
        #expect(index.candidates(for: 8_999).isEmpty && index.candidates(for: 9_000) == [9_000])
    }
}
