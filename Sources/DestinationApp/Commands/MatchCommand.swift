import ArgumentParser
import JSONKit
import MappingKit

struct MatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Print whether an event matches a subscription in Segment's FQL trigger language."
    )

    @Option(name: .long, help: "The subscription, e.g. 'type = \"identify\"'.")
    var subscription: String

    @Option(name: .long, help: "The Segment event (a JSON file, or - for stdin).")
    var event: String

    func run() throws {
        do {
            let parsed: Subscription
            do {
                parsed = try Subscription(parsing: subscription)
            } catch {
                throw CommandFailure(error.description)
            }
            let eventJSON = try InputFile.readJSON(event, purpose: "event")
            StandardStreams.writeOut(parsed.matches(eventJSON) ? "true\n" : "false\n")
        } catch let failure as CommandFailure {
            StandardStreams.fail(failure.description)
        }
    }
}
