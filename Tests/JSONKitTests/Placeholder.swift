import Testing
@testable import JSONKit

@Test func moduleBuilds() {}
