import HTTPServer
import JSONKit
import Testing
@testable import SegmentIngest

@Suite struct SignatureVerifierTests {
    let secret = "segment-shared-secret"
    // Expected digests computed independently (Node's crypto.createHmac and Python's hmac).
    let wholeSampleSignature = "c205d501bb5a4e855d6cc593c91a773dd06eef13"
    let firstEventSignature = "a9ed2565977e6a51e995991ef599a76efff30315"

    @Test func hmacMatchesAKnownVector() {
        let verifier = SignatureVerifier(sharedSecret: "key")
        #expect(verifier.signature(of: bytes("The quick brown fox jumps over the lazy dog"))
            == "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9")
    }

    @Test func signatureOfTheWholeBodyVerifies() throws {
        let verifier = SignatureVerifier(sharedSecret: secret)
        try verifier.verify(header: wholeSampleSignature, body: Samples.webhookActionsBatch, parsedBody: { nil })
        try verifier.verify(header: wholeSampleSignature.uppercased(), body: Samples.webhookActionsBatch, parsedBody: { nil })
    }

    @Test func signatureOfTheFirstEventOfABatchVerifies() throws {
        let verifier = SignatureVerifier(sharedSecret: secret)
        let parsed = try json(Samples.webhookActionsBatch)
        try verifier.verify(header: firstEventSignature, body: Samples.webhookActionsBatch, parsedBody: { parsed })
    }

    @Test func firstEventSignatureDoesNotCoverANonArrayBody() throws {
        let verifier = SignatureVerifier(sharedSecret: secret)
        let firstEvent = try json(Samples.webhookActionsBatch).arrayValue![0]
        let body: JSONValue = ["batch": .array([firstEvent])]
        let error = failure {
            try verifier.verify(header: firstEventSignature, body: JSONSerializer.serialize(body), parsedBody: { body })
        }
        #expect(error?.status.code == 401)
    }

    @Test func wrongSecretIsRefusedWithoutRevealingValues() throws {
        let verifier = SignatureVerifier(sharedSecret: "another-secret")
        let parsed = try json(Samples.webhookActionsBatch)
        let error = failure {
            try verifier.verify(header: wholeSampleSignature, body: Samples.webhookActionsBatch, parsedBody: { parsed })
        }
        #expect(error?.status.code == 401)
        #expect(error?.message.contains("X-Signature does not match") == true)
        let expected = verifier.signature(of: Samples.webhookActionsBatch)
        for secretValue in ["another-secret", expected, wholeSampleSignature] {
            #expect(error?.message.contains(secretValue) == false)
        }
    }

    @Test func tamperedBodyIsRefused() {
        let verifier = SignatureVerifier(sharedSecret: secret)
        var body = Samples.webhookActionsBatch
        body[body.count / 2] ^= 0x01
        #expect(failure { try verifier.verify(header: wholeSampleSignature, body: body, parsedBody: { nil }) }?.status.code == 401)
    }

    @Test(arguments: [nil, "", "not-hex-at-all", "abc", "c205d501bb5a4e855d6cc593c91a773dd06eef1z"] as [String?])
    func missingOrMalformedHeaderIsRefused(header: String?) {
        let verifier = SignatureVerifier(sharedSecret: secret)
        let error = failure { try verifier.verify(header: header, body: Samples.webhookActionsBatch, parsedBody: { nil }) }
        #expect(error?.status.code == 401)
    }

    @Test func decoderChecksTheSignatureOnTheInflatedBody() throws {
        let decoder = IngestRequestDecoder(configuration: IngestConfiguration(sharedSecret: secret))
        let compressed = gzip(Samples.webhookActionsBatch)
        let request = try decoder.decode(
            route: .webhook, headers: headers(("Content-Encoding", "gzip"), ("X-Signature", wholeSampleSignature)),
            body: compressed)
        #expect(request.candidates.count == 3)

        let signedCompressed = SignatureVerifier(sharedSecret: secret).signature(of: compressed)
        let error = failure {
            try decoder.decode(
                route: .webhook, headers: headers(("Content-Encoding", "gzip"), ("X-Signature", signedCompressed)),
                body: compressed)
        }
        #expect(error?.status.code == 401)
    }

    @Test func decoderAcceptsTheFirstEventSignatureFromSegmentActions() throws {
        let decoder = IngestRequestDecoder(configuration: IngestConfiguration(sharedSecret: secret))
        let request = try decoder.decode(
            route: .webhook, headers: headers(("X-Signature", firstEventSignature)), body: Samples.webhookActionsBatch)
        #expect(request.candidates.count == 3)
    }

    @Test func unsignedWebhookIsRefusedBeforeItsJSONIsJudged() {
        let decoder = IngestRequestDecoder(configuration: IngestConfiguration(sharedSecret: secret))
        let error = failure { try decoder.decode(route: .webhook, headers: HTTPHeaders(), body: bytes("not json")) }
        #expect(error?.status.code == 401)
    }

    @Test func webhookIsOpenWithoutASharedSecret() throws {
        for configuration in [IngestConfiguration(), IngestConfiguration(sharedSecret: "")] {
            let decoder = IngestRequestDecoder(configuration: configuration)
            let request = try decoder.decode(route: .webhook, headers: HTTPHeaders(), body: Samples.identify)
            #expect(request.candidates.count == 1)
        }
    }
}

