import Foundation

/// The bearer token in force, replaceable while deliveries run (an admin rotating an
/// expiring token). Never printed: its description hides the value.
public final class BearerTokenProvider: @unchecked Sendable, CustomStringConvertible {
    private let lock = NSLock()
    private var storedToken: String?
    private var storedGeneration = 0

    /// - Parameter token: `nil` or empty sends no `Authorization` header.
    public init(token: String? = nil) {
        storedToken = token.flatMap { $0.isEmpty ? nil : $0 }
    }

    public var token: String? {
        lock.withLock { storedToken }
    }

    /// Counts replacements, so that a delivery paused on 401/403 can tell the token changed.
    public var generation: Int {
        lock.withLock { storedGeneration }
    }

    public func replace(with token: String?) {
        lock.withLock {
            storedToken = token.flatMap { $0.isEmpty ? nil : $0 }
            storedGeneration += 1
        }
    }

    public var description: String {
        token == nil ? "BearerTokenProvider(no token)" : "BearerTokenProvider(token set)"
    }
}
