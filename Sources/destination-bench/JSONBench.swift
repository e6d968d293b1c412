// JSON throughput: our JSONKit against Foundation's JSONSerialization, side by side in the same
// process on the same bytes. Parsing is timed in alternating rounds (ours, Foundation's, five
// times; best of each), serialising as the best of three runs each; a run repeats the work
// until about `BENCH_SECONDS` (default 1) has passed for the all-samples rows and a quarter of
// that for each single file.
//
// `BENCH_FIXED_ITERATIONS=N` (with `BENCH_FIXED_WORK=parse|serialize|foundation`) instead
// repeats a fixed amount of work without timing, for instruction counts on a shared machine:
//   BENCH_FIXED_ITERATIONS=550 valgrind --tool=callgrind destination-bench json --samples DIR
// (subtract a run with fewer iterations to leave out start-up).
// `BENCH_FIXED_WORK=fql|mapping` repeats the compound subscription / default mapping over
// identify.json instead, so that changes to `JSONObject` lookups can be counted the same way.
import Foundation
import JSONKit
import MappingKit

nonisolated(unsafe) private var benchmarkSink = 0

@inline(never)
private func keep(_ value: Int) { benchmarkSink &+= value }

private struct Sample {
    let name: String
    let bytes: [UInt8]
    let data: Data
    let value: JSONValue
    let foundationObject: Any
}

/// How many calls of `body` take about `seconds`.
private func calibratedCalls(seconds: Double, _ body: () -> Void) -> Int {
    let clock = ContinuousClock()
    var calls = 1
    while true {
        let elapsed = clock.measure { for _ in 0..<calls { body() } }
        if elapsed >= .milliseconds(50) {
            return max(1, Int(seconds / (elapsed / calls).seconds))
        }
        calls *= 2
    }
}

/// Throughput in MB/s (10^6 bytes per second) of `body`, which processes `bytes` per call.
private func throughput(bytes: Int, seconds: Double, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let calls = calibratedCalls(seconds: seconds, body)
    var best = Double.infinity
    for _ in 0..<3 {
        let elapsed = clock.measure { for _ in 0..<calls { body() } }.seconds
        best = min(best, elapsed)
    }
    return Double(bytes) * Double(calls) / best / 1_000_000
}

/// Throughputs in MB/s of two ways of doing the same work on `bytes`, timed in alternating
/// rounds (best of five each), so that load from other processes on a shared machine falls on
/// both alike instead of on whichever happened to run during a busy second.
private func throughputs(
    bytes: Int, seconds: Double, _ first: () -> Void, _ second: () -> Void
) -> (first: Double, second: Double) {
    let clock = ContinuousClock()
    let firstCalls = calibratedCalls(seconds: seconds / 2, first)
    let secondCalls = calibratedCalls(seconds: seconds / 2, second)
    var bestFirst = Double.infinity
    var bestSecond = Double.infinity
    for _ in 0..<5 {
        bestFirst = min(bestFirst, clock.measure { for _ in 0..<firstCalls { first() } }.seconds)
        bestSecond = min(bestSecond, clock.measure { for _ in 0..<secondCalls { second() } }.seconds)
    }
    return (
        Double(bytes) * Double(firstCalls) / bestFirst / 1_000_000,
        Double(bytes) * Double(secondCalls) / bestSecond / 1_000_000
    )
}

private extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}

private func column(_ text: String, _ width: Int, right: Bool = true) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

private func format(_ value: Double) -> String { String(format: "%.1f", value) }

