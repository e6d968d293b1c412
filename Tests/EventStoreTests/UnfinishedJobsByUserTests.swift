import Testing
@testable import EventStore

@Suite("UnfinishedJobsByUser")
struct UnfinishedJobsByUserTests {
    @Test func keepsEachUsersJobsAscendingWhateverTheInsertionOrder() {
        var index = UnfinishedJobsByUser()
        for id: JobID in [5, 1, 9, 3, 7] { index.insert(id, user: 1) }
        index.insert(2, user: 2)
        #expect(Array(index.jobs(ofUser: 1)) == [1, 3, 5, 7, 9])
        #expect(Array(index.jobs(ofUser: 2)) == [2])
        #expect(index.jobs(ofUser: 3).isEmpty)
        #expect(index.count == 6)
    }

    @Test func insertingAQueuedJobAgainChangesNothing() {
        var index = UnfinishedJobsByUser()
        index.insert(4, user: 1)
        index.insert(4, user: 1)
        index.insert(6, user: 1)
        index.insert(4, user: 1)
        #expect(Array(index.jobs(ofUser: 1)) == [4, 6])
        #expect(index.count == 2)
        // Nothing journalled for the no-ops: rolling back the last change removes 6 alone.
        index.rollBack(to: 1)
        #expect(Array(index.jobs(ofUser: 1)) == [4])
    }

    @Test func removingFromTheFrontMiddleAndBackAndUnknownJobs() {
        var index = UnfinishedJobsByUser()
        for id: JobID in 1...40 { index.insert(id, user: 8) }
        index.remove(1, user: 8)
        index.remove(20, user: 8)
        index.remove(40, user: 8)
        index.remove(99, user: 8)
        index.remove(2, user: 9)
        #expect(Array(index.jobs(ofUser: 8)) == Array(2...19) + Array(21...39))
        #expect(index.count == 37)
        // A job going back in front of the head (a replay) lands in order.
        index.insert(1, user: 8)
        #expect(index.jobs(ofUser: 8).first == 1)
        for id in Array(index.jobs(ofUser: 8)) { index.remove(id, user: 8) }
        #expect(index.jobs(ofUser: 8).isEmpty && index.count == 0)
    }

    @Test func rollBackUndoesInsertionsAndRemovalsAfterTheMark() {
        var index = UnfinishedJobsByUser()
        index.insert(1, user: 1)
        index.insert(2, user: 1)
        index.insert(3, user: 2)
        index.forgetJournal()
        let mark = index.journalMark
        index.remove(1, user: 1)
        index.remove(3, user: 2)
        index.insert(4, user: 1)
        index.insert(5, user: 3)
        index.rollBack(to: mark)
        #expect(Array(index.jobs(ofUser: 1)) == [1, 2])
        #expect(Array(index.jobs(ofUser: 2)) == [3])
        #expect(index.jobs(ofUser: 3).isEmpty)
        #expect(index.count == 3)
    }

    @Test func forgottenChangesSurviveALaterRollBack() {
        var index = UnfinishedJobsByUser()
        index.insert(1, user: 1)
        index.forgetJournal()
        index.remove(1, user: 1)
        index.forgetJournal()
        index.insert(2, user: 1)
        index.rollBack(to: 0)
        #expect(index.jobs(ofUser: 1).isEmpty && index.count == 0)
    }

    @Test func buildingFromUnorderedJobsSortsThemAndJournalsNothing() {
        var index = UnfinishedJobsByUser(jobs: [(9, 1), (3, 1), (5, 2), (1, 1)])
        #expect(Array(index.jobs(ofUser: 1)) == [1, 3, 9])
        #expect(Array(index.jobs(ofUser: 2)) == [5])
        index.rollBack(to: 0)
        #expect(index.count == 4, "the built index is the committed state")
    }

    /// Random operations and nested roll-backs against a plain model.
    @Test func matchesAModelUnderRandomOperations() {
        var state: UInt64 = 0x5eed
        // A seeded linear congruential generator (high bits), so that a failure replays exactly.
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var index = UnfinishedJobsByUser()
        var model: [UInt64: Set<JobID>] = [:]
        var committed: [UInt64: Set<JobID>] = [:]
        var savepoints: [(mark: Int, model: [UInt64: Set<JobID>])] = []
        for step in 0..<5_000 {
            let user = next() % 5
            let id = JobID(next() % 200)
            switch next() % 10 {
            case 0..<5:
                index.insert(id, user: user)
                model[user, default: []].insert(id)
            case 5..<9:
                index.remove(id, user: user)
                model[user]?.remove(id)
            default:
                // A transaction commits or rolls back; a savepoint starts or rolls back.
                switch next() % 4 {
                case 0:
                    index.forgetJournal()
                    committed = model
                    savepoints.removeAll()
                case 1:
                    index.rollBack(to: 0)
                    model = committed
                    savepoints.removeAll()
                case 2:
                    savepoints.append((index.journalMark, model))
                default:
                    guard let (mark, saved) = savepoints.popLast() else { break }
                    index.rollBack(to: mark)
                    model = saved
                }
            }
            for user: UInt64 in 0..<5 {
                let expected = (model[user] ?? []).sorted()
                guard Array(index.jobs(ofUser: user)) == expected else {
                    Issue.record("step \(step): user \(user) has \(Array(index.jobs(ofUser: user))), expected \(expected)")
                    return
                }
            }
            guard index.count == model.values.reduce(0, { $0 + $1.count }) else {
                Issue.record("step \(step): count \(index.count) disagrees with the model")
                return
            }
        }
    }

    @Test func userHashesDependOnTheBytesNotOnUnicodeEquivalence() {
        // "é" precomposed and decomposed: equal Swift strings, but two Adobe profiles.
        #expect(UnfinishedJobsByUser.hash(userID: "caf\u{E9}") != UnfinishedJobsByUser.hash(userID: "cafe\u{301}"))
        #expect(UnfinishedJobsByUser.hash(userID: "user-1") == UnfinishedJobsByUser.hash(userID: "user-1"))
    }
}
