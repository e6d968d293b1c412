/// Routes by method and path pattern (`/admin/mappings/{id}`); 404 for an unknown path,
/// 405 with `Allow` for a known path and another method.
///
/// PLACEHOLDER API: the server-core work implements matching.
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponseWriter) -> Void

    public init() {}

    /// Adds a route. `maxBodyBytes` overrides the server default for it.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil, handler: @escaping Handler) {}

    public func respond(to request: HTTPRequest, writer: HTTPResponseWriter) {
        writer.send(.text(.notFound, "not found"))
    }

    public func maximumBodyBytes(method: HTTPMethod, path: String) -> Int? { nil }
}
