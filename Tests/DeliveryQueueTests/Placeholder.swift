import Testing
@testable import DeliveryQueue

@Test func moduleBuilds() {}
