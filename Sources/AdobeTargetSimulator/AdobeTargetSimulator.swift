import Foundation
import HTTPServer
import JSONKit
import Logging

/// A local stand-in for Adobe Target's profile API, for tests, the bench and sandbox mode.
///
/// It serves the two endpoints the destination calls —
/// `GET /rest/v1/profiles/thirdPartyId/{id}?client={code}` and
/// `POST /m2/{code}/profile/update?mbox3rdPartyId={id}&profile.{name}={value}…` — with bearer
/// auth, profiles that exist, do not, or appear after a delay, and injected faults. Control
/// endpoints under `/_sim/` (see `handleControl`) and the Swift methods below drive it.
public final class AdobeTargetSimulator: HTTPResponder, @unchecked Sendable {
    public let configuration: Configuration
    private let logger: Logger
    private let lock = NSLock()
    private var server: HTTPServer?

    // Guarded by `lock`.
    private var profiles: [String: StoredProfile] = [:]
    private var firstLookups: [String: Double] = [:]
    private var bearerToken: String?
    private var profileCreation: ProfileCreation
    private var faults: [Fault] = []
    private var stats = Statistics()
    private var updateLog: [UpdateRecord] = []
    private var hungWriters: [HTTPResponseWriter] = []
    private var random: SplitMix64
    private var nextProfileNumber = 1

