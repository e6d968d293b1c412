import JSONKit

/// One HTTP request to Adobe Target, as it is (or would be) sent.
public struct AdobeTargetRequest: Sendable, Hashable {
    public enum Purpose: String, Sendable, Hashable {
        case profileLookup
        case profileUpdate
    }

    public struct HeaderField: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// What replaces the bearer token in descriptions meant for people.
    public static let redactedToken = "REDACTED"
    public static let userAgent = "adobe-target-destination"

    public var purpose: Purpose
    /// `GET` or `POST`.
    public var method: String
    public var url: String
    public var headers: [HeaderField]

    public init(purpose: Purpose, method: String, url: String, headers: [HeaderField]) {
        self.purpose = purpose
        self.method = method
        self.url = url
        self.headers = headers
    }

    /// The lookup request; `bearerToken` adds `Authorization: Bearer …`.
    public static func profileLookup(url: String, bearerToken: String?) -> AdobeTargetRequest {
        AdobeTargetRequest(
            purpose: .profileLookup, method: "GET", url: url,
            headers: standardHeaders(accept: "application/json", bearerToken: bearerToken))
    }

    /// An update request. Adobe reads everything from the query string; the body is empty.
    public static func profileUpdate(url: String, bearerToken: String?) -> AdobeTargetRequest {
        AdobeTargetRequest(
            purpose: .profileUpdate, method: "POST", url: url,
            headers: standardHeaders(accept: "*/*", bearerToken: bearerToken))
    }

    private static func standardHeaders(accept: String, bearerToken: String?) -> [HeaderField] {
        var headers = [
            HeaderField(name: "Accept", value: accept),
            HeaderField(name: "User-Agent", value: userAgent),
        ]
        if let bearerToken, !bearerToken.isEmpty {
            headers.append(HeaderField(name: "Authorization", value: "Bearer \(bearerToken)"))
        }
        return headers
    }

    /// The same request with the bearer token replaced by `REDACTED`, safe for logs and answers.
    public func redacted() -> AdobeTargetRequest {
        var copy = self
        copy.headers = headers.map { field in
            guard field.name.lowercased() == "authorization" else { return field }
            return HeaderField(name: field.name, value: "Bearer \(AdobeTargetRequest.redactedToken)")
        }
        return copy
    }

    /// `{"method":…,"url":…,"headers":{…}}` for the admin API's dry run. Redacts the token
    /// whatever the receiver holds.
    public var jsonValue: JSONValue {
        var headerObject = JSONObject()
        for field in redacted().headers { headerObject[field.name] = .string(field.value) }
        return .object(
            JSONObject([
                ("purpose", .string(purpose.rawValue)),
                ("method", .string(method)),
                ("url", .string(url)),
                ("headers", .object(headerObject)),
            ]))
    }
}

extension AdobeTargetEndpoint {
    /// Every request a cold delivery (no cached lookup) sends for this update, in order.
    /// Nothing at all for an update with no attributes.
    public func requests(userID: String, attributes: ProfileAttributes, bearerToken: String?)
        throws(AdobeTargetRequestError) -> [AdobeTargetRequest]
    {
        let lookup = try profileLookupURL(userID: userID)
        let updates = try profileUpdateURLs(userID: userID, attributes: attributes)
        guard !updates.isEmpty else { return [] }
        return [.profileLookup(url: lookup, bearerToken: bearerToken)]
            + updates.map { .profileUpdate(url: $0, bearerToken: bearerToken) }
    }
}
