import Foundation
import JSONKit
import Logging
import MappingKit

/// Values given on the command line; they win over everything else.
public struct ConfigurationOverrides: Sendable {
    public var host: String?
    public var port: Int?
    public var dataDirectory: String?
    public var logLevel: Logger.Level?

    public init(host: String? = nil, port: Int? = nil, dataDirectory: String? = nil, logLevel: Logger.Level? = nil) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.logLevel = logLevel
    }
}

/// Builds a `DestinationConfiguration` from defaults, the JSON config file, environment
/// variables and flags, collecting every problem (each with its JSON path) instead of
/// stopping at the first.
public enum ConfigurationLoader {
    public static let defaultPath = "Config/destination.json"

    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) -> Result<DestinationConfiguration, ConfigurationProblems> {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            return .failure(ConfigurationProblems([ConfigurationProblem([],
                "cannot read the config file \(path): \(describe(error)); create it (Config/destination.json in the repository is an example) or pass --config PATH")]))
        }
        let document: JSONValue
        do {
            document = try JSONParser().parse(bytes)
        } catch {
            return .failure(ConfigurationProblems([ConfigurationProblem([],
                "the config file \(path) is not valid JSON: \(error.description)")]))
        }
        return load(document: document, environment: environment, overrides: overrides)
    }

    public static func load(
        document: JSONValue, environment: [String: String], overrides: ConfigurationOverrides
    ) -> Result<DestinationConfiguration, ConfigurationProblems> {
        var reader = DocumentReader()
        var configuration = DestinationConfiguration()
        reader.read(document, into: &configuration)
        applyEnvironment(environment, to: &configuration, problems: &reader.problems)
        if let host = overrides.host { configuration.server.host = host }
        if let port = overrides.port {
            if (1...65_535).contains(port) {
                configuration.server.port = port
            } else {
                reader.problems.append(ConfigurationProblem([.key("--port")], "must be between 1 and 65535, got \(port)"))
            }
        }
        if let dataDirectory = overrides.dataDirectory { configuration.dataDirectory = dataDirectory }
        if let logLevel = overrides.logLevel { configuration.logLevel = logLevel }
        if reader.problems.isEmpty {
            return .success(configuration)
        }
        return .failure(ConfigurationProblems(reader.problems))
    }

    /// Names of the environment variables of the contract, in the order `check-config` shows them.
    public static let environmentVariables = [
        "PORT", "DATA_DIR", "LOG_LEVEL", "ADOBE_TARGET_CLIENT_CODE", "ADOBE_TARGET_BEARER_TOKEN",
        "ADOBE_TARGET_BASE_URL", "SEGMENT_SHARED_SECRET", "SEGMENT_WRITE_KEYS", "ADMIN_TOKEN", "DATABASE_URL", "REPLICA_ID",
    ]

    static func applyEnvironment(
        _ environment: [String: String], to configuration: inout DestinationConfiguration,
        problems: inout [ConfigurationProblem]
    ) {
        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        if let port = value("PORT") {
            if let number = Int(port), (1...65_535).contains(number) {
                configuration.server.port = number
            } else {
                problems.append(ConfigurationProblem([.key("env"), .key("PORT")], "must be a port number between 1 and 65535, got \"\(port)\""))
            }
        }
        if let directory = value("DATA_DIR") { configuration.dataDirectory = directory }
        if let level = value("LOG_LEVEL") {
            if let parsed = Logger.Level(rawValue: level.lowercased()) {
                configuration.logLevel = parsed
            } else {
                problems.append(ConfigurationProblem([.key("env"), .key("LOG_LEVEL")],
                    "must be one of trace, debug, info, notice, warning, error, critical; got \"\(level)\""))
            }
        }
        if let clientCode = value("ADOBE_TARGET_CLIENT_CODE") {
            if isValidClientCode(clientCode) {
                configuration.adobeTarget.clientCode = clientCode
            } else {
                problems.append(ConfigurationProblem([.key("env"), .key("ADOBE_TARGET_CLIENT_CODE")], clientCodeRule))
            }
        }
        if let token = value("ADOBE_TARGET_BEARER_TOKEN") { configuration.adobeTarget.bearerToken = Secret(token) }
        if let baseURL = value("ADOBE_TARGET_BASE_URL") {
            if let problem = baseURLProblem(baseURL) {
                problems.append(ConfigurationProblem([.key("env"), .key("ADOBE_TARGET_BASE_URL")], problem))
            } else {
                configuration.adobeTarget.baseURL = baseURL
            }
        }
        if let secret = value("SEGMENT_SHARED_SECRET") { configuration.segment.sharedSecret = Secret(secret) }
        if let keys = value("SEGMENT_WRITE_KEYS") {
            configuration.segment.writeKeys = keys.split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
                .map(Secret.init)
        }
        if let token = value("ADMIN_TOKEN") { configuration.admin.token = Secret(token) }
        if let url = value("DATABASE_URL") {
            if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
                configuration.storage.databaseURL = Secret(url)
            } else {
                problems.append(ConfigurationProblem([.key("env"), .key("DATABASE_URL")],
                    "must be a PostgreSQL URL such as postgres://user:password@host:5432/database; unset it to use the embedded SQLite store"))
            }
        }
        if let replica = value("REPLICA_ID") { configuration.storage.replicaID = replica }
    }

    static let clientCodeRule =
        "must be your Adobe Target client code: letters, digits, '-' and '_' only (find it in Adobe Target under Administration > Implementation)"

    static func isValidClientCode(_ code: String) -> Bool {
        !code.isEmpty && code.count <= 64
            && code.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
    }

    /// A reason when `baseURL` cannot be used, else `nil`.
    static func baseURLProblem(_ baseURL: String) -> String? {
        let probe = baseURL.replacingOccurrences(of: "{clientCode}", with: "client")
        guard let components = URLComponents(string: probe), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            return "must be an http(s) URL such as https://{clientCode}.tt.omtrdc.net or http://127.0.0.1:9090, got \"\(baseURL)\""
        }
        if components.query != nil || components.fragment != nil {
            return "must not have a query or fragment, got \"\(baseURL)\""
        }
        return nil
    }

    static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError {
            return "no such file"
        }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}

