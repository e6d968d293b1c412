import Testing
@testable import DestinationApp

@Test func moduleBuilds() {}
