import Testing
@testable import EventStore

@Suite("AdobeCallBuffer")
struct AdobeCallBufferTests {
    struct WriteFailed: Error {}

    @Test func countsWaitingAndFlushingCallsFromAMinuteOn() {
        let buffer = AdobeCallBuffer()
        #expect(buffer.add(2, minute: 10) == true, "the first call wakes the writer")
        #expect(buffer.add(3, minute: 11) == false)
        #expect(buffer.beginFlush() == [10: 2, 11: 3])
        #expect(buffer.add(4, minute: 11) == true)
        #expect(buffer.count(since: 11) == 7)
        #expect(buffer.count(since: 10) == 9)
        buffer.finishFlush(committed: true)
        #expect(buffer.count(since: 0) == 4)
    }

    /// Two writers share the buffer on PostgreSQL. One that did not start the flush must not be
    /// able to end it: that used to drop calls still being written, or count committed ones twice.
    @Test func onlyOneFlushAtATime() {
        let buffer = AdobeCallBuffer()
        _ = buffer.add(1, minute: 5)
        let first = buffer.beginFlush()
        _ = buffer.add(1, minute: 6)
        #expect(first == [5: 1])
        #expect(buffer.beginFlush() == nil, "a second flush while the first is being written")
        buffer.finishFlush(committed: false)
        #expect(buffer.beginFlush() == [5: 1, 6: 1], "the failed flush's calls wait again, beside the new one")
        buffer.finishFlush(committed: true)
        #expect(buffer.isEmpty && buffer.count(since: 0) == 0)
    }

    @Test func aFailedFlushKeepsTheCallsForTheNextOne() throws {
        let buffer = AdobeCallBuffer()
        _ = buffer.add(7, minute: 1)
        #expect(throws: WriteFailed.self) { try buffer.flush { _ in throw WriteFailed() } }
        #expect(buffer.count(since: 0) == 7)
        var written: [Int64: Int] = [:]
        try buffer.flush { written = $0 }
        #expect(written == [1: 7])
        #expect(buffer.isEmpty && buffer.beginFlush() == nil)
    }
}