/// Walks the config document, reading known fields and recording every problem with its path.
struct DocumentReader {
    var problems: [ConfigurationProblem] = []

    mutating func read(_ document: JSONValue, into configuration: inout DestinationConfiguration) {
        guard let root = section(document, at: [], known: ["server", "segment", "adobeTarget", "delivery", "storage", "admin", "mappings"]) else { return }

        if let server = section(root["server"], at: [.key("server")],
            known: ["host", "port", "maxBodyBytes", "maxEventBytes", "requestTimeoutSeconds", "keepAliveIdleTimeoutSeconds", "maxConnections"])
        {
            let path: [PathComponent] = [.key("server")]
            string(server, "host", at: path) { configuration.server.host = $0 }
            integer(server, "port", at: path, in: 1...65_535) { configuration.server.port = $0 }
            integer(server, "maxBodyBytes", at: path, in: 1_024...1_073_741_824) { configuration.server.maxBodyBytes = $0 }
            integer(server, "maxEventBytes", at: path, in: 1_024...16_777_216) { configuration.server.maxEventBytes = $0 }
            seconds(server, "requestTimeoutSeconds", at: path) { configuration.server.requestTimeoutSeconds = $0 }
            seconds(server, "keepAliveIdleTimeoutSeconds", at: path) { configuration.server.keepAliveIdleTimeoutSeconds = $0 }
            integer(server, "maxConnections", at: path, in: 16...1_000_000) { configuration.server.maxConnections = $0 }
        }

        if let segment = section(root["segment"], at: [.key("segment")], known: ["sharedSecret", "writeKeys"]) {
            let path: [PathComponent] = [.key("segment")]
            switch segment["sharedSecret"] {
            case nil, .null?: break
            case .string(let secret) where !secret.isEmpty: configuration.segment.sharedSecret = Secret(secret)
            default: problems.append(ConfigurationProblem(path + [.key("sharedSecret")], "must be a non-empty string or null"))
            }
            switch segment["writeKeys"] {
            case nil, .null?: break
            case .array(let keys):
                for (index, key) in keys.enumerated() {
                    if case .string(let value) = key, !value.isEmpty {
                        configuration.segment.writeKeys.append(Secret(value))
                    } else {
                        problems.append(ConfigurationProblem(path + [.key("writeKeys"), .index(index)], "must be a non-empty string (a Segment source write key)"))
                    }
                }
            default: problems.append(ConfigurationProblem(path + [.key("writeKeys")], "must be an array of write-key strings"))
            }
        }

        if let adobe = section(root["adobeTarget"], at: [.key("adobeTarget")], known: ["clientCode", "bearerToken", "baseURL", "requestTimeoutSeconds"]) {
            let path: [PathComponent] = [.key("adobeTarget")]
            switch adobe["clientCode"] {
            case nil, .null?: break
            case .string(let code) where ConfigurationLoader.isValidClientCode(code): configuration.adobeTarget.clientCode = code
            default: problems.append(ConfigurationProblem(path + [.key("clientCode")], ConfigurationLoader.clientCodeRule + ", or null for sandbox mode"))
            }
            switch adobe["bearerToken"] {
            case nil, .null?: break
            case .string(let token) where !token.isEmpty: configuration.adobeTarget.bearerToken = Secret(token)
            default: problems.append(ConfigurationProblem(path + [.key("bearerToken")], "must be a non-empty string or null"))
            }
            var baseURL: String?
            string(adobe, "baseURL", at: path) { baseURL = $0 }
            if let baseURL {
                if let problem = ConfigurationLoader.baseURLProblem(baseURL) {
                    problems.append(ConfigurationProblem(path + [.key("baseURL")], problem))
                } else {
                    configuration.adobeTarget.baseURL = baseURL
                }
            }
            seconds(adobe, "requestTimeoutSeconds", at: path, upTo: 300) { configuration.adobeTarget.requestTimeoutSeconds = $0 }
        }

        if let delivery = section(root["delivery"], at: [.key("delivery")],
            known: ["concurrency", "maxBackoffSeconds", "maxAgeSeconds", "profileNotFoundRetrySeconds", "rateLimitPerDay", "lookupCacheSeconds", "coalesceSeconds"])
        {
            let path: [PathComponent] = [.key("delivery")]
            integer(delivery, "concurrency", at: path, in: 1...1_024) { configuration.delivery.concurrency = $0 }
            seconds(delivery, "maxBackoffSeconds", at: path) { configuration.delivery.maxBackoffSeconds = $0 }
            seconds(delivery, "maxAgeSeconds", at: path) { configuration.delivery.maxAgeSeconds = $0 }
            seconds(delivery, "profileNotFoundRetrySeconds", at: path) { configuration.delivery.profileNotFoundRetrySeconds = $0 }
            integer(delivery, "rateLimitPerDay", at: path, in: 1...1_000_000_000) { configuration.delivery.rateLimitPerDay = $0 }
            seconds(delivery, "lookupCacheSeconds", at: path, allowZero: true) { configuration.delivery.lookupCacheSeconds = $0 }
            seconds(delivery, "coalesceSeconds", at: path, allowZero: true, upTo: 300) { configuration.delivery.coalesceSeconds = $0 }
        }

        if let storage = section(root["storage"], at: [.key("storage")], known: ["maxQueueDepth", "minFreeDiskBytes", "retentionHours"]) {
            let path: [PathComponent] = [.key("storage")]
            integer(storage, "maxQueueDepth", at: path, in: 1...1_000_000_000) { configuration.storage.maxQueueDepth = $0 }
            integer(storage, "minFreeDiskBytes", at: path, in: 0...Int.max) { configuration.storage.minFreeDiskBytes = $0 }
            seconds(storage, "retentionHours", at: path) { configuration.storage.retentionHours = $0 }
        }

        if let admin = section(root["admin"], at: [.key("admin")], known: ["token"]) {
            switch admin["token"] {
            case nil, .null?: break
            case .string(let token) where token.count >= 16: configuration.admin.token = Secret(token)
            default: problems.append(ConfigurationProblem([.key("admin"), .key("token")], "must be a string of at least 16 characters, or null to disable the admin API"))
            }
        }

        readMappings(root["mappings"], into: &configuration)
    }