    private struct StoredProfile {
        var number: Int
        var attributes: JSONObject
        var modifiedAt: [String: String]
    }

    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "adobe-target-simulator")) {
        self.configuration = configuration
        self.logger = logger
        bearerToken = configuration.bearerToken
        profileCreation = configuration.profileCreation
        random = SplitMix64(seed: configuration.randomSeed)
    }

    deinit {
        releaseHungRequests()
    }

    // MARK: Serving

    /// Starts listening on `configuration.host`/`port`; returns once connections are accepted.
    public func start() throws {
        var serverConfiguration = HTTPServer.Configuration()
        serverConfiguration.host = configuration.host
        serverConfiguration.port = configuration.port
        serverConfiguration.eventLoopCount = 1
        // Let overlong URLs through to the handler, which answers 414 at Adobe's own limit.
        serverConfiguration.maxRequestLineBytes = max(64 * 1024, configuration.maximumURLBytes * 2)
        serverConfiguration.maxHeaderBytes = max(serverConfiguration.maxHeaderBytes, serverConfiguration.maxRequestLineBytes + 16 * 1024)
        let server = HTTPServer(configuration: serverConfiguration, responder: self, logger: logger)
        try server.start()
        lock.withLock { self.server = server }
    }

    /// The bound port (after `start()`).
    public var port: Int { lock.withLock { server?.port ?? configuration.port } }

    /// `http://127.0.0.1:PORT`: the `adobeTarget.baseURL` that points the destination here.
    public var baseURL: String { "http://\(configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host):\(port)" }

    /// Answers hung requests and stops the server.
    public func shutdown() {
        releaseHungRequests()
        let server = lock.withLock { () -> HTTPServer? in
            defer { self.server = nil }
            return self.server
        }
        server?.shutdown(gracePeriodSeconds: 1)
    }

    // MARK: Control from Swift

    /// Forgets profiles, faults, counts and the update log, and restores the configured token
    /// and profile-creation mode. Hung requests are answered 503 first.
    public func reset() {
        releaseHungRequests()
        lock.withLock {
            profiles.removeAll()
            firstLookups.removeAll()
            bearerToken = configuration.bearerToken
            profileCreation = configuration.profileCreation
            faults.removeAll()
            stats = Statistics()
            updateLog.removeAll()
            random = SplitMix64(seed: configuration.randomSeed)
        }
    }

    /// Creates (or replaces) a profile. Nested objects and arrays are flattened with `.` as
    /// updates would set them; values are kept as the strings Adobe stores.
    public func createProfile(thirdPartyID: String, attributes: JSONObject = JSONObject()) {
        lock.withLock {
            var profile = newProfile()
            apply(flattened(attributes), to: &profile)
            profiles[thirdPartyID] = profile
        }
    }

    public func removeProfile(thirdPartyID: String) {
        lock.withLock {
            profiles[thirdPartyID] = nil
            firstLookups[thirdPartyID] = nil
        }
    }

    /// The stored attributes (string values, in first-set order), or `nil` for no profile.
    public func profileAttributes(thirdPartyID: String) -> JSONObject? {
        lock.withLock { profiles[thirdPartyID]?.attributes }
    }

    /// Replaces the token that requests must carry; `nil` turns auth off.
    public func setBearerToken(_ token: String?) {
        lock.withLock { bearerToken = token }
    }

    public func setProfileCreation(_ creation: ProfileCreation) {
        lock.withLock { profileCreation = creation }
    }

    public func addFault(_ fault: Fault) {
        lock.withLock { faults.append(fault) }
    }

    public func setFaults(_ newFaults: [Fault]) {
        lock.withLock { faults = newFaults }
    }

    public func clearFaults() {
        lock.withLock { faults.removeAll() }
    }

    public var statistics: Statistics { lock.withLock { stats } }

    /// Every update request received, in arrival order.
    public var receivedUpdates: [UpdateRecord] { lock.withLock { updateLog } }

    /// Answers every request held by a `hang` fault with 503, so the server can stop cleanly.
    public func releaseHungRequests() {
        let writers = lock.withLock { () -> [HTTPResponseWriter] in
            defer { hungWriters.removeAll() }
            return hungWriters
        }
        for writer in writers {
            writer.send(Self.json(.serviceUnavailable, ["status": 503, "message": "simulator released a hung request"]))
        }
    }

    // MARK: HTTPResponder

    public func maximumBodyBytes(method: HTTPMethod, path: String) -> Int? { 1024 * 1024 }

    public func respond(to request: HTTPRequest, writer: HTTPResponseWriter) {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if segments.first == "_sim" {
            writer.send(handleControl(request, segments: Array(segments.dropFirst())))
            return
        }
        let endpoint: Endpoint
        let pathValue: Substring
        let segmentList = Array(segments)
        if segmentList.count == 5, segmentList[0] == "rest", segmentList[1] == "v1", segmentList[2] == "profiles",
            segmentList[3] == "thirdPartyId", request.method == .GET || request.method == .HEAD
        {
            endpoint = .lookup
            pathValue = segmentList[4]
        } else if segmentList.count == 4, segmentList[0] == "m2", segmentList[2] == "profile",
            segmentList[3] == "update", request.method == .POST || request.method == .GET
        {
            endpoint = .update
            pathValue = segmentList[1]
        } else {
            writer.send(Self.json(.notFound, ["status": 404, "message": .string("no such Adobe Target endpoint: \(request.path)")]))
            return
        }

        // Decide under the lock; answer (possibly later) outside it.
        let fault: Fault? = lock.withLock {
            if endpoint == .lookup { stats.lookups += 1 } else { stats.updates += 1 }
            return takeFault(for: endpoint)
        }
        let handle: @Sendable () -> Void = { [self] in
            if let fault, case .hang = fault.action {
                lock.withLock {
                    hungWriters.append(writer)
                    if endpoint == .update { updateLog.append(UpdateRecord(target: request.target, status: 0)) }
                }
                return
            }
            if let fault, case .reset = fault.action {
                // Logged before the reset: the request did arrive, which is what an
                // at-least-once check must count.
                if endpoint == .update {
                    lock.withLock { updateLog.append(UpdateRecord(target: request.target, status: 0)) }
                }
                writer.abortConnection()
                return
            }
            let response: HTTPResponse
            if let fault, case .status(let code, let retryAfter, let body) = fault.action {
                var headers = HTTPHeaders([("Content-Type", "application/json")])
                if let retryAfter { headers.add(name: "Retry-After", value: retryAfter) }
                let text = body ?? JSONValue.object(JSONObject([
                    ("status", .number(Double(code))), ("message", "injected fault"),
                ])).jsonString
                response = HTTPResponse(status: Self.status(code), headers: headers, body: Array(text.utf8))
            } else if endpoint == .lookup {
                response = handleLookup(request, encodedID: pathValue)
            } else {
                response = handleUpdate(request, clientSegment: pathValue)
            }
            if endpoint == .update {
                lock.withLock { updateLog.append(UpdateRecord(target: request.target, status: response.status.code)) }
            }
            writer.send(response)
        }
        if let latency = fault?.latencySeconds, latency > 0 {
            DispatchQueue.global().asyncAfter(deadline: .now() + latency, execute: handle)
        } else {
            handle()
        }
    }

    /// The first fault that matches, counted down; `nil` when none applies. Needs `lock`.
    private func takeFault(for endpoint: Endpoint) -> Fault? {
        for index in faults.indices {
            let fault = faults[index]
            if let target = fault.endpoint, target != endpoint { continue }
            if fault.ratio < 1, Double(random.next() >> 11) / Double(1 << 53) >= fault.ratio { continue }
            if let remaining = fault.remaining {
                if remaining <= 1 { faults.remove(at: index) } else { faults[index].remaining = remaining - 1 }
            }
            stats.faultsInjected += 1
            return fault
        }
        return nil
    }

    // MARK: Adobe endpoints

    private func handleLookup(_ request: HTTPRequest, encodedID: Substring) -> HTTPResponse {
        let parameters = Self.queryParameters(request.query)
        if let refusal = checkClientAndAuth(request, clientCode: parameters?.first { $0.name == "client" }?.value) {
            return refusal
        }
        guard let thirdPartyID = URIDecoding.decode(encodedID), !thirdPartyID.isEmpty else {
            return Self.json(.badRequest, ["status": 400, "message": "the thirdPartyId in the path is not valid percent-encoded UTF-8"])
        }
        let now = Self.monotonicNow()
        return lock.withLock {
            if profiles[thirdPartyID] == nil, case .afterFirstLookup(let delay) = profileCreation {
                let first = firstLookups[thirdPartyID] ?? now
                firstLookups[thirdPartyID] = first
                if now - first >= delay {
                    profiles[thirdPartyID] = newProfile()
                    firstLookups[thirdPartyID] = nil
                }
            }
            guard let profile = profiles[thirdPartyID] else {
                stats.profilesNotFound += 1
                return Self.json(.notFound, ["status": 404, "message": "Profile not found"])
            }
            return Self.json(.ok, profileDocument(thirdPartyID: thirdPartyID, profile: profile))
        }
    }

    private func handleUpdate(_ request: HTTPRequest, clientSegment: Substring) -> HTTPResponse {
        let urlBytes = baseURL.utf8.count + request.target.utf8.count
        if urlBytes > configuration.maximumURLBytes {
            return Self.json(
                .uriTooLong,
                ["status": 414, "message": .string("URL is \(urlBytes) bytes, over the \(configuration.maximumURLBytes)-byte limit")])
        }
        if let refusal = checkClientAndAuth(request, clientCode: URIDecoding.decode(clientSegment)) { return refusal }
        guard let parameters = Self.queryParameters(request.query) else {
            return Self.json(.badRequest, ["status": 400, "message": "the query string is not valid percent-encoded UTF-8"])
        }
        guard let thirdPartyID = parameters.first(where: { $0.name == "mbox3rdPartyId" })?.value, !thirdPartyID.isEmpty else {
            return Self.json(.badRequest, ["status": 400, "message": "mbox3rdPartyId is missing"])
        }
        let updates = parameters.compactMap { parameter -> (String, String)? in
            guard parameter.name.hasPrefix("profile."), parameter.name.count > "profile.".count else { return nil }
            return (String(parameter.name.dropFirst("profile.".count)), parameter.value)
        }
        lock.withLock {
            // An mbox call with a third-party ID creates the profile when Adobe has none yet.
            var profile = profiles[thirdPartyID] ?? newProfile()
            apply(updates, to: &profile)
            profiles[thirdPartyID] = profile
        }
        return Self.json(.ok, ["success": true])
    }

    private func checkClientAndAuth(_ request: HTTPRequest, clientCode: String?) -> HTTPResponse? {
        if let expected = configuration.clientCode, clientCode != expected {
            return Self.json(.badRequest, ["status": 400, "message": "unknown client code"])
        }
        let token = lock.withLock { bearerToken }
        guard let token else { return nil }
        if request.headers["Authorization"] == "Bearer \(token)" { return nil }
        lock.withLock { stats.unauthorized += 1 }
        return Self.json(.unauthorized, ["status": 401, "message": "Authorization token is missing, invalid or expired"])
    }

    /// Needs `lock`.
    private func newProfile() -> StoredProfile {
        defer { nextProfileNumber += 1 }
        return StoredProfile(number: nextProfileNumber, attributes: JSONObject(), modifiedAt: [:])
    }

    private func apply(_ updates: [(String, String)], to profile: inout StoredProfile) {
        let stamp = Self.timestamp()
        for (name, value) in updates {
            profile.attributes[name] = .string(value)
            profile.modifiedAt[name] = stamp
        }
    }

    /// Shaped like Adobe's profile API answer.
    private func profileDocument(thirdPartyID: String, profile: StoredProfile) -> JSONValue {
        var attributes = JSONObject()
        for (name, value) in profile.attributes {
            attributes[name] = .object(JSONObject([("value", value), ("modifiedAt", .string(profile.modifiedAt[name] ?? ""))]))
        }
        let tntID = String(format: "%032X.%d_0", profile.number, 34)
        return .object(
            JSONObject([
                ("tntId", .string(tntID)),
                ("thirdPartyId", .string(thirdPartyID)),
                ("profileAttributes", .object(attributes)),
            ]))
    }

    // MARK: Control endpoints

    /// `/_sim/…`:
    /// - `POST /_sim/reset`
    /// - `PUT /_sim/profiles/{id}` (body: attributes object, may be empty), `GET` (→ `{"thirdPartyId","attributes"}` or 404), `DELETE`
    /// - `PUT /_sim/faults` (body `{"faults":[…]}` replaces), `POST /_sim/faults` (one fault, appended), `DELETE /_sim/faults`;
    ///   a fault: `{"status":503,"retryAfter":"2","body":"…","hang":true,"reset":true,"endpoint":"lookup|update","count":3,"ratio":0.5,"latencyMs":200}`
    /// - `PUT /_sim/token` (`{"token":"…"|null}`)
    /// - `PUT /_sim/profile-creation` (`{"mode":"never"}` or `{"mode":"afterFirstLookup","delaySeconds":5}`)
    /// - `GET /_sim/stats`, `GET /_sim/updates` (`{"updates":[{"target","status"}]}`)
    func handleControl(_ request: HTTPRequest, segments: [Substring]) -> HTTPResponse {
        let body: JSONValue?
        if request.body.isEmpty {
            body = nil
        } else {
            do {
                body = try JSONValue(parsing: request.body)
            } catch {
                return Self.json(.badRequest, ["error": .string("the body is not JSON: \(error)")])
            }
        }
        switch (request.method, segments.first ?? "", segments.count) {
        case (.POST, "reset", 1):
            reset()
            return Self.json(.ok, ["ok": true])
        case (let method, "profiles", 2):
            guard let id = URIDecoding.decode(segments[1]), !id.isEmpty else {
                return Self.json(.badRequest, ["error": "the profile ID in the path is not valid percent-encoding"])
            }
            switch method {
            case .PUT, .POST:
                guard let attributes = body?.objectValue ?? (body == nil ? JSONObject() : nil) else {
                    return Self.json(.badRequest, ["error": "send the profile's attributes as a JSON object"])
                }
                createProfile(thirdPartyID: id, attributes: attributes)
                return Self.json(.ok, ["thirdPartyId": .string(id), "attributes": .object(profileAttributes(thirdPartyID: id) ?? JSONObject())])
            case .GET:
                guard let attributes = profileAttributes(thirdPartyID: id) else {
                    return Self.json(.notFound, ["error": .string("no profile with thirdPartyId \(id)")])
                }
                return Self.json(.ok, ["thirdPartyId": .string(id), "attributes": .object(attributes)])
            case .DELETE:
                removeProfile(thirdPartyID: id)
                return Self.json(.ok, ["ok": true])
            default:
                return Self.json(.methodNotAllowed, ["error": "use GET, PUT or DELETE on /_sim/profiles/{id}"])
            }
        case (.PUT, "faults", 1):
            guard let list = body?["faults"]?.arrayValue else {
                return Self.json(.badRequest, ["error": #"send {"faults":[…]}"#])
            }
            var parsed: [Fault] = []
            for (index, item) in list.enumerated() {
                switch Self.fault(from: item) {
                case .success(let fault): parsed.append(fault)
                case .failure(let error): return Self.json(.badRequest, ["error": .string("faults[\(index)]: \(error.description)")])
                }
            }
            setFaults(parsed)
            return Self.json(.ok, ["faults": .number(Double(parsed.count))])
        case (.POST, "faults", 1):
            switch Self.fault(from: body ?? .null) {
            case .success(let fault):
                addFault(fault)
                return Self.json(.ok, ["ok": true])
            case .failure(let error):
                return Self.json(.badRequest, ["error": .string(error.description)])
            }
        case (.DELETE, "faults", 1):
            clearFaults()
            return Self.json(.ok, ["ok": true])
        case (.PUT, "token", 1):
            guard let body, body.objectValue != nil, let token = body["token"], token.isNull || token.stringValue != nil else {
                return Self.json(.badRequest, ["error": #"send {"token":"…"} or {"token":null}"#])
            }
            setBearerToken(token.stringValue)
            return Self.json(.ok, ["ok": true])
        case (.PUT, "profile-creation", 1):
            switch body?["mode"]?.stringValue {
            case "never":
                setProfileCreation(.never)
            case "afterFirstLookup":
                let delay = body?["delaySeconds"]?.numberValue ?? 0
                guard delay >= 0 else { return Self.json(.badRequest, ["error": "delaySeconds must be 0 or more"]) }
                setProfileCreation(.afterFirstLookup(seconds: delay))
            default:
                return Self.json(.badRequest, ["error": #"mode must be "never" or "afterFirstLookup" (with "delaySeconds")"#])
            }
            return Self.json(.ok, ["ok": true])
        case (.GET, "stats", 1):
            return Self.json(.ok, statistics.jsonValue)
        case (.GET, "updates", 1):
            let records = receivedUpdates.map { record -> JSONValue in
                .object(JSONObject([("target", .string(record.target)), ("status", .number(Double(record.status)))]))
            }
            return Self.json(.ok, ["updates": .array(records)])
        default:
            return Self.json(.notFound, ["error": .string("unknown simulator control endpoint \(request.method.rawValue) \(request.path)")])
        }
    }

    struct ControlError: Error, CustomStringConvertible {
        var description: String
    }

    static func fault(from value: JSONValue) -> Result<Fault, ControlError> {
        guard let object = value.objectValue else { return .failure(ControlError(description: "a fault must be a JSON object")) }
        let action: Fault.Action
        if object["hang"]?.boolValue == true {
            action = .hang
        } else if object["reset"]?.boolValue == true {
            action = .reset
        } else if let status = object["status"] {
            guard let code = status.numberValue, code == code.rounded(), (100...599).contains(code) else {
                return .failure(ControlError(description: "status must be an HTTP status code (100–599)"))
            }
            action = .status(Int(code), retryAfter: object["retryAfter"].flatMap(Self.scalarText), body: object["body"]?.stringValue)
        } else if object["latencyMs"] != nil {
            action = .latencyOnly
        } else {
            return .failure(ControlError(description: #"a fault needs "status", "hang": true, "reset": true or "latencyMs""#))
        }
        var endpoint: Endpoint?
        if let name = object["endpoint"]?.stringValue {
            guard let parsed = Endpoint(rawValue: name) else {
                return .failure(ControlError(description: #"endpoint must be "lookup" or "update""#))
            }
            endpoint = parsed
        }
        let count = object["count"]?.numberValue.map { Int($0) }
        if let count, count < 1 { return .failure(ControlError(description: "count must be 1 or more")) }
        let ratio = object["ratio"]?.numberValue ?? 1
        guard (0...1).contains(ratio) else { return .failure(ControlError(description: "ratio must be between 0 and 1")) }
        let latency = (object["latencyMs"]?.numberValue ?? 0) / 1000
        guard latency >= 0 else { return .failure(ControlError(description: "latencyMs must be 0 or more")) }
        return .success(Fault(action, endpoint: endpoint, count: count, ratio: ratio, latencySeconds: latency))
    }

    private static func scalarText(_ value: JSONValue) -> String? {
        if let string = value.stringValue { return string }
        if let number = value.numberValue { return JSNumberFormatter.string(from: number) }
        return nil
    }

    // MARK: Helpers

    /// Query parameters in order, names and values percent-decoded; `nil` if any is malformed.
    static func queryParameters(_ query: String?) -> [(name: String, value: String)]? {
        guard let query, !query.isEmpty else { return [] }
        var result: [(name: String, value: String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let value: Substring
            if let equals = pair.firstIndex(of: "=") {
                name = pair[..<equals]
                value = pair[pair.index(after: equals)...]
            } else {
                name = pair
                value = ""
            }
            guard let decodedName = URIDecoding.decode(name), let decodedValue = URIDecoding.decode(value) else { return nil }
            result.append((decodedName, decodedValue))
        }
        return result
    }

    private func flattened(_ object: JSONObject, prefix: String = "") -> [(String, String)] {
        var result: [(String, String)] = []
        for (key, value) in object {
            let name = prefix.isEmpty ? key : prefix + "." + key
            switch value {
            case .null: continue
            case .string(let string): result.append((name, string))
            case .number(let number): result.append((name, JSNumberFormatter.string(from: number)))
            case .bool(let bool): result.append((name, bool ? "true" : "false"))
            case .object(let nested): result += flattened(nested, prefix: name)
            case .array(let array):
                var asObject = JSONObject()
                for (index, element) in array.enumerated() { asObject[String(index)] = element }
                result += flattened(asObject, prefix: name)
            }
        }
        return result
    }

    static func json(_ status: HTTPStatus, _ value: JSONValue) -> HTTPResponse {
        .json(status, JSONSerializer.serialize(value))
    }

    static func status(_ code: Int) -> HTTPStatus {
        let known: [HTTPStatus] = [
            .ok, .badRequest, .unauthorized, .forbidden, .notFound, .requestTimeout, .payloadTooLarge, .uriTooLong,
            .tooManyRequests, .internalServerError, .notImplemented, .badGateway, .serviceUnavailable, .gatewayTimeout,
        ]
        return known.first { $0.code == code } ?? HTTPStatus(code: code, reason: "Status \(code)")
    }

    static func monotonicNow() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func timestamp() -> String {
        Date().formatted(.iso8601)
    }
}

/// Percent-decoding as `decodeURIComponent` does (`+` stays `+`).
enum URIDecoding {
    static func decode(_ component: Substring) -> String? {
        guard component.utf8.contains(UInt8(ascii: "%")) else { return String(component) }
        let bytes = Array(component.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) else {
                    return nil
                }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(validating: output, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// A small seeded generator so that ratio faults are reproducible.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
