import HTTPServer
import JSONKit
import Testing
@testable import SegmentIngest

@Suite struct IngestAnswerTests {
    @Test func successBodyHasTheContractShape() {
        let rejection = EventRejection(index: 1, messageId: "m-2", error: "a track call needs 'event'", value: .null)
        let response = IngestAnswer.success(accepted: 2, rejected: [rejection])
        #expect(response.status.code == 200)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(String(decoding: response.body, as: UTF8.self)
            == #"{"success":true,"accepted":2,"rejected":[{"index":1,"messageId":"m-2","error":"a track call needs 'event'"}]}"#)
        #expect(String(decoding: IngestAnswer.successBody(accepted: 0, rejected: []), as: UTF8.self)
            == #"{"success":true,"accepted":0,"rejected":[]}"#)
    }

    @Test func failuresAnswerWithJSONAndRetryAfter() throws {
        let busy = IngestFailure.serviceUnavailable("the event queue is full; retry later", retryAfterSeconds: 30).response
        #expect(busy.status.code == 503)
        #expect(busy.headers["Retry-After"] == "30")
        #expect(try json(busy.body) == ["success": false, "error": "the event queue is full; retry later"])

        let tooLarge = IngestFailure.payloadTooLarge("too big").response
        #expect(tooLarge.status.code == 413)
        #expect(tooLarge.headers["Retry-After"] == nil)
        #expect(try json(tooLarge.body)["success"] == false)
    }

    @Test func configurationDescriptionHidesSecrets() {
        let configuration = IngestConfiguration(sharedSecret: "s3cr3t-value", writeKeys: ["wk_live_secret"])
        #expect(!configuration.description.contains("s3cr3t-value"))
        #expect(!configuration.description.contains("wk_live_secret"))
        #expect(configuration.description.contains("1 configured"))
    }
}
