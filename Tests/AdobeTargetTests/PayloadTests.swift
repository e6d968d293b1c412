import JSONKit
import Testing

@testable import AdobeTarget

@Suite("Update Profile payload")
struct PayloadTests {
    private func validate(_ json: String) throws -> UpdateProfilePayload {
        try UpdateProfilePayload(validating: JSONValue(parsing: json))
    }

    private func problems(_ json: String) -> String? {
        do {
            _ = try validate(json)
            return nil
        } catch let error as UpdateProfilePayloadError {
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func acceptsStringIDAndObjectTraits() throws {
        let payload = try validate(#"{"user_id":"u1","traits":{"b":1,"a":2},"extra":true}"#)
        #expect(payload.userID == "u1")
        #expect(payload.traits.keys == ["b", "a"])
    }

    @Test func coercesScalarIDsAsSegmentDoes() throws {
        #expect(try validate(#"{"user_id":21,"traits":{}}"#).userID == "21")
        #expect(try validate(#"{"user_id":1.5,"traits":{}}"#).userID == "1.5")
        #expect(try validate(#"{"user_id":true,"traits":{}}"#).userID == "true")
        #expect(try validate(#"{"user_id":null,"traits":{}}"#).userID == "")
        #expect(try validate(#"{"user_id":["x"],"traits":{}}"#).userID == "x")
    }

    @Test func missingFieldsUseTheContractsWording() {
        #expect(problems(#"{"traits":{}}"#) == "The root value is missing the required field 'user_id'.")
        #expect(problems(#"{"user_id":"u"}"#) == "The root value is missing the required field 'traits'.")
        #expect(
            problems("{}")
                == "The root value is missing the required field 'user_id'. The root value is missing the required field 'traits'.")
    }

    @Test func wrongTypesAreNamed() {
        #expect(problems(#"{"user_id":{"a":1},"traits":{}}"#) == "The value at /user_id must be a string but it was an object.")
        #expect(problems(#"{"user_id":["a","b"],"traits":{}}"#) == "The value at /user_id must be a string but it was an array.")
        #expect(problems(#"{"user_id":"u","traits":"x"}"#) == "The value at /traits must be an object but it was a string.")
        #expect(problems(#"{"user_id":"u","traits":null}"#) == "The value at /traits must be an object but it was null.")
        #expect(problems(#"[1]"#) == "The root value must be an object but it was an array.")
    }
}
