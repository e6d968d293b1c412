import Testing
@testable import AdobeTarget

@Test func moduleBuilds() {}
