import Testing
@testable import JSONKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64: a small deterministic generator so failures reproduce.
struct SeededRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Random JSON values covering escapes, non-ASCII text, awkward numbers and nesting.
struct ValueGenerator {
    var random: SeededRandom
    static let alphabet: [Unicode.Scalar] = [
        "a", "b", "z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1f}", "\u{7f}",
        "é", "ß", "\u{2028}", "€", "日", "😀", "\u{10FFFF}", "\u{FFFD}",
    ]

    mutating func string() -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<random.below(24) { scalars.append(Self.alphabet[random.below(Self.alphabet.count)]) }
        return String(scalars)
    }

    mutating func number() -> Double {
        switch random.below(5) {
        case 0: return Double(Int64(bitPattern: random.next()) >> Int64(random.below(64)))
        case 1: return Double(random.below(100_000)) / 100
        case 2:
            let value = Double(bitPattern: random.next())
            return value.isFinite ? value : 0
        case 3: return [0, -0.0, 1e21, 1e-7, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 9_007_199_254_740_994][random.below(7)]
        default: return Double(random.below(1000)) * 1e-9
        }
    }

    mutating func value(depth: Int = 0) -> JSONValue {
        let kind = depth >= 5 ? random.below(4) : random.below(6)
        switch kind {
        case 0: return [.null, .bool(true), .bool(false)][random.below(3)]
        case 1: return .number(number())
        case 2, 3: return .string(string())
        case 4: return .array((0..<random.below(6)).map { _ in value(depth: depth + 1) })
        default:
            var object = JSONObject()
            // Occasionally past the hash-index threshold.
            let count = random.below(8) == 0 ? 20 + random.below(20) : random.below(7)
            for _ in 0..<count { object[string()] = value(depth: depth + 1) }
            return .object(object)
        }
    }
}

@Suite struct RoundTripTests {
    @Test func randomValuesRoundTrip() throws {
        var generator = ValueGenerator(random: SeededRandom(seed: 0xC0FFEE))
        var buffer: [UInt8] = []
        for _ in 0..<2_000 {
            let value = generator.value()
            buffer.removeAll(keepingCapacity: true)
            JSONSerializer.serialize(value, into: &buffer)
            let parsed = try JSONParser().parse(buffer)
            #expect(parsed == value)
            #expect(JSONSerializer.serialize(parsed) == buffer)
            let pretty = JSONSerializer.serializePretty(value)
            #expect(try JSONParser().parse(pretty) == value)
        }
    }

    @Test func equalityAndHashingAgree() throws {
        var generator = ValueGenerator(random: SeededRandom(seed: 7))
        for _ in 0..<300 {
            let value = generator.value()
            let copy = try JSONValue(parsing: value.jsonString)
            #expect(copy == value)
            #expect(copy.hashValue == value.hashValue)
        }
    }
}

@Suite struct SampleTests {
    static let directory = "/work/shared/samples"

    static var sampleFiles: [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".json") { names.append(name) }
        }
        return names.sorted()
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let read = fread(&chunk, 1, chunk.count, file)
            if read == 0 { break }
            bytes += chunk[0..<read]
        }
        return bytes
    }

    /// The canonical compact form, by a separate route: drop the whitespace outside strings.
    static func minify(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                output.append(byte)
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
            } else if byte == 0x22 {
                inString = true
                output.append(byte)
            } else if ![0x20, 0x09, 0x0A, 0x0D].contains(byte) {
                output.append(byte)
            }
        }
        return output
    }

    @Test func samplesExist() {
        #expect(Self.sampleFiles.count >= 6)
    }

    @Test(arguments: sampleFiles)
    func sampleReserialisesToCanonicalForms(name: String) throws {
        let bytes = try #require(Self.read(Self.directory + "/" + name))
        let value = try JSONParser().parse(bytes)
        // The samples are written as JSON.stringify(value, null, 2) writes them.
        #expect(JSONSerializer.serialize(value) == Self.minify(bytes))
        #expect(JSONSerializer.serializePretty(value) == bytes)
    }
}
