// Subscription (FQL) matching throughput: evaluations per second on one core over an event that
// is parsed once, so the figure is the evaluator alone. Goal: ≥ 5,000,000/s for `type = "identify"`.
import Foundation
import JSONKit
import MappingKit

func runSubscriptionBenchmarks(samplesDirectory: String) {
    let samplePath = (samplesDirectory as NSString).appendingPathComponent("identify.json")
    guard let bytes = FileManager.default.contents(atPath: samplePath) else {
        print("Subscription: cannot read \(samplePath); pass --samples DIR (the folder with identify.json)")
        return
    }
    let event: JSONValue
    do {
        event = try JSONValue(parsing: Array(bytes))
    } catch {
        print("Subscription: \(samplePath) is not valid JSON: \(error)")
        return
    }

    let cases: [(label: String, source: String)] = [
        ("simple", #"type = "identify""#),
        ("compound", #"type = "identify" and traits.logins >= 5 and (traits.plan = "enterprise" or contains(traits.email, "@example.com")) and context.library.name != null"#),
        ("no match", #"event = "Order Completed" or (type = "track" and match(properties.sku, "ABC*"))"#),
    ]
    for (label, source) in cases {
        let subscription: Subscription
        do {
            subscription = try Subscription(parsing: source)
        } catch {
            print("Subscription \(label): \(error)")
            continue
        }
        let (rate, matched) = measureEvaluations(subscription, event)
        let formatted = rate.formatted(.number.precision(.fractionLength(0)))
        print("Subscription \(label) (\(matched ? "matches" : "no match")): \(formatted) evaluations/s  [\(source)]")
    }
}

/// Best of three runs of about one second each.
private func measureEvaluations(_ subscription: Subscription, _ event: JSONValue) -> (rate: Double, matched: Bool) {
    let clock = ContinuousClock()
    let batch = 100_000
    var best = 0.0
    var matches = 0
    for _ in 0..<3 {
        var evaluations = 0
        let start = clock.now
        var elapsed = Duration.zero
        repeat {
            for _ in 0..<batch where subscription.matches(event) { matches &+= 1 }
            evaluations += batch
            elapsed = clock.now - start
        } while elapsed < .seconds(1)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        best = max(best, Double(evaluations) / seconds)
    }
    // Using the count keeps the optimiser from discarding the evaluations.
    return (best, matches > 0)
}
