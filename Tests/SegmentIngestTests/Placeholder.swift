import Testing
@testable import SegmentIngest

@Test func moduleBuilds() {}
