import JSONKit
import Testing
@testable import SegmentIngest

@Suite struct EventValidatorTests {
    let validator = EventValidator(maxEventBytes: 32 * 1024)

    func validate(_ text: String, route: IngestRoute = .webhook) throws -> Result<IngestEvent, EventRejection> {
        validator.validate(IncomingEventCandidate(index: 4, value: try json(bytes(text))), route: route)
    }

    func rejection(_ text: String, route: IngestRoute = .webhook) throws -> EventRejection? {
        if case .failure(let rejection) = try validate(text, route: route) { return rejection }
        return nil
    }

    func event(_ text: String, route: IngestRoute = .webhook) throws -> IngestEvent? {
        if case .success(let event) = try validate(text, route: route) { return event }
        return nil
    }

    @Test func samplesAreValid() throws {
        for sample in [Samples.identify, Samples.identifyAnonymous, Samples.track, Samples.engageAudienceIdentify] {
            let result = validator.validate(IncomingEventCandidate(index: 0, value: try json(sample)), route: .webhook)
            #expect((try? result.get()) != nil, "\(result)")
        }
    }

    @Test func identifyNeedsUserIdOrAnonymousId() throws {
        let refused = try rejection(#"{"type":"identify","messageId":"m1","traits":{"a":1}}"#)
        #expect(refused?.index == 4)
        #expect(refused?.messageId == "m1")
        #expect(refused?.error.contains("'userId' or an 'anonymousId'") == true)
        #expect(try rejection(#"{"type":"identify","userId":"","anonymousId":null}"#) != nil)
        #expect(try event(#"{"type":"identify","userId":"","anonymousId":"a1"}"#)?.userId == nil)
        #expect(try event(#"{"type":"identify","anonymousId":"a1"}"#)?.anonymousId == "a1")
    }

    @Test func numericIdsAreCoercedToStrings() throws {
        let coerced = try event(#"{"type":"identify","userId":12345,"messageId":"m"}"#)
        #expect(coerced?.userId == "12345")
        #expect(coerced?.event["userId"] == "12345")
        #expect(coerced.map { String(decoding: $0.json, as: UTF8.self) } == #"{"type":"identify","userId":"12345","messageId":"m"}"#)
    }

    @Test(arguments: [#"true"#, #"{"id":1}"#, #"["u"]"#])
    func nonStringIdsAreRejected(value: String) throws {
        let refused = try rejection(#"{"type":"identify","userId":"# + value + "}")
        #expect(refused?.error.contains("'userId' is") == true)
        #expect(refused?.error.contains("non-empty string") == true)
    }

    @Test func typeMustBeKnown() throws {
        #expect(try rejection(#"{"userId":"u"}"#)?.error.contains("has no 'type'") == true)
        #expect(try rejection(#"{"type":"purchase","userId":"u"}"#)?.error.contains("\"purchase\", which is not") == true)
        #expect(try rejection(#"{"type":7,"userId":"u"}"#)?.error.contains("identify, track") == true)
        for type in ["page", "screen"] {
            #expect(try event(#"{"type":"\#(type)","anonymousId":"a"}"#)?.type.rawValue == type)
        }
    }

    @Test func trackNeedsAnEventName() throws {
        #expect(try rejection(#"{"type":"track","userId":"u"}"#)?.error.contains("'event'") == true)
        #expect(try rejection(#"{"type":"track","userId":"u","event":""}"#) != nil)
        #expect(try event(#"{"type":"track","userId":"u","event":"Order Completed"}"#)?.type == .track)
    }

    @Test func aliasNeedsPreviousIdAndUserId() throws {
        #expect(try rejection(#"{"type":"alias","userId":"u"}"#)?.error.contains("'previousId'") == true)
        #expect(try rejection(#"{"type":"alias","previousId":"p","anonymousId":"a"}"#) != nil)
        #expect(try event(#"{"type":"alias","previousId":"p","userId":"u"}"#) != nil)
    }

    @Test func groupNeedsGroupId() throws {
        #expect(try rejection(#"{"type":"group","userId":"u"}"#)?.error.contains("'groupId'") == true)
        #expect(try event(#"{"type":"group","userId":"u","groupId":42}"#)?.event["groupId"] == "42")
    }

    @Test func oversizedEventIsRejectedWithItsMessageId() throws {
        let small = EventValidator(maxEventBytes: 100)
        let text = #"{"type":"identify","userId":"u","messageId":"big-1","traits":{"bio":""# + String(repeating: "x", count: 80) + #""}}"#
        let result = small.validate(IncomingEventCandidate(index: 0, value: try json(bytes(text))), route: .webhook)
        guard case .failure(let refused) = result else {
            Issue.record("expected a rejection")
            return
        }
        #expect(refused.messageId == "big-1")
        #expect(refused.error.contains("over the limit of 100 bytes"))
        let fits = #"{"type":"identify","userId":"u"}"#
        #expect((try? small.validate(IncomingEventCandidate(index: 0, value: try json(bytes(fits))), route: .webhook).get()) != nil)
    }

    @Test func missingMessageIdIsDerivedFromTheEventBytes() throws {
        // sha256 of `{"type":"identify","userId":"u1"}`, computed with Node's crypto.
        let derived = try event(#"{ "type": "identify", "userId": "u1" }"#)
        #expect(derived?.messageId == "atd-6bf152d445cff9a39cc4612be5ca3e0973263f71e98ecff237dcf3aac083196b")
        #expect(derived?.event["messageId"] == .string(derived?.messageId ?? ""))
        let again = try event(#"{"type":"identify","userId":"u1"}"#)
        #expect(again?.messageId == derived?.messageId)
        let other = try event(#"{"type":"identify","userId":"u2"}"#)
        #expect(other?.messageId != derived?.messageId)
        #expect(try event(#"{"type":"identify","userId":"u1","messageId":""}"#)?.messageId.hasPrefix("atd-") == true)
        #expect(try event(#"{"type":"identify","userId":"u1","messageId":null}"#)?.messageId.hasPrefix("atd-") == true)
    }

    @Test func messageIdMustBeAStringOrNumber() throws {
        #expect(try event(#"{"type":"identify","userId":"u1","messageId":17}"#)?.messageId == "17")
        let refused = try rejection(#"{"type":"identify","userId":"u1","messageId":{"a":1}}"#)
        #expect(refused?.error.contains("'messageId' is an object") == true)
        #expect(refused?.messageId.hasPrefix("atd-") == true)
    }
}
