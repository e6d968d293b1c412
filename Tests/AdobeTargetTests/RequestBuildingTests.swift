import JSONKit
import Testing

@testable import AdobeTarget

private func object(_ json: String) throws -> JSONObject {
    let value = try JSONValue(parsing: json)
    guard let object = value.objectValue else { throw TestFailure("not an object: \(json)") }
    return object
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

private func endpoint(
    _ clientCode: String = "acme", baseURL: String = "https://{clientCode}.tt.omtrdc.net", limit: Int = 8192
) throws -> AdobeTargetEndpoint {
    try AdobeTargetEndpoint(clientCode: clientCode, baseURL: baseURL, maximumURLBytes: limit)
}

private func queryOf(_ url: String) -> String {
    String(url[url.firstIndex(of: "?")!...].dropFirst())
}

@Suite("URL building")
struct URLBuildingTests {
    @Test func contractExample() throws {
        let traits = try object(#"{"city":"New York City","name":"Rajul"}"#)
        let urls = try endpoint().profileUpdateURLs(userID: "123-test", attributes: ProfileAttributes(flattening: traits))
        #expect(
            urls == [
                "https://acme.tt.omtrdc.net/m2/acme/profile/update?mbox3rdPartyId=123-test&profile.city=New%20York%20City&profile.name=Rajul"
            ])
    }

    @Test func lookupURL() throws {
        #expect(
            try endpoint().profileLookupURL(userID: "123-test")
                == "https://acme.tt.omtrdc.net/rest/v1/profiles/thirdPartyId/123-test?client=acme")
        // A `/` in a user ID must not add a path segment.
        #expect(
            try endpoint(baseURL: "http://127.0.0.1:9999/").profileLookupURL(userID: "a/b c")
                == "http://127.0.0.1:9999/rest/v1/profiles/thirdPartyId/a%2Fb%20c?client=acme")
    }

    @Test func baseURLTemplateAndValidation() throws {
        #expect(try endpoint("corp", baseURL: "https://{clientCode}.example.test/x/").baseURL == "https://corp.example.test/x")
        #expect(throws: AdobeTargetConfigurationError.self) { try endpoint(baseURL: "ftp://x") }
        #expect(throws: AdobeTargetConfigurationError.self) { try endpoint(baseURL: "https://host/?q=1") }
        #expect(throws: AdobeTargetConfigurationError.self) { try endpoint("") }
        #expect(throws: AdobeTargetConfigurationError.self) { try endpoint("acme corp") }
    }

    @Test func nestedObjectsAndArraysFlattenWithDots() throws {
        let traits = try object(#"{"address":{"city":"Paris","geo":{"lat":48.85}},"tags":["a","b"],"n":[{"x":1}]}"#)
        let attributes = ProfileAttributes(flattening: traits)
        #expect(attributes.map(\.name) == ["address.city", "address.geo.lat", "tags.0", "tags.1", "n.0.x"])
        #expect(attributes.map(\.value) == ["Paris", "48.85", "a", "b", "1"])
    }

    @Test func nullsAndEmptyContainersAreDropped() throws {
        let traits = try object(#"{"a":null,"b":{},"c":[],"d":[null],"e":{"f":null},"g":""}"#)
        let attributes = ProfileAttributes(flattening: traits)
        #expect(attributes.attributes == [ProfileAttribute(name: "g", value: "")])
    }

    @Test func numbersAndBooleansPrintAsJavaScript() throws {
        let traits = try object(#"{"age":21,"score":1.5,"neg":-3,"zero":0,"vip":true,"churned":false,"big":1e21}"#)
        let query = queryOf(try endpoint().profileUpdateURLs(userID: "u", attributes: .init(flattening: traits))[0])
        #expect(
            query
                == "mbox3rdPartyId=u&profile.age=21&profile.score=1.5&profile.neg=-3&profile.zero=0&profile.vip=true&profile.churned=false&profile.big=1e%2B21")
    }

    @Test func keyOrderFollowsTheMapping() throws {
        let traits = try object(#"{"zeta":"1","alpha":"2","mid":{"z":"3","a":"4"}}"#)
        let query = queryOf(try endpoint().profileUpdateURLs(userID: "u", attributes: .init(flattening: traits))[0])
        #expect(query == "mbox3rdPartyId=u&profile.zeta=1&profile.alpha=2&profile.mid.z=3&profile.mid.a=4")
    }

    @Test func reservedAndNonASCIICharactersArePercentEncoded() throws {
        let traits = try object(#"{"e mail":"a+b@x.com","q":"a&b=c#d?e/f%g","ok":"-_.!~*'()","é":"Zürich 東京 😀"}"#)
        let query = queryOf(try endpoint().profileUpdateURLs(userID: "ü@1", attributes: .init(flattening: traits))[0])
        #expect(
            query
                == "mbox3rdPartyId=%C3%BC%401&profile.e%20mail=a%2Bb%40x.com&profile.q=a%26b%3Dc%23d%3Fe%2Ff%25g"
                + "&profile.ok=-_.!~*'()&profile.%C3%A9=Z%C3%BCrich%20%E6%9D%B1%E4%BA%AC%20%F0%9F%98%80")
    }

    @Test func encoderMatchesEncodeURIComponentOnEveryASCIIByte() {
        for byte in UInt8(0)..<128 {
            let character = String(UnicodeScalar(byte))
            let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()".contains(character)
            let expected = unreserved ? character : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            #expect(URIComponentEncoder.encode(character) == expected)
            #expect(URIComponentEncoder.encodedLength(of: character) == expected.utf8.count)
        }
    }

    @Test func decodeReversesEncode() {
        let original = "a b&c=d/é😀%"
        #expect(URIComponentEncoder.decode(URIComponentEncoder.encode(original)[...]) == original)
        #expect(URIComponentEncoder.decode("%zz"[...]) == nil)
        #expect(URIComponentEncoder.decode("%4"[...]) == nil)
        #expect(URIComponentEncoder.decode("a+b"[...]) == "a+b")
    }

    @Test func duplicateFlattenedNamesKeepFirstPositionAndLastValue() throws {
        let traits = try object(#"{"a.b":"1","x":"2","a":{"b":"3"}}"#)
        let attributes = ProfileAttributes(flattening: traits)
        #expect(attributes.attributes == [.init(name: "a.b", value: "3"), .init(name: "x", value: "2")])
    }

    @Test func noAttributesMeansNoUpdate() throws {
        #expect(try endpoint().profileUpdateURLs(userID: "u", attributes: .init(flattening: object(#"{"a":null}"#))).isEmpty)
        #expect(try endpoint().requests(userID: "u", attributes: [], bearerToken: nil).isEmpty)
    }

    @Test func emptyUserIDIsInvalid() throws {
        #expect(throws: AdobeTargetRequestError.emptyUserID) {
            try endpoint().profileUpdateURLs(userID: "", attributes: [.init(name: "a", value: "b")])
        }
        #expect(throws: AdobeTargetRequestError.emptyUserID) { try endpoint().profileLookupURL(userID: "") }
    }
}

@Suite("Splitting at the URL limit")
struct SplittingTests {
    @Test func largeUpdateSplitsUnderTheLimitKeepingOrderAndUserID() throws {
        var traits = JSONObject()
        for index in 0..<300 { traits["attribute\(index)"] = .string(String(repeating: "v", count: 50) + " \(index)") }
        let attributes = ProfileAttributes(flattening: traits)
        let limit = 8192
        let urls = try endpoint(limit: limit).profileUpdateURLs(userID: "user 1", attributes: attributes)
        #expect(urls.count > 1)
        var seen: [String] = []
        for url in urls {
            #expect(url.utf8.count <= limit)
            let query = queryOf(url).split(separator: "&")
            #expect(query.first == "mbox3rdPartyId=user%201")
            seen += query.dropFirst().map(String.init)
        }
        let expected = attributes.map { "profile.\(URIComponentEncoder.encode($0.name))=\(URIComponentEncoder.encode($0.value))" }
        #expect(seen == expected)
        // Greedy packing: no URL could have taken the first parameter of the next one.
        for (current, next) in zip(urls, urls.dropFirst()) {
            let firstOfNext = queryOf(next).split(separator: "&")[1]
            #expect(current.utf8.count + 1 + firstOfNext.utf8.count > limit)
        }
    }

    @Test func exactlyAtTheLimitFitsInOneURL() throws {
        let base = try endpoint(limit: 300)
        let prefix = try base.profileUpdateURLs(userID: "u", attributes: [.init(name: "k", value: "")])[0]
        let room = 300 - prefix.utf8.count
        let fits = try base.profileUpdateURLs(userID: "u", attributes: [.init(name: "k", value: String(repeating: "x", count: room))])
        #expect(fits.count == 1 && fits[0].utf8.count == 300)
        #expect(throws: AdobeTargetRequestError.self) {
            try base.profileUpdateURLs(userID: "u", attributes: [.init(name: "k", value: String(repeating: "x", count: room + 1))])
        }
    }

    @Test func singleOversizedAttributeIsAPermanentErrorNamingIt() throws {
        let attributes: ProfileAttributes = [
            .init(name: "small", value: "1"), .init(name: "essay", value: String(repeating: "é", count: 3000)),
        ]
        let endpoint = try endpoint()
        do throws(AdobeTargetRequestError) {
            _ = try endpoint.profileUpdateURLs(userID: "u", attributes: attributes)
            Issue.record("an 18 KB attribute was accepted")
        } catch {
            guard case .attributeTooLarge(let name, let bytes, let limit) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(name == "essay" && bytes > limit && limit == 8192)
            #expect(error.description.contains("'essay'") && !error.description.contains("%C3%A9"))
        }
    }

    @Test func oversizedUserIDIsRefused() throws {
        #expect(throws: AdobeTargetRequestError.self) {
            try endpoint(limit: 300).profileLookupURL(userID: String(repeating: "u", count: 300))
        }
    }
}