    mutating func readMappings(_ value: JSONValue?, into configuration: inout DestinationConfiguration) {
        let path: [PathComponent] = [.key("mappings")]
        guard let value, !value.isNull else { return }
        guard let entries = value.arrayValue else {
            problems.append(ConfigurationProblem(path, "must be an array of mappings"))
            return
        }
        if entries.count > DestinationConfiguration.maximumMappingCount {
            problems.append(ConfigurationProblem(path,
                "has \(entries.count) mappings; at most \(DestinationConfiguration.maximumMappingCount) are allowed, as in Segment: merge or remove some"))
        }
        var firstIndexByID: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            if case .string(let id)? = entry["id"] {
                if let first = firstIndexByID[id] {
                    problems.append(ConfigurationProblem(path + [.index(index), .key("id")],
                        "\"\(id)\" is already the id of $.mappings[\(first)]; ids must be unique"))
                } else {
                    firstIndexByID[id] = index
                }
            }
            switch ActionMapping.parse(entry, at: path + [.index(index)]) {
            case .success(let mapping): configuration.mappings.append(mapping)
            case .failure(let failure): problems.append(contentsOf: failure.problems)
            }
        }
    }

    // MARK: Field readers

    mutating func section(_ value: JSONValue?, at path: [PathComponent], known: Set<String>) -> JSONObject? {
        guard let value, !value.isNull else { return nil }
        guard let object = value.objectValue else {
            problems.append(ConfigurationProblem(path, "must be an object"))
            return nil
        }
        for key in object.keys where !known.contains(key) {
            problems.append(ConfigurationProblem(path + [.key(key)],
                "unknown setting; known here: \(known.sorted().joined(separator: ", "))"))
        }
        return object
    }

    mutating func string(_ object: JSONObject, _ key: String, at path: [PathComponent], apply: (String) -> Void) {
        switch object[key] {
        case nil: break
        case .string(let value) where !value.isEmpty: apply(value)
        default: problems.append(ConfigurationProblem(path + [.key(key)], "must be a non-empty string"))
        }
    }

    mutating func integer(_ object: JSONObject, _ key: String, at path: [PathComponent], in range: ClosedRange<Int>, apply: (Int) -> Void) {
        guard let value = object[key] else { return }
        if case .number(let number) = value, number == number.rounded(), number >= Double(range.lowerBound),
            number <= Double(range.upperBound)
        {
            apply(Int(number))
        } else {
            problems.append(ConfigurationProblem(path + [.key(key)],
                "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(value.jsonString)"))
        }
    }

    mutating func seconds(
        _ object: JSONObject, _ key: String, at path: [PathComponent], allowZero: Bool = false, upTo maximum: Double = 31_536_000,
        apply: (Double) -> Void
    ) {
        guard let value = object[key] else { return }
        if case .number(let number) = value, number.isFinite, allowZero ? number >= 0 : number > 0, number <= maximum {
            apply(number)
        } else {
            problems.append(ConfigurationProblem(path + [.key(key)],
                "must be a number of seconds \(allowZero ? "from 0" : "above 0") up to \(JSNumberFormatter.string(from: maximum)), got \(value.jsonString)"))
        }
    }
}
