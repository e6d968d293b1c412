import Foundation
import JSONKit
import MappingKit

/// The mappings in force. The admin API swaps them at run time; ingest reads them once per
/// request, so every event of a request sees the same set.
public protocol MappingProvider: Sendable {
    var currentMappings: [ActionMapping] { get }
}

/// A thread-safe, swappable set of mappings.
public final class MappingSet: MappingProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var mappings: [ActionMapping]

    public init(_ mappings: [ActionMapping] = []) {
        self.mappings = mappings
    }

    public var currentMappings: [ActionMapping] {
        lock.lock()
        defer { lock.unlock() }
        return mappings
    }

    /// Takes effect for requests that start after it returns.
    public func replace(with newMappings: [ActionMapping]) {
        lock.lock()
        mappings = newMappings
        lock.unlock()
    }
}

/// One Adobe Target profile update that a mapping produced for an event.
public struct PlannedDelivery: Sendable, Equatable {
    public var mappingID: String
    /// The Mbox 3rd Party ID.
    public var userID: String
    /// The mapped Profile Attributes, in mapping order.
    public var traits: JSONObject

    public init(mappingID: String, userID: String, traits: JSONObject) {
        self.mappingID = mappingID
        self.userID = userID
        self.traits = traits
    }
}

/// A mapping whose subscription matched an event but which could not be applied to it; it is
/// recorded (dead-lettered as `MAPPING_ERROR`), never dropped silently.
public struct MappingFailure: Sendable, Equatable {
    public var mappingID: String
    public var reason: String

    public init(mappingID: String, reason: String) {
        self.mappingID = mappingID
        self.reason = reason
    }
}

/// What the mappings in force make of one event.
public struct DeliveryPlan: Sendable, Equatable {
    public var deliveries: [PlannedDelivery] = []
    public var failures: [MappingFailure] = []

    public init(deliveries: [PlannedDelivery] = [], failures: [MappingFailure] = []) {
        self.deliveries = deliveries
        self.failures = failures
    }
}

/// Applies each enabled mapping whose subscription matches the event, in mapping order.
public enum DeliveryPlanner {
    public static func plan(_ event: JSONValue, mappings: [ActionMapping]) -> DeliveryPlan {
        var plan = DeliveryPlan()
        // Through the buffer: an array element bound to a variable, or read through the array's
        // subscript, is a copy (a retain and release of each of its fields) for every event.
        mappings.withUnsafeBufferPointer { mappings in
            for position in mappings.indices
            where mappings[position].isEnabled && mappings[position].subscription.matches(event) {
                switch mappings[position].resolve(event) {
                case .update(let userID, let traits):
                    plan.deliveries.append(PlannedDelivery(mappingID: mappings[position].id, userID: userID, traits: traits))
                case .mappingError(let reason):
                    plan.failures.append(MappingFailure(mappingID: mappings[position].id, reason: reason))
                }
            }
        }
        return plan
    }
}
