import JSONKit

/// An event that passed validation, normalised and ready to store.
public struct IngestEvent: Sendable, Equatable {
    /// Position in the request.
    public var index: Int
    /// The event's own `messageId`, or one derived from its bytes (see `EventValidator`).
    public var messageId: String
    public var type: SegmentCallType
    /// `userId` / `anonymousId` as strings (numbers coerced as JavaScript prints them).
    public var userId: String?
    public var anonymousId: String?
    /// The event as stored and mapped: with its `messageId` and `type`, ids as strings, the
    /// batch's shared fields applied, and any `writeKey` removed (a secret).
    public var event: JSONObject
    /// `event` serialised compactly (`JSON.stringify`).
    public var json: [UInt8]
}

/// An element of a request refused on its own; the rest of the request goes on.
/// Why an event was rejected, as a bounded label for metrics (`segment_ingest_rejected_total`).
public enum RejectionReason: String, Sendable, Equatable, CaseIterable {
    case notAnObject = "not_an_object"
    case tooLarge = "too_large"
    case invalidType = "invalid_type"
    case missingField = "missing_field"
    case invalidField = "invalid_field"
    case batchOverflow = "batch_overflow"
    case storeRefused = "store_refused"
}

public struct EventRejection: Sendable, Equatable, Error {
    public var index: Int
    public var messageId: String
    /// What is wrong and what to send instead.
    public var error: String
    /// The element as received (minus any `writeKey`), so the rejection can be recorded.
    public var value: JSONValue
    public var reason: RejectionReason

    public init(index: Int, messageId: String, error: String, value: JSONValue, reason: RejectionReason = .invalidField) {
        self.index = index
        self.messageId = messageId
        self.error = error
        self.value = value
        self.reason = reason
    }
}

/// Checks one event against Segment's spec and normalises it.
///
/// Rules (Segment's Tracking API): a known `type`; a `userId` or `anonymousId` on every call
/// (strings; numbers are coerced to strings as Segment's pipeline does); `event` on track;
/// `groupId` on group; `previousId` and `userId` on alias; at most `maxEventBytes` bytes.
///
/// An event without a `messageId` gets `"atd-" + hex(SHA-256(compact JSON of the event as
/// received))`: a retry of the same body derives the same id and is deduplicated. The cost is
/// that two byte-identical events without ids (and without differing timestamps) count as one.
public struct EventValidator: Sendable {
    public static let derivedMessageIdPrefix = "atd-"

    public var maxEventBytes: Int

    public init(maxEventBytes: Int) {
        self.maxEventBytes = maxEventBytes
    }

