import EventStore
import Foundation
import JSONKit
import MappingKit
import SegmentIngest

/// The mappings in force, changed at run time through the admin API.
///
/// The config file seeds them; once an operator changes one through the admin API the whole
/// list is persisted in the store (setting `mappings`) and wins over the file from then on,
/// across restarts and reloads, so a restart never silently undoes an operator's change.
final class MappingRegistry: @unchecked Sendable {
    static let settingName = "mappings"

    /// What ingest reads on every request.
    let mappingSet: MappingSet
    private let store: any EventStore
    private let lock = NSLock()
    private(set) var isAdminManaged: Bool

    init(configured: [ActionMapping], store: any EventStore) throws {
        self.store = store
        if let persisted = try store.setting(named: Self.settingName) {
            switch Self.parseList(persisted) {
            case .success(let mappings):
                mappingSet = MappingSet(mappings)
                isAdminManaged = true
            case .failure(let problems):
                throw ServiceStartError(
                    "the mappings saved through the admin API in the data dir no longer validate:\n\(problems.description)\nfix them with PUT /admin/mappings/{id} after starting with a data dir copy, or remove the setting")
            }
        } else {
            mappingSet = MappingSet(configured)
            isAdminManaged = false
        }
    }

    var current: [ActionMapping] { mappingSet.currentMappings }

    /// The config file's mappings after SIGHUP; ignored once the admin API manages them.
    func reloadFromConfiguration(_ mappings: [ActionMapping]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !isAdminManaged else { return false }
        mappingSet.replace(with: mappings)
        return true
    }

    enum PutResult {
        case created(ActionMapping)
        case replaced(ActionMapping)
    }

    /// Validates exactly as the config file is validated, persists, then swaps the set in.
    func put(id: String, definition: JSONValue) -> Result<PutResult, ConfigurationProblems> {
        guard var object = definition.objectValue else {
            return .failure(ConfigurationProblems([ConfigurationProblem([], "the body must be a mapping object with subscription, action and mapping")]))
        }
        if let bodyID = object["id"] {
            guard bodyID == .string(id) else {
                return .failure(ConfigurationProblems([ConfigurationProblem([.key("id")],
                    "is \(bodyID.jsonString) but the URL says \"\(id)\"; leave it out or make them equal")]))
            }
        } else {
            var withID = JSONObject([("id", JSONValue.string(id))])
            for (key, value) in object { withID[key] = value }
            object = withID
        }
        let mapping: ActionMapping
        switch ActionMapping.parse(.object(object), at: []) {
        case .success(let parsed): mapping = parsed
        case .failure(let problems): return .failure(problems)
        }

        lock.lock()
        defer { lock.unlock() }
        var mappings = mappingSet.currentMappings
        let created: Bool
        if let index = mappings.firstIndex(where: { $0.id == id }) {
            mappings[index] = mapping
            created = false
        } else {
            guard mappings.count < DestinationConfiguration.maximumMappingCount else {
                return .failure(ConfigurationProblems([ConfigurationProblem([],
                    "there are already \(DestinationConfiguration.maximumMappingCount) mappings, the most allowed; delete one first")]))
            }
            mappings.append(mapping)
            created = true
        }
        if let problem = persist(mappings) { return .failure(problem) }
        mappingSet.replace(with: mappings)
        return .success(created ? .created(mapping) : .replaced(mapping))
    }

    /// `nil` when no mapping has that id.
    func delete(id: String) -> Result<Bool, ConfigurationProblems> {
        lock.lock()
        defer { lock.unlock() }
        var mappings = mappingSet.currentMappings
        guard let index = mappings.firstIndex(where: { $0.id == id }) else { return .success(false) }
        mappings.remove(at: index)
        if let problem = persist(mappings) { return .failure(problem) }
        mappingSet.replace(with: mappings)
        return .success(true)
    }

    private func persist(_ mappings: [ActionMapping]) -> ConfigurationProblems? {
        do {
            try store.setSetting(.array(mappings.map(\.json)), named: Self.settingName)
            isAdminManaged = true
            return nil
        } catch {
            return ConfigurationProblems([ConfigurationProblem([], "could not save the mappings in the data dir: \(error.description); nothing was changed")])
        }
    }

    static func parseList(_ value: JSONValue) -> Result<[ActionMapping], ConfigurationProblems> {
        guard let entries = value.arrayValue else {
            return .failure(ConfigurationProblems([ConfigurationProblem([], "the saved mappings are not a JSON array")]))
        }
        var mappings: [ActionMapping] = []
        var problems: [ConfigurationProblem] = []
        for (index, entry) in entries.enumerated() {
            switch ActionMapping.parse(entry, at: [.key("mappings"), .index(index)]) {
            case .success(let mapping): mappings.append(mapping)
            case .failure(let failure): problems.append(contentsOf: failure.problems)
            }
        }
        return problems.isEmpty ? .success(mappings) : .failure(ConfigurationProblems(problems))
    }
}
