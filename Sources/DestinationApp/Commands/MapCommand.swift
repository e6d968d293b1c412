import ArgumentParser
import JSONKit
import MappingKit

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Apply one mapping-kit mapping to one event and print the resolved JSON.",
        discussion: "A mapping that resolves to nothing prints nothing. `-` reads standard input."
    )

    @Option(name: .long, help: "The mapping-kit mapping (a JSON file, or - for stdin).")
    var mapping: String

    @Option(name: .long, help: "The Segment event (a JSON file, or - for stdin).")
    var event: String

    @Flag(name: .long, help: "Print the result on one line, as JSON.stringify does.")
    var compact = false

    func validate() throws {
        if mapping == "-" && event == "-" {
            throw ValidationError("--mapping and --event cannot both read standard input; put one in a file")
        }
    }

    func run() throws {
        do {
            let mappingJSON = try InputFile.readJSON(mapping, purpose: "mapping")
            let eventJSON = try InputFile.readJSON(event, purpose: "event")
            let compiled: Mapping
            do {
                compiled = try Mapping(mappingJSON)
            } catch {
                throw CommandFailure("the mapping is invalid: " + error.problems.map { $0.rendered(prefix: "$") }
                    .joined(separator: "; "))
            }
            let resolved: JSONValue?
            do {
                resolved = try compiled.resolve(eventJSON)
            } catch {
                throw CommandFailure("the mapping cannot be applied to this event: \(error.description)")
            }
            guard let resolved else { return }
            var output = compact ? JSONSerializer.serialize(resolved) : JSONSerializer.serializePretty(resolved)
            output.append(UInt8(ascii: "\n"))
            StandardStreams.writeOut(output)
        } catch let failure as CommandFailure {
            StandardStreams.fail(failure.description)
        }
    }
}
