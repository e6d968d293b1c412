/// A credential that can be compared and used but never printed: its description,
/// debug description and any interpolation show `<redacted>`, so a secret cannot leak
/// into a log line, an error body or `check-config` output by accident.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The raw value, for the few places that must use it (signing, headers).
    public let revealedValue: String

    public init(_ value: String) {
        revealedValue = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