func runJSONBenchmarks(samplesDirectory: String) {
    let seconds = ProcessInfo.processInfo.environment["BENCH_SECONDS"].flatMap(Double.init) ?? 1.0
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: samplesDirectory)) ?? [])
        .filter { $0.hasSuffix(".json") }.sorted()
    var samples: [Sample] = []
    for name in names {
        guard let data = FileManager.default.contents(atPath: samplesDirectory + "/" + name) else { continue }
        let bytes = [UInt8](data)
        do {
            let value = try JSONParser().parse(bytes)
            let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            samples.append(Sample(name: name, bytes: bytes, data: data, value: value, foundationObject: object))
        } catch {
            print("JSON: skipping \(name): \(error)")
        }
    }
    guard !samples.isEmpty else {
        print("JSON: no *.json samples in \(samplesDirectory); pass --samples DIR")
        return
    }
    if let iterations = ProcessInfo.processInfo.environment["BENCH_FIXED_ITERATIONS"].flatMap(Int.init) {
        runFixedWork(samples, iterations: iterations)
        return
    }

    print("JSON parse and serialize throughput, MB/s (parse: best of 5 alternating rounds; serialize: best of 3; BENCH_SECONDS=\(seconds))")
    print(
        column("sample", 30, right: false) + column("bytes", 7) + column("parse", 9) + column("Foundation", 12)
            + column("ratio", 8) + column("serialize", 11) + column("Foundation", 12) + column("ratio", 8))

    func row(_ name: String, _ group: [Sample], seconds: Double) -> (parse: Double, foundation: Double) {
        let size = group.reduce(0) { $0 + $1.bytes.count }
        // Both build a complete tree from the same bytes and free it.
        let (parse, foundationParse) = throughputs(
            bytes: size, seconds: seconds,
            {
                for sample in group {
                    if case .object(let object)? = try? JSONParser().parse(sample.bytes) { keep(object.count) } else { keep(1) }
                }
            },
            {
                for sample in group {
                    let object = try? JSONSerialization.jsonObject(with: sample.data, options: [.fragmentsAllowed])
                    keep(object == nil ? 0 : 1)
                }
            })
        // Serialised size differs from the (pretty-printed) input, so serialize throughput is
        // counted in output bytes.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(size)
        let compactSize = group.reduce(0) { $0 + JSONSerializer.serialize($1.value).count }
        let serialize = throughput(bytes: compactSize, seconds: seconds) {
            for sample in group {
                buffer.removeAll(keepingCapacity: true)
                JSONSerializer.serialize(sample.value, into: &buffer)
                keep(buffer.count)
            }
        }
        let foundationSerialize = throughput(bytes: compactSize, seconds: seconds) {
            for sample in group {
                let data = try? JSONSerialization.data(withJSONObject: sample.foundationObject, options: [.fragmentsAllowed])
                keep(data?.count ?? 0)
            }
        }
        print(
            column(name, 30, right: false) + column(String(size), 7) + column(format(parse), 9)
                + column(format(foundationParse), 12) + column(format(parse / foundationParse) + "x", 8)
                + column(format(serialize), 11) + column(format(foundationSerialize), 12)
                + column(format(serialize / foundationSerialize) + "x", 8))
        return (parse, foundationParse)
    }

    for sample in samples { _ = row(sample.name, [sample], seconds: seconds / 4) }
    let overall = row("all samples", samples, seconds: seconds)
    let goal = 8.0
    print("overall parse: \(format(overall.parse)) MB/s, \(format(overall.parse / overall.foundation))x JSONSerialization"
        + " (goal \(format(goal))x): \(overall.parse / overall.foundation >= goal ? "met" : "NOT met")")
    if benchmarkSink == 42 { print("") }  // keeps the measured work observable
}

/// A fixed amount of work and no timing, for instruction counts (`valgrind --tool=callgrind`,
/// `perf stat -e instructions`), which stay meaningful on a loaded machine where wall-clock
/// throughput does not. `BENCH_FIXED_WORK=parse|serialize|foundation` picks what is repeated.
private func runFixedWork(_ samples: [Sample], iterations: Int) {
    let work = ProcessInfo.processInfo.environment["BENCH_FIXED_WORK"] ?? "parse"
    if work == "fql" || work == "mapping" {
        runFixedLookupWork(samples, work: work, iterations: iterations)
        return
    }
    var buffer: [UInt8] = []
    for _ in 0..<iterations {
        for sample in samples {
            switch work {
            case "serialize":
                buffer.removeAll(keepingCapacity: true)
                JSONSerializer.serialize(sample.value, into: &buffer)
                keep(buffer.count)
            case "foundation":
                let object = try? JSONSerialization.jsonObject(with: sample.data, options: [.fragmentsAllowed])
                keep(object == nil ? 0 : 1)
            default:
                if case .object(let object)? = try? JSONParser().parse(sample.bytes) { keep(object.count) } else { keep(1) }
            }
        }
    }
    let bytes = samples.reduce(0) { $0 + $1.bytes.count } * iterations
    print("JSON fixed work: \(work) of \(samples.count) samples x \(iterations) (\(bytes) input bytes)")
    if benchmarkSink == 42 { print("") }
}

/// Object lookups as the subscription and mapping benchmarks make them, a fixed number of times
/// (`iterations` × 1000 evaluations) over identify.json.
private func runFixedLookupWork(_ samples: [Sample], work: String, iterations: Int) {
    guard let event = samples.first(where: { $0.name == "identify.json" })?.value else {
        print("JSON fixed work: \(work) needs identify.json in the samples folder")
        return
    }
    do {
        if work == "fql" {
            let subscription = try Subscription(parsing:
                #"type = "identify" and traits.logins >= 5 and (traits.plan = "enterprise" or contains(traits.email, "@example.com")) and context.library.name != null"#)
            for _ in 0..<(iterations * 1000) where subscription.matches(event) { keep(1) }
        } else {
            let mapping = try Mapping(JSONValue(parsing: """
                {
                  "user_id": { "@if": { "exists": { "@path": "$.userId" }, "then": { "@path": "$.userId" },
                                        "else": { "@path": "$.anonymousId" } } },
                  "traits": { "@path": "$.traits" }
                }
                """))
            for _ in 0..<(iterations * 1000) {
                if case .object(let object)? = try mapping.resolve(event) { keep(object.count) }
            }
        }
    } catch {
        print("JSON fixed work: \(work) setup failed: \(error)")
        return
    }
    print("JSON fixed work: \(work) over identify.json x \(iterations * 1000)")
    if benchmarkSink == 42 { print("") }
}
