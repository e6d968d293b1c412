import ArgumentParser

public struct DestinationCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "adobe-target-destination",
        abstract: "A self-hosted Segment destination that forwards profile updates to Adobe Target.",
        subcommands: [ServeCommand.self, MapCommand.self, MatchCommand.self, CheckConfigCommand.self, SimulateAdobeCommand.self, SendTestEventsCommand.self],
        defaultSubcommand: nil
    )

    public init() {}
}