@Suite struct WriteKeyAuthenticatorTests {
    let authenticator = WriteKeyAuthenticator(writeKeys: ["wk_live_1", "wk_live_2"])

    @Test func basicUserNameIsTheWriteKey() {
        #expect(WriteKeyAuthenticator.writeKey(fromAuthorization: basicAuthorization(user: "wk_live_1")) == "wk_live_1")
        #expect(WriteKeyAuthenticator.writeKey(fromAuthorization: basicAuthorization(user: "wk_live_2", password: nil))
            == "wk_live_2")
        #expect(WriteKeyAuthenticator.writeKey(fromAuthorization: "basic d2tfbGl2ZV8xOg") == "wk_live_1")
        #expect(WriteKeyAuthenticator.writeKey(fromAuthorization: "Bearer wk_live_1") == nil)
        #expect(WriteKeyAuthenticator.writeKey(fromAuthorization: "Basic !!!") == nil)
    }

    @Test func configuredKeysAuthenticate() throws {
        try authenticator.authenticate(
            authorization: basicAuthorization(user: "wk_live_2"), bodyWriteKey: nil, eventWriteKeys: [])
        try authenticator.authenticate(authorization: nil, bodyWriteKey: "wk_live_1", eventWriteKeys: [])
        try authenticator.authenticate(authorization: nil, bodyWriteKey: nil, eventWriteKeys: ["wk_live_1", "wk_live_2"])
        try authenticator.authenticate(
            authorization: basicAuthorization(user: "wrong"), bodyWriteKey: "wk_live_1", eventWriteKeys: [])
    }

    @Test func unknownOrMissingKeysGet401WithoutTheKey() {
        let cases: [(String?, String?, [String?])] = [
            (nil, nil, []),
            (basicAuthorization(user: "wk_guess"), nil, []),
            (nil, "wk_live_", []),
            (nil, "", []),
            (nil, nil, ["wk_live_1", nil]),
            (nil, nil, ["wk_live_1", "wk_guess"]),
        ]
        for (authorization, bodyKey, eventKeys) in cases {
            let error = failure {
                try authenticator.authenticate(authorization: authorization, bodyWriteKey: bodyKey, eventWriteKeys: eventKeys)
            }
            #expect(error?.status.code == 401)
            #expect(error?.message.contains("wk_") == false)
            #expect(error?.message.contains("HTTP Basic") == true)
        }
    }

    @Test func noConfiguredKeysMeansOpen() throws {
        for keys in [[], [""]] {
            let open = WriteKeyAuthenticator(writeKeys: keys)
            #expect(!open.isEnabled)
            try open.authenticate(authorization: nil, bodyWriteKey: nil, eventWriteKeys: [])
        }
    }

    @Test func decoderTakesWriteKeysFromHeaderOrBody() throws {
        let decoder = IngestRequestDecoder(configuration: IngestConfiguration(writeKeys: ["wk_live_1"]))
        let single = bytes(#"{"userId":"u1","event":"Signed Up","writeKey":"wk_live_1"}"#)
        #expect(try decoder.decode(route: .trackingCall(.track), headers: HTTPHeaders(), body: single).candidates.count == 1)
        #expect(try decoder.decode(
            route: .trackingBatch, headers: headers(("Authorization", basicAuthorization(user: "wk_live_1"))),
            body: Samples.trackingApiBatch).candidates.count == 3)
        let eachEvent = bytes(#"{"batch":[{"type":"track","userId":"u","event":"A","writeKey":"wk_live_1"}]}"#)
        #expect(try decoder.decode(route: .trackingBatch, headers: HTTPHeaders(), body: eachEvent).candidates.count == 1)

        let error = failure { try decoder.decode(route: .trackingBatch, headers: HTTPHeaders(), body: Samples.trackingApiBatch) }
        #expect(error?.status.code == 401)
        // Webhook routes do not ask for write keys.
        #expect(try decoder.decode(route: .webhook, headers: HTTPHeaders(), body: Samples.identify).candidates.count == 1)
    }

    @Test func writeKeyIsNotKeptInStoredEvents() throws {
        let processor = IngestRequestProcessor(configuration: IngestConfiguration(writeKeys: ["wk_live_1"]))
        let batch = try processor.process(
            route: .trackingCall(.identify), headers: HTTPHeaders(),
            body: bytes(#"{"userId":"u1","writeKey":"wk_live_1","messageId":"m1"}"#))
        #expect(batch.events.count == 1)
        #expect(batch.events[0].event["writeKey"] == nil)
        #expect(!String(decoding: batch.events[0].json, as: UTF8.self).contains("wk_live_1"))
    }
}
