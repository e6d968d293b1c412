import EventStore
import JSONKit

/// Puts ingest submissions into the durable `EventStore`: one `append` per request, valid and
/// rejected events together in request order, so the answer waits for one group commit.
public struct EventStoreSink: IngestEventSink {
    private let eventStore: any EventStore

    public init(store: any EventStore) {
        eventStore = store
    }

    public func store(
        _ submission: IngestSubmission,
        completion: @escaping @Sendable (Result<[IngestEventReceipt], IngestStoreError>) -> Void
    ) {
        let (incoming, eventPositions) = Self.incomingEvents(for: submission)
        // Only the count is kept: the events themselves are freed here, on the caller's thread,
        // not on the store's writer thread that runs the completion.
        let expectedCount = incoming.count
        eventStore.append(incoming) { result in
            switch result {
            case .success(let receipt):
                guard receipt.events.count == expectedCount else {
                    completion(.failure(.failed(
                        reason: "the store answered \(receipt.events.count) receipts for \(expectedCount) events")))
                    return
                }
                completion(.success(eventPositions.map { position in
                    switch receipt.events[position].status {
                    case .accepted: return .stored
                    case .duplicate: return .duplicate
                    case .rejected: return .refused("the store refused the event; send it again as a valid Segment event")
                    }
                }))
            case .failure(.capacityExceeded(let reason, let retryAfterSeconds)):
                completion(.failure(.atCapacity(reason: reason, retryAfterSeconds: retryAfterSeconds)))
            case .failure(let error):
                completion(.failure(.failed(reason: error.description)))
            }
        }
    }

    /// The store's events in request order, and where each valid event of the submission sits.
    static func incomingEvents(for submission: IngestSubmission) -> ([IncomingEvent], [Int]) {
        var incoming: [IncomingEvent] = []
        incoming.reserveCapacity(submission.events.count + submission.rejections.count)
        var positions: [Int] = []
        positions.reserveCapacity(submission.events.count)
        var rejections = submission.rejections.makeIterator()
        var nextRejection = rejections.next()

        func appendRejectionsBefore(_ index: Int) {
            while let rejection = nextRejection, rejection.index < index {
                incoming.append(.rejected(
                    messageId: rejection.messageId, body: JSONSerializer.serialize(rejection.value),
                    reason: rejection.error))
                nextRejection = rejections.next()
            }
        }

        for planned in submission.events {
            appendRejectionsBefore(planned.event.index)
            positions.append(incoming.count)
            var jobs: [JobSpec] = planned.plan.deliveries.map {
                .delivery(mappingID: $0.mappingID, userID: $0.userID, payload: .object($0.traits))
            }
            jobs += planned.plan.failures.map {
                .mappingError(mappingID: $0.mappingID, userID: nil, message: $0.reason)
            }
            incoming.append(.accepted(messageId: planned.event.messageId, body: planned.event.json, jobs: jobs))
        }
        appendRejectionsBefore(Int.max)
        return (incoming, positions)
    }
}
