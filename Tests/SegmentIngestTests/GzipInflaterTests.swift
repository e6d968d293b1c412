import Testing
@testable import SegmentIngest

@Suite struct BodyDecodingTests {
    let body = bytes(#"{"type":"identify","userId":"u1","traits":{"plan":"premium"}}"#)

    @Test func gzipBodyIsInflated() throws {
        let decoded = try RequestBodyDecoder.decode(gzip(body), contentEncoding: "gzip", limit: 1024)
        #expect(decoded == body)
    }

    @Test(arguments: ["x-gzip", "GZIP", " gzip ", "gzip, identity", "identity, x-gzip"])
    func gzipSpellingsAreAccepted(header: String) throws {
        #expect(try BodyContentEncoding(header: header) == .gzip)
        #expect(try RequestBodyDecoder.decode(gzip(body), contentEncoding: header, limit: 1024) == body)
    }

    @Test(arguments: [nil, "", "identity", "Identity"] as [String?])
    func identityPassesBytesThrough(header: String?) throws {
        #expect(try BodyContentEncoding(header: header) == .identity)
        #expect(try RequestBodyDecoder.decode(body, contentEncoding: header, limit: 1024) == body)
    }

    @Test(arguments: ["br", "deflate", "compress", "zstd", "gzip, br"])
    func otherEncodingsGet415(header: String) {
        let error = failure { try RequestBodyDecoder.decode(body, contentEncoding: header, limit: 1024) }
        #expect(error?.status.code == 415)
        #expect(error?.message.contains("identity") == true)
        #expect(error?.message.contains("gzip") == true)
    }

    @Test func gzipAppliedTwiceGets415() {
        let error = failure { try RequestBodyDecoder.decode(gzip(gzip(body)), contentEncoding: "gzip, gzip", limit: 1024) }
        #expect(error?.status.code == 415)
    }

    @Test func gzipBombIsRefusedWith413() {
        let zeros = [UInt8](repeating: 0, count: 10 * 1024 * 1024)
        let bomb = gzip(zeros, level: 9)
        #expect(bomb.count < 20 * 1024, "10 MB of zeros compress to a few kilobytes")
        let limit = 4 * 1024 * 1024
        let error = failure { try GzipInflater.inflate(bomb, limit: limit) }
        #expect(error?.status.code == 413)
        #expect(error?.message.contains(String(limit)) == true)
    }

    @Test func bodyExactlyAtTheLimitIsAcceptedAndOneByteMoreIsNot() throws {
        let payload = [UInt8](repeating: UInt8(ascii: "a"), count: 100_000)
        #expect(try GzipInflater.inflate(gzip(payload), limit: 100_000) == payload)
        #expect(failure { try GzipInflater.inflate(gzip(payload), limit: 99_999) }?.status.code == 413)
    }

    @Test func largeBodyUnderTheLimitInflatesCompletely() throws {
        // Output grows past the initial buffer many times over.
        var payload: [UInt8] = []
        for index in 0..<200_000 { payload.append(UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13)) }
        #expect(try GzipInflater.inflate(gzip(payload), limit: 1_000_000) == payload)
    }

    @Test func identityBodyOverTheLimitGets413() {
        let error = failure { try RequestBodyDecoder.decode(body, contentEncoding: nil, limit: body.count - 1) }
        #expect(error?.status.code == 413)
    }

    @Test func truncatedGzipGets400() {
        let compressed = gzip(body)
        let error = failure { try GzipInflater.inflate(Array(compressed.dropLast(10)), limit: 1024) }
        #expect(error?.status.code == 400)
        #expect(error?.message.contains("truncated") == true)
    }

    @Test func corruptGzipGets400() {
        var compressed = gzip(body)
        for offset in 12..<min(compressed.count - 8, 30) { compressed[offset] ^= 0xA5 }
        let error = failure { try GzipInflater.inflate(compressed, limit: 1024) }
        #expect(error?.status.code == 400)
        #expect(error?.message.contains("gzip") == true)
    }

    @Test func notGzipAtAllGets400() {
        let error = failure { try RequestBodyDecoder.decode(body, contentEncoding: "gzip", limit: 1024) }
        #expect(error?.status.code == 400)
    }

    @Test func emptyGzipBodyGets400() {
        #expect(failure { try GzipInflater.inflate([], limit: 1024) }?.status.code == 400)
    }

    @Test func concatenatedMembersInflateToTheConcatenation() throws {
        let second = bytes("second part")
        #expect(try GzipInflater.inflate(gzip(body) + gzip(second), limit: 1024) == body + second)
    }

    @Test func bombSplitOverMembersIsStillCapped() {
        let chunk = gzip([UInt8](repeating: 0, count: 600_000))
        let error = failure { try GzipInflater.inflate(chunk + chunk, limit: 1_000_000) }
        #expect(error?.status.code == 413)
    }

    @Test func junkAfterTheStreamGets400() {
        let error = failure { try GzipInflater.inflate(gzip(body) + bytes("junk"), limit: 1024) }
        #expect(error?.status.code == 400)
        #expect(error?.message.contains("after its end") == true)
    }
}
