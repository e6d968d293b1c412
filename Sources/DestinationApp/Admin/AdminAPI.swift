import AdobeTarget
import EventStore
import Foundation
import HTTPServer
import JSONKit
import Logging
import MappingKit
import SegmentIngest

/// The admin API of the contract's §4. It exists only when an admin token is configured:
/// without one none of its routes is registered, so every `/admin/...` answers 404.
final class AdminAPI: Sendable {
    private let token: Secret
    private let registry: MappingRegistry
    private let store: any EventStore
    private let adobeClient: AdobeTargetClient
    private let tokenSettings: AdobeTokenSettings
    private let statistics: @Sendable () -> JSONObject
    private let retryNow: @Sendable () -> Int
    private let statusPage: @Sendable () -> HTTPResponse
    private let logger: Logger
    /// Admin work reads and writes the store: keep it off the event loops.
    private let queue = DispatchQueue(label: "adobe-target-destination.admin", attributes: .concurrent)

    init(
        token: Secret, registry: MappingRegistry, store: any EventStore, adobeClient: AdobeTargetClient,
        tokenSettings: AdobeTokenSettings, statistics: @escaping @Sendable () -> JSONObject,
        retryNow: @escaping @Sendable () -> Int, statusPage: @escaping @Sendable () -> HTTPResponse, logger: Logger
    ) {
        self.statusPage = statusPage
        self.token = token
        self.registry = registry
        self.store = store
        self.adobeClient = adobeClient
        self.tokenSettings = tokenSettings
        self.statistics = statistics
        self.retryNow = retryNow
        self.logger = logger
    }

    static let maximumBodyBytes = 1024 * 1024

