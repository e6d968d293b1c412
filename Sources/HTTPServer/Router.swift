/// Routes by method and path pattern (`/admin/mappings/{id}`); 404 for an unknown path,
/// 405 with `Allow` for a known path and another method.
///
/// Patterns without `{name}` segments are found with one dictionary lookup; the others are
/// matched segment by segment in the order they were added. A `HEAD` request for a path that
/// has a `GET` route and no `HEAD` route runs the `GET` handler (the server drops the body).
/// Path parameter values are percent-decoded.
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponseWriter) -> Void

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private struct Route: Sendable {
        var method: HTTPMethod
        var pattern: String
        var segments: [Segment]
        var maxBodyBytes: Int?
        var handler: Handler
    }

    /// Routes without parameters, by exact path.
    private var exactRoutes: [String: [Route]] = [:]
    private var patternRoutes: [Route] = []

    /// Told about every answer with the pattern of the route that produced it (`unmatched` for
    /// 404s and 405s), so that metrics and request logs get bounded labels.
    public var observer: (any RouteObserver)?

    public init() {}

    /// Adds a route. `maxBodyBytes` overrides the server default for it.
    /// A pattern is a path starting with `/`; a segment written `{name}` matches any one
    /// non-empty segment and is passed to the handler in `pathParameters[name]`.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil, handler: @escaping Handler) {
        precondition(pattern.hasPrefix("/"), "a route pattern must start with `/`, got `\(pattern)`")
        let segments = Self.split(pattern).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
        let route = Route(method: method, pattern: pattern, segments: segments, maxBodyBytes: maxBodyBytes, handler: handler)
        if segments.contains(where: { if case .parameter = $0 { return true } else { return false } }) {
            patternRoutes.append(route)
        } else {
            exactRoutes[pattern, default: []].append(route)
        }
    }

    public func respond(to request: HTTPRequest, writer originalWriter: HTTPResponseWriter) {
        var allowed: [HTTPMethod] = []
        let found = find(request.method, request.path, allowed: &allowed)
        var writer = originalWriter
        if let observer {
            let pattern = found?.route.pattern ?? "unmatched"
            let started = ContinuousClock.now
            writer = HTTPResponseWriter { response in
                observer.observe(pattern: pattern, request: request, response: response, duration: ContinuousClock.now - started)
                originalWriter.send(response)
            }
        }
        if let (route, parameters) = found {
            if parameters.isEmpty {
                route.handler(request, writer)
            } else {
                var request = request
                request.pathParameters = parameters
                route.handler(request, writer)
            }
            return
        }
        if allowed.isEmpty {
            writer.send(.text(.notFound, "no route for \(request.path); check the path\n"))
            return
        }
        if allowed.contains(.GET) && !allowed.contains(.HEAD) { allowed.append(.HEAD) }
        let allow = HTTPMethod.allCases.filter(allowed.contains).map(\.rawValue).joined(separator: ", ")
        var response = HTTPResponse.text(
            .methodNotAllowed, "\(request.method.rawValue) is not allowed on \(request.path); use \(allow)\n")
        response.headers.add(name: "Allow", value: allow)
        writer.send(response)
    }

    public func maximumBodyBytes(method: HTTPMethod, path: String) -> Int? {
        var allowed: [HTTPMethod] = []
        return find(method, path, allowed: &allowed)?.route.maxBodyBytes
    }

    /// The route for `method` and `path`; when none, `allowed` lists the methods the path takes.
    private func find(
        _ method: HTTPMethod, _ path: String, allowed: inout [HTTPMethod]
    ) -> (route: Route, parameters: [String: String])? {
        var headFallback: Route?
        if let routes = exactRoutes[path] {
            for route in routes {
                if route.method == method { return (route, [:]) }
                if method == .HEAD && route.method == .GET { headFallback = route }
                allowed.append(route.method)
            }
        }
        if !patternRoutes.isEmpty {
            let parts = Self.split(path)
            var fallbackParameters: [String: String] = [:]
            for route in patternRoutes {
                guard let parameters = Self.match(route.segments, parts) else { continue }
                if route.method == method { return (route, parameters) }
                if method == .HEAD && route.method == .GET && headFallback == nil {
                    headFallback = route
                    fallbackParameters = parameters
                }
                allowed.append(route.method)
            }
            if let headFallback { return (headFallback, fallbackParameters) }
        }
        if let headFallback { return (headFallback, [:]) }
        return nil
    }

    private static func split(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
    }

    private static func match(_ segments: [Segment], _ parts: [Substring]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal):
                guard part == literal else { return nil }
            case .parameter(let name):
                guard !part.isEmpty else { return nil }
                parameters[name] = percentDecoded(part)
            }
        }
        return parameters
    }

    /// `%XX` escapes decoded as UTF-8; a malformed escape leaves the segment as sent.
    static func percentDecoded(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%") {
                guard index + 2 < utf8.count, let high = ASCII.hexValue(utf8[index + 1]),
                    let low = ASCII.hexValue(utf8[index + 2])
                else { return String(text) }
                bytes.append(UInt8(high << 4 | low))
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Sees every answer the router's handlers give, with the route pattern it came from.
public protocol RouteObserver: Sendable {
    func observe(pattern: String, request: HTTPRequest, response: HTTPResponse, duration: Duration)
}
