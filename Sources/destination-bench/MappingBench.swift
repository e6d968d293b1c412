import Foundation
import JSONKit
import MappingKit

/// Mapped events per second for the contract's default Update Profile mapping over the
/// identify sample: best of three runs of about a second each, the sample parsed once.
func runMappingBenchmarks(samplesDirectory: String) {
    let samplePath = samplesDirectory + "/identify.json"
    guard let data = FileManager.default.contents(atPath: samplePath) else {
        print("Mapping: cannot read \(samplePath); pass --samples DIR pointing at the sample payloads")
        return
    }
    let event: JSONValue
    let mapping: Mapping
    do {
        event = try JSONValue(parsing: Array(data))
        mapping = try Mapping(JSONValue(parsing: """
            {
              "user_id": { "@if": { "exists": { "@path": "$.userId" }, "then": { "@path": "$.userId" },
                                    "else": { "@path": "$.anonymousId" } } },
              "traits": { "@path": "$.traits" }
            }
            """))
    } catch {
        print("Mapping: benchmark setup failed: \(error)")
        return
    }

    var best = 0.0
    for _ in 0..<3 {
        var count = 0
        var sink = 0
        let clock = ContinuousClock()
        let start = clock.now
        var elapsed = Duration.zero
        while elapsed < .seconds(1) {
            for _ in 0..<1000 {
                if case .object(let object)? = try? mapping.resolve(event) { sink &+= object.count }
            }
            count += 1000
            elapsed = clock.now - start
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        best = max(best, Double(count) / seconds)
        if sink == 0 { print("Mapping: the mapping produced nothing") }
    }
    print("Mapping: default Update Profile mapping over identify.json: \(Int(best)) events/s (best of 3)")
}