    func register(on router: inout Router) {
        // A browser cannot send a Bearer header by itself, so the status page also takes HTTP
        // Basic with the admin token as password (any user name), and asks for it.
        router.add(.GET, "/status") { [self] request, writer in
            guard self.isAuthorized(request) else {
                var response = HTTPResponse.text(.unauthorized,
                    "the status page needs the admin token: as the password of HTTP Basic (any user name) or as Authorization: Bearer\n")
                response.headers.add(name: "WWW-Authenticate", value: #"Basic realm="adobe-target-destination", charset="UTF-8""#)
                return writer.send(response)
            }
            self.queue.async { writer.send(self.statusPage()) }
        }
        route(&router, .GET, "/admin/mappings") { _ in
            .ok(["mappings": .array(self.registry.current.map(\.json))])
        }
        route(&router, .PUT, "/admin/mappings/{id}") { request in
            let id = request.pathParameters["id"] ?? ""
            let body = try Self.jsonBody(request)
            switch self.registry.put(id: id, definition: body) {
            case .success(.created(let mapping)):
                self.logger.notice("mapping created through the admin API", metadata: ["mappingId": "\(id)"])
                return AdminAnswer(status: HTTPStatus(code: 201, reason: "Created"), body: ["mapping": mapping.json])
            case .success(.replaced(let mapping)):
                self.logger.notice("mapping replaced through the admin API", metadata: ["mappingId": "\(id)"])
                return .ok(["mapping": mapping.json])
            case .failure(let problems):
                return .problems(problems)
            }
        }
        route(&router, .DELETE, "/admin/mappings/{id}") { request in
            let id = request.pathParameters["id"] ?? ""
            switch self.registry.delete(id: id) {
            case .success(true):
                self.logger.notice("mapping deleted through the admin API", metadata: ["mappingId": "\(id)"])
                return .ok(["deleted": .string(id)])
            case .success(false):
                return .error(.notFound, "no mapping has the id \"\(id)\"; GET /admin/mappings lists them")
            case .failure(let problems):
                return .problems(problems)
            }
        }
        route(&router, .POST, "/admin/test") { request in
            try self.dryRun(Self.jsonBody(request))
        }
        route(&router, .GET, "/admin/dead-letters") { request in
            let query = Self.queryItems(request.query)
            let limit = min(max(Int(query["limit"] ?? "") ?? 100, 1), 1000)
            let offset = max(Int(query["offset"] ?? "") ?? 0, 0)
            let letters = try self.store.deadLetters(limit: limit, offset: offset)
            return .ok(["deadLetters": .array(letters.map(Self.json(for:))), "limit": .number(Double(limit)), "offset": .number(Double(offset))])
        }
        route(&router, .POST, "/admin/dead-letters/replay") { request in
            var ids: [JobID]?
            if !request.body.isEmpty {
                let body = try Self.jsonBody(request)
                if let list = body["ids"] {
                    guard let array = list.arrayValue else {
                        return .error(.badRequest, "\"ids\" must be an array of dead-letter ids from GET /admin/dead-letters")
                    }
                    var parsed: [JobID] = []
                    for element in array {
                        guard let number = element.numberValue, number == number.rounded(), number >= 0 else {
                            return .error(.badRequest, "\"ids\" must hold whole numbers (dead-letter ids), found \(element.jsonString)")
                        }
                        parsed.append(JobID(Int64(number)))
                    }
                    ids = parsed
                }
            }
            let summary = try self.store.replayDeadLetters(ids: ids)
            self.logger.notice("dead letters replayed through the admin API", metadata: ["replayed": "\(summary.replayed)"])
            return .ok([
                "replayed": .number(Double(summary.replayed)),
                "skippedWithoutPayload": .number(Double(summary.skippedWithoutPayload)),
            ])
        }
        route(&router, .POST, "/admin/queue/retry-now") { _ in
            .ok(["madeDue": .number(Double(self.retryNow()))])
        }
        route(&router, .GET, "/admin/stats") { _ in
            .ok(self.statistics())
        }
        route(&router, .PUT, "/admin/settings/adobe-target") { request in
            let body = try Self.jsonBody(request)
            guard let object = body.objectValue else {
                return .error(.badRequest, #"the body must be {"bearerToken": "<new token>"}"#)
            }
            for key in object.keys where key != "bearerToken" {
                return .error(.badRequest, "unknown setting \"\(key)\"; only bearerToken can be changed at run time")
            }
            let newToken: String?
            switch object["bearerToken"] {
            case .string(let value) where !value.isEmpty: newToken = value
            case .null?: newToken = nil
            default: return .error(.badRequest, #""bearerToken" must be a non-empty string, or null to send none"#)
            }
            try self.tokenSettings.replace(with: newToken.map(Secret.init))
            self.logger.notice("Adobe Target bearer token replaced through the admin API")
            return .ok(["bearerToken": newToken == nil ? "not set" : "set"])
        }
    }

    // MARK: Dry run

    private func dryRun(_ event: JSONValue) -> AdminAnswer {
        guard event.objectValue != nil else {
            return .error(.badRequest, "the body must be one Segment event (a JSON object)")
        }
        var results: [JSONValue] = []
        for mapping in registry.current {
            var entry = JSONObject()
            entry["mappingId"] = .string(mapping.id)
            entry["name"] = .string(mapping.name)
            entry["enabled"] = .bool(mapping.isEnabled)
            let matched = mapping.subscription.matches(event)
            entry["matched"] = .bool(matched)
            if matched {
                switch mapping.resolve(event) {
                case .update(let userID, let traits):
                    entry["payload"] = ["user_id": .string(userID), "traits": .object(traits)]
                    do {
                        let requests = try adobeClient.plannedRequests(userID: userID, traits: traits)
                        entry["requests"] = .array(requests.map(\.jsonValue))
                    } catch {
                        entry["error"] = .string(error.description)
                    }
                case .mappingError(let reason):
                    entry["error"] = .string(reason)
                }
                if !mapping.isEnabled {
                    entry["note"] = "this mapping is disabled: nothing would be sent"
                }
            }
            results.append(.object(entry))
        }
        return .ok(["mappings": .array(results), "sent": false])
    }

    // MARK: Plumbing

    private func route(
        _ router: inout Router, _ method: HTTPMethod, _ pattern: String,
        _ handler: @escaping @Sendable (HTTPRequest) throws -> AdminAnswer
    ) {
        router.add(method, pattern, maxBodyBytes: Self.maximumBodyBytes) { [self] request, writer in
            guard self.isAuthorized(request) else {
                var response = AdminAnswer.error(.unauthorized,
                    "the admin API needs the header Authorization: Bearer <admin token> (ADMIN_TOKEN)").response
                response.headers.add(name: "WWW-Authenticate", value: #"Bearer realm="admin""#)
                return writer.send(response)
            }
            self.queue.async { self.run(handler, request, writer) }
        }
    }

    private func run(_ handler: @Sendable (HTTPRequest) throws -> AdminAnswer, _ request: HTTPRequest, _ writer: HTTPResponseWriter) {
            do {
                writer.send(try handler(request).response)
            } catch let failure as AdminFailure {
                writer.send(failure.answer.response)
            } catch let error as StoreError {
                writer.send(AdminFailure(error).answer.response)
            } catch {
                self.logger.error("admin request failed: \(error)", metadata: ["path": "\(request.path)"])
                writer.send(AdminAnswer.error(.internalServerError, "the admin request failed unexpectedly; see the server log").response)
            }
    }

    private func isAuthorized(_ request: HTTPRequest) -> Bool {
        guard let header = request.headers["Authorization"] else { return false }
        let presented: [UInt8]
        if header.count > 7, header.prefix(7).lowercased() == "bearer " {
            presented = Array(header.utf8.dropFirst(7))
        } else if header.count > 6, header.prefix(6).lowercased() == "basic ",
            let decoded = Data(base64Encoded: String(header.dropFirst(6))),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
        {
            presented = Array(decoded[decoded.index(after: colon)...])
        } else {
            return false
        }
        // Digests have a fixed length, so the comparison time reveals nothing about the token.
        return SegmentCrypto.constantTimeEqual(
            SegmentCrypto.sha256(presented), SegmentCrypto.sha256(Array(token.revealedValue.utf8)))
    }

    private static func jsonBody(_ request: HTTPRequest) throws(AdminFailure) -> JSONValue {
        do {
            return try JSONParser().parse(request.body)
        } catch {
            throw AdminFailure(.error(.badRequest, "the body is not valid JSON: \(error.description)"))
        }
    }

    static func queryItems(_ query: String?) -> [String: String] {
        guard let query else { return [:] }
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            items[key] = value
        }
        return items
    }

    static func json(for letter: DeadLetter) -> JSONValue {
        var object = JSONObject()
        object["id"] = .number(Double(letter.id))
        object["messageId"] = letter.messageId.map(JSONValue.string) ?? .null
        object["mappingId"] = .string(letter.mappingID)
        object["userId"] = letter.userID.map(JSONValue.string) ?? .null
        object["reason"] = .string(letter.reason.rawValue)
        object["message"] = .string(letter.message)
        object["attempts"] = .number(Double(letter.attempts))
        if let answer = letter.lastAnswer {
            object["lastAdobeAnswer"] = [
                "status": answer.status.map { .number(Double($0)) } ?? .null,
                "body": answer.body.map(JSONValue.string) ?? .null,
            ]
        } else {
            object["lastAdobeAnswer"] = .null
        }
        object["payload"] = letter.payload ?? .null
        if let bytes = letter.event, let event = try? JSONParser().parse(bytes) {
            object["event"] = event
        } else {
            object["event"] = .null
        }
        object["createdAt"] = .string(ISO8601DateFormatter().string(from: letter.createdAt))
        object["deadAt"] = .string(ISO8601DateFormatter().string(from: letter.deadAt))
        return .object(object)
    }
}

/// An admin answer before it becomes HTTP.
struct AdminAnswer {
    var status: HTTPStatus
    var body: JSONObject

    static func ok(_ body: JSONObject) -> AdminAnswer { AdminAnswer(status: .ok, body: body) }

    static func error(_ status: HTTPStatus, _ message: String) -> AdminAnswer {
        AdminAnswer(status: status, body: ["success": false, "error": .string(message)])
    }

    static func problems(_ problems: ConfigurationProblems) -> AdminAnswer {
        AdminAnswer(status: .unprocessableContent, body: [
            "success": false,
            "error": .string("the mapping is invalid; nothing was changed"),
            "problems": .array(problems.problems.map { .string($0.description) }),
        ])
    }

    var response: HTTPResponse {
        .json(status, JSONSerializer.serialize(.object(body)))
    }
}

struct AdminFailure: Error {
    var answer: AdminAnswer

    init(_ answer: AdminAnswer) {
        self.answer = answer
    }
}

extension AdminFailure {
    init(_ error: StoreError) {
        self.init(.error(.serviceUnavailable, "the store could not answer: \(error.description)"))
    }
}
