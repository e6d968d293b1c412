// Benchmarks of pure code, run in release mode by `make bench` (scripts/bench.sh).
// Usage: destination-bench [json|mapping|subscription|all] [--samples DIR]
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let which = arguments.first { !$0.hasPrefix("-") } ?? "all"
let samplesDirectory: String = {
    if let index = arguments.firstIndex(of: "--samples"), arguments.index(after: index) < arguments.endIndex {
        return arguments[arguments.index(after: index)]
    }
    return "../shared/samples"
}()

if which == "json" || which == "all" { runJSONBenchmarks(samplesDirectory: samplesDirectory) }
if which == "mapping" || which == "all" { runMappingBenchmarks(samplesDirectory: samplesDirectory) }
if which == "subscription" || which == "all" { runSubscriptionBenchmarks(samplesDirectory: samplesDirectory) }
