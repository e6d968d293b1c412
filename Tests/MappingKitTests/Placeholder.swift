import Testing
@testable import MappingKit

@Test func moduleBuilds() {}
