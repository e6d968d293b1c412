import Testing
@testable import JSONKit

/// `utf8Equal` relies on how 64-bit Swift lays out small strings; these fail if a toolchain
/// changes that layout, before a wrong answer could reach a key lookup.
@Suite struct StringLayoutTests {
    private func bits(_ string: String) -> (UInt64, UInt64) { unsafeBitCast(string, to: (UInt64, UInt64).self) }

    @Test func smallStringsAreFlaggedAndLargeOnesAreNot() {
        for text in ["", "a", "userId", "123456789012345", "é", "日本"] {
            #expect(bits(text).1 & smallStringFlag != 0, "\(text)")
        }
        for text in ["1234567890123456", String(repeating: "x", count: 40)] {
            #expect(bits(text).1 & smallStringFlag == 0, "\(text)")
        }
    }

    @Test func equalSmallStringsHaveEqualRepresentations() {
        let built = String(unsafeUninitializedCapacity: 6) { buffer in
            for (offset, byte) in "userId".utf8.enumerated() { buffer[offset] = byte }
            return 6
        }
        var appended = "user"
        appended += "Id"
        let sliced = String("xuserId".dropFirst())
        for other in [built, appended, sliced] {
            #expect(bits(other) == bits("userId"))
        }
        #expect(bits(String(decoding: [0xC3, 0xA9], as: UTF8.self)) == bits("é"))
    }

    @Test func byteEqualityAcrossRepresentations() {
        var large = String(repeating: "x", count: 40)
        large.removeLast(37)  // three bytes, possibly still in large storage
        #expect(utf8Equal(large, "xxx"))
        #expect(!utf8Equal(large, "xxy"))
        #expect(utf8Equal("userId", "user" + "Id"))
        #expect(!utf8Equal("userId", "traits"))
        #expect(!utf8Equal("é", "e\u{301}"))  // canonically equivalent, different bytes
    }
}
