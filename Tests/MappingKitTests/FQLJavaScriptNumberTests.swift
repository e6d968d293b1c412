import Testing
@testable import MappingKit

@Suite("JavaScript number conversions used by FQL")
struct FQLJavaScriptNumberTests {
    /// `String(number)` in JavaScript, e.g. from `node -p 'String(1e21)'`.
    @Test(arguments: [
        (1.0, "1"), (1.5, "1.5"), (100.0, "100"), (-1.5, "-1.5"), (-0.0, "0"), (0.0, "0"),
        (27.5, "27.5"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"), (1.2345678901234568e22, "1.2345678901234568e+22"),
        (0.000001, "0.000001"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"), (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"),
        (Double.infinity, "Infinity"), (-Double.infinity, "-Infinity"), (Double.nan, "NaN"),
        (9007199254740993.0, "9007199254740992"), (0.5, "0.5"), (1234.5678, "1234.5678"),
    ] as [(Double, String)])
    func format(_ number: Double, _ expected: String) {
        #expect(FQLJavaScriptNumber.format(number) == expected)
    }

    /// `Number(string)` in JavaScript.
    @Test(arguments: [
        ("", 0.0), ("   ", 0), ("12", 12), (" 12 ", 12), ("\n\t12\u{A0}", 12), ("+5", 5), ("-5", -5),
        ("1.5", 1.5), (".5", 0.5), ("5.", 5), ("-.5", -0.5), ("1e3", 1000), ("1E-2", 0.01), ("007", 7),
        ("0x1F", 31), ("0X1f", 31), ("0o17", 15), ("0b101", 5), ("Infinity", .infinity),
        ("-Infinity", -.infinity), ("+Infinity", .infinity), ("1e400", .infinity),
    ] as [(String, Double)])
    func parse(_ text: String, _ expected: Double) {
        #expect(FQLJavaScriptNumber.parse(text) == expected)
    }

    @Test(arguments: ["abc", "1_000", "+-1", "-0x10", "0x", "0xG", "1e", "1e+", ".", "-", "nan", "NaN", "inf",
                      "infinity", "0x1.8p1", "1 2", "1,5", "5px", "true", "null"])
    func parseRejects(_ text: String) {
        #expect(FQLJavaScriptNumber.parse(text).isNaN)
    }
}
