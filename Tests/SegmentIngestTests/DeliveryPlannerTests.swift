import HTTPServer
import JSONKit
import Logging
import MappingKit
import Testing
@testable import SegmentIngest

func actionMapping(_ text: String) throws -> ActionMapping {
    try ActionMapping.parse(try json(bytes(text)), at: []).get()
}

@Suite struct DeliveryPlannerTests {
    let updateProfile = #"""
        {"id":"update-profile","subscription":"type = \"identify\"","action":"updateProfile",
         "mapping":{"traits":{"@path":"$.traits"}}}
        """#

    @Test func matchingMappingPlansAnUpdateWithTheDefaultUserId() throws {
        let mapping = try actionMapping(updateProfile)
        let plan = DeliveryPlanner.plan(try json(Samples.identify), mappings: [mapping])
        #expect(plan.failures.isEmpty)
        #expect(plan.deliveries.map(\.mappingID) == ["update-profile"])
        #expect(plan.deliveries.first?.userID == "97980cfea0067")
        #expect(plan.deliveries.first?.traits == (try json(Samples.identify))["traits"]?.objectValue)
    }

    @Test func anonymousIdIsTheFallback() throws {
        let plan = DeliveryPlanner.plan(try json(Samples.identifyAnonymous), mappings: [try actionMapping(updateProfile)])
        #expect(plan.deliveries.first?.userID == (try json(Samples.identifyAnonymous))["anonymousId"]?.stringValue)
    }

    @Test func nonMatchingAndDisabledMappingsDoNothing() throws {
        let disabled = try actionMapping(#"""
            {"id":"off","enabled":false,"subscription":"type = \"identify\"","mapping":{"traits":{"@path":"$.traits"}}}
            """#)
        let plan = DeliveryPlanner.plan(try json(Samples.track), mappings: [try actionMapping(updateProfile), disabled])
        #expect(plan == DeliveryPlan())
        #expect(DeliveryPlanner.plan(try json(Samples.identify), mappings: [disabled]) == DeliveryPlan())
    }

    @Test func userIdResolvingToNothingIsAMappingError() throws {
        let mapping = try actionMapping(#"""
            {"id":"by-email","subscription":"type = \"identify\"",
             "mapping":{"user_id":{"@path":"$.traits.crmId"},"traits":{"@path":"$.traits"}}}
            """#)
        let plan = DeliveryPlanner.plan(try json(Samples.identify), mappings: [mapping])
        #expect(plan.deliveries.isEmpty)
        #expect(plan.failures == [
            MappingFailure(mappingID: "by-email", reason: "The root value is missing the required field 'user_id'.")
        ])
    }

    @Test func everyMatchingMappingContributesInOrder() throws {
        let second = try actionMapping(#"""
            {"id":"plan-only","subscription":"traits.plan = \"premium\"",
             "mapping":{"traits":{"plan":{"@path":"$.traits.plan"}}}}
            """#)
        let plan = DeliveryPlanner.plan(try json(Samples.identify), mappings: [try actionMapping(updateProfile), second])
        #expect(plan.deliveries.map(\.mappingID) == ["update-profile", "plan-only"])
        #expect(plan.deliveries.last?.traits == ["plan": "premium"])
    }

    @Test func mappingSetSwapsForLaterRequests() async throws {
        let mappings = MappingSet()
        let sink = RecordingSink()
        let service = IngestService(
            configuration: IngestConfiguration(), mappings: mappings, sink: sink, logger: Logger(label: "test"))
        func post(_ body: [UInt8]) async -> HTTPResponse {
            await withCheckedContinuation { continuation in
                service.handle(
                    HTTPRequest(method: .POST, target: "/webhook", body: body), route: .webhook,
                    writer: HTTPResponseWriter { continuation.resume(returning: $0) })
            }
        }
        _ = await post(Samples.identify)
        mappings.replace(with: [try actionMapping(updateProfile)])
        _ = await post(Samples.identifyAnonymous)
        let plans = sink.storedSubmissions.map { $0.events.map(\.plan.deliveries.count) }
        #expect(plans == [[0], [1]])
    }
}