    public func validate(
        _ candidate: IncomingEventCandidate, route: IngestRoute, shared: SharedBatchFields = SharedBatchFields()
    ) -> Result<IngestEvent, EventRejection> {
        let index = candidate.index
        guard case .object(var object) = candidate.value else {
            return .failure(EventRejection(
                index: index, messageId: Self.derivedMessageId(JSONSerializer.serialize(candidate.value)),
                error: "element \(index) is \(IngestRequestDecoder.describe(candidate.value)), not an event; send each event as a JSON object with a 'type'",
                value: candidate.value, reason: .notAnObject))
        }
        // A write key is a secret: it is not stored, shown in dead letters or sent anywhere.
        let hadWriteKey = object.removeValue(forKey: "writeKey") != nil
        // The request's own bytes, when they are the canonical compact form already, spare
        // serialising the event (the costliest step of validation, per callgrind).
        let received = !hadWriteKey && candidate.compactJSON != nil
            ? Array(candidate.compactJSON!) : JSONSerializer.serialize(.object(object))
        var modified = hadWriteKey

        var messageId: String
        switch object["messageId"] {
        case .string(let text) where !text.isEmpty:
            messageId = text
        case .number(let number) where number.isFinite:
            messageId = JSNumberFormatter.string(from: number)
            object["messageId"] = .string(messageId)
            modified = true
        case nil, .null?, .string?:
            messageId = Self.derivedMessageId(received)
            object["messageId"] = .string(messageId)
            modified = true
        case let other?:
            return reject(index, Self.derivedMessageId(received),
                "'messageId' is \(IngestRequestDecoder.describe(other)); send a unique string per event or leave it out",
                object)
        }

        func rejection(_ error: String, _ reason: RejectionReason = .invalidField) -> Result<IngestEvent, EventRejection> {
            reject(index, messageId, error, object, reason)
        }

        if received.count > maxEventBytes {
            return rejection(
                "the event is \(received.count) bytes as compact JSON, over the limit of \(maxEventBytes) bytes per event; send fewer or smaller properties or traits",
                .tooLarge)
        }

        let type: SegmentCallType
        if case .trackingCall(let routeType) = route {
            // Segment's single-call endpoints take the type from the path, whatever the body says.
            type = routeType
            if object["type"] != .string(routeType.rawValue) {
                object["type"] = .string(routeType.rawValue)
                modified = true
            }
        } else {
            switch object["type"] {
            case .string(let text)?:
                guard let known = SegmentCallType(rawValue: text) else {
                    return rejection(
                        "'type' is \"\(String(text.prefix(64)))\", which is not a Segment call type; send one of \(SegmentCallType.listForMessages)", .invalidType)
                }
                type = known
            case nil, .null?:
                return rejection("the event has no 'type'; send one of \(SegmentCallType.listForMessages)", .invalidType)
            case let other?:
                return rejection(
                    "'type' is \(IngestRequestDecoder.describe(other)); send one of \(SegmentCallType.listForMessages) as a string", .invalidType)
            }
        }

        // Four named fields rather than a dictionary: this runs for every event.
        var identifiers = Identifiers()
        for field in Identifiers.Field.allCases {
            switch Self.identifier(object[field.rawValue]) {
            case .absent: break
            case .string(let text): identifiers[field] = text
            case .coerced(let text):
                identifiers[field] = text
                object[field.rawValue] = .string(text)
                modified = true
            case .invalid(let kind):
                return rejection("'\(field.rawValue)' is \(kind); send it as a non-empty string")
            }
        }

        switch type {
        case .alias:
            if identifiers.previousId == nil || identifiers.userId == nil {
                return rejection(
                    "an alias call needs both 'previousId' (the old id) and 'userId' (the new one) as non-empty strings; send both", .missingField)
            }
        default:
            if identifiers.userId == nil && identifiers.anonymousId == nil {
                return rejection(
                    "a \(type.rawValue) call needs a 'userId' or an 'anonymousId' (a non-empty string); send at least one", .missingField)
            }
        }
        if type == .track {
            guard case .string(let name)? = object["event"], !name.isEmpty else {
                return rejection(
                    "a track call needs 'event', the name of the action as a non-empty string (for example \"Order Completed\"); send it", .missingField)
            }
        }
        if type == .group, identifiers.groupId == nil {
            return rejection("a group call needs 'groupId' as a non-empty string; send the id of the group", .missingField)
        }

        if !shared.isEmpty {
            modified = Self.apply(shared, to: &object) || modified
        }
        let json = modified ? JSONSerializer.serialize(.object(object)) : received
        return .success(IngestEvent(
            index: index, messageId: messageId, type: type, userId: identifiers.userId,
            anonymousId: identifiers.anonymousId, event: object, json: json))
    }

    public static func derivedMessageId(_ compactJSON: [UInt8]) -> String {
        derivedMessageIdPrefix + SegmentCrypto.hex(SegmentCrypto.sha256(compactJSON))
    }

    private func reject(
        _ index: Int, _ messageId: String, _ error: String, _ object: JSONObject, _ reason: RejectionReason = .invalidField
    ) -> Result<IngestEvent, EventRejection> {
        .failure(EventRejection(index: index, messageId: messageId, error: error, value: .object(object), reason: reason))
    }


    private struct Identifiers {
        enum Field: String, CaseIterable {
            case userId, anonymousId, groupId, previousId
        }

        var userId: String?
        var anonymousId: String?
        var groupId: String?
        var previousId: String?

        subscript(field: Field) -> String? {
            get {
                switch field {
                case .userId: return userId
                case .anonymousId: return anonymousId
                case .groupId: return groupId
                case .previousId: return previousId
                }
            }
            set {
                switch field {
                case .userId: userId = newValue
                case .anonymousId: anonymousId = newValue
                case .groupId: groupId = newValue
                case .previousId: previousId = newValue
                }
            }
        }
    }

    private enum Identifier {
        case absent
        case string(String)
        case coerced(String)
        case invalid(String)
    }

    private static func identifier(_ value: JSONValue?) -> Identifier {
        switch value {
        case nil, .null?: return .absent
        case .string(let text)?: return text.isEmpty ? .absent : .string(text)
        case .number(let number)? where number.isFinite: return .coerced(JSNumberFormatter.string(from: number))
        case let other?: return .invalid(IngestRequestDecoder.describe(other))
        }
    }

    /// Adds the batch's `context` / `integrations` keys the event lacks (its own keys win and
    /// keep their order) and its `sentAt` when the event has none. Returns whether it changed.
    private static func apply(_ shared: SharedBatchFields, to object: inout JSONObject) -> Bool {
        var changed = false
        for (field, sharedObject) in [("context", shared.context), ("integrations", shared.integrations)] {
            guard let sharedObject, !sharedObject.isEmpty else { continue }
            if case .object(var own)? = object[field] {
                for (key, value) in sharedObject where own[key] == nil {
                    own[key] = value
                    changed = true
                }
                object[field] = .object(own)
            } else if object[field] == nil || object[field] == .null {
                object[field] = .object(sharedObject)
                changed = true
            }
        }
        if let sentAt = shared.sentAt, object["sentAt"] == nil {
            object["sentAt"] = sentAt
            changed = true
        }
        return changed
    }
}