@Suite("Coalescing")
struct CoalescingTests {
    @Test func laterValuesWinInFirstSeenOrder() throws {
        let first = try object(#"{"plan":"free","city":"Paris","address":{"zip":"75001"}}"#)
        let second = try object(#"{"age":30,"plan":"pro","city":null}"#)
        let third = try object(#"{"address":{"zip":"10001","street":"5th"},"vip":true}"#)
        let merged = ProfileAttributes(coalescing: [first, second, third])
        #expect(merged.map(\.name) == ["plan", "city", "address.zip", "age", "address.street", "vip"])
        #expect(merged.map(\.value) == ["pro", "Paris", "10001", "30", "5th", "true"])
    }

    @Test func mergeEqualsCoalescing() throws {
        let first = try object(#"{"a":"1","b":"2"}"#)
        let second = try object(#"{"c":"3","a":"4"}"#)
        var merged = ProfileAttributes(flattening: first)
        merged.merge(ProfileAttributes(flattening: second))
        #expect(merged == ProfileAttributes(coalescing: [first, second]))
        #expect(merged["a"] == "4")
    }
}

@Suite("Request descriptions")
struct RequestDescriptionTests {
    @Test func plannedRequestsRedactTheToken() throws {
        let token = BearerTokenProvider(token: "s3cret-token")
        let client = try AdobeTargetClient(
            configuration: .init(clientCode: "acme", baseURL: "http://127.0.0.1:1"), tokenProvider: token)
        let requests = try client.plannedRequests(userID: "123-test", traits: object(#"{"city":"NYC"}"#))
        #expect(requests.map(\.method) == ["GET", "POST"])
        #expect(requests.map(\.purpose) == [.profileLookup, .profileUpdate])
        #expect(requests[0].url == "http://127.0.0.1:1/rest/v1/profiles/thirdPartyId/123-test?client=acme")
        #expect(requests[1].url == "http://127.0.0.1:1/m2/acme/profile/update?mbox3rdPartyId=123-test&profile.city=NYC")
        for request in requests {
            #expect(request.headers.contains(.init(name: "Authorization", value: "Bearer REDACTED")))
            #expect(!request.jsonValue.jsonString.contains("s3cret"))
        }
        token.replace(with: nil)
        let withoutToken = try client.plannedRequests(userID: "123-test", traits: object(#"{"city":"NYC"}"#))
        #expect(!withoutToken[0].headers.contains { $0.name == "Authorization" })
        #expect(!"\(token)".contains("s3cret"))
    }

    @Test func jsonShape() throws {
        let request = AdobeTargetRequest.profileLookup(url: "http://h/x", bearerToken: "t")
        #expect(
            request.jsonValue.jsonString
                == #"{"purpose":"profileLookup","method":"GET","url":"http://h/x","headers":{"Accept":"application/json","User-Agent":"adobe-target-destination","Authorization":"Bearer REDACTED"}}"#)
    }
}

@Suite("Retry-After")
struct RetryAfterTests {
    @Test func deltaSeconds() {
        #expect(RetryAfter.seconds(from: "120", now: 0) == 120)
        #expect(RetryAfter.seconds(from: " 0 ", now: 0) == 0)
        #expect(RetryAfter.seconds(from: "-5", now: 0) == nil)
        #expect(RetryAfter.seconds(from: "soon", now: 0) == nil)
        #expect(RetryAfter.seconds(from: "", now: 0) == nil)
    }

    @Test func httpDates() {
        // 1994-11-06T08:49:37Z is 784111777.
        #expect(RetryAfter.httpDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(RetryAfter.httpDate("Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
        #expect(RetryAfter.httpDate("Sun Nov  6 08:49:37 1994") == 784_111_777)
        #expect(RetryAfter.httpDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(RetryAfter.httpDate("Tue, 29 Feb 2028 12:00:00 GMT") == 1_835_438_400)
        #expect(RetryAfter.httpDate("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
        #expect(RetryAfter.seconds(from: "Sun, 06 Nov 1994 08:50:07 GMT", now: 784_111_777) == 30)
        #expect(RetryAfter.seconds(from: "Sun, 06 Nov 1994 08:49:07 GMT", now: 784_111_777) == 0)
    }
}

@Suite("Lookup cache")
struct LookupCacheTests {
    @Test func expiresAfterTheTimeToLive() {
        let cache = LookupCache(timeToLive: 10, capacity: 100)
        cache.insert("u", now: 100)
        #expect(cache.contains("u", now: 109.9))
        #expect(!cache.contains("u", now: 110))
        #expect(!cache.contains("v", now: 100))
    }

    @Test func boundedEvictsOldestFirst() {
        let cache = LookupCache(timeToLive: 1000, capacity: 3)
        for (index, user) in ["a", "b", "c"].enumerated() { cache.insert(user, now: Double(index)) }
        cache.insert("a", now: 5)  // refreshed: now the newest
        cache.insert("d", now: 6)
        #expect(cache.count == 3)
        #expect(!cache.contains("b", now: 7))
        #expect(cache.contains("a", now: 7) && cache.contains("c", now: 7) && cache.contains("d", now: 7))
        for index in 0..<10_000 { cache.insert("x\(index % 7)", now: 8) }
        #expect(cache.count == 3)
    }

    @Test func zeroTimeToLiveCachesNothing() {
        let cache = LookupCache(timeToLive: 0, capacity: 10)
        cache.insert("u", now: 0)
        #expect(!cache.contains("u", now: 0))
    }
}
