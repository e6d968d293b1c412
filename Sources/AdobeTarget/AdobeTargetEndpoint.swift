/// Why a profile update cannot be turned into Adobe Target requests. Permanent: the same
/// input will never work, so the event is dead-lettered rather than retried.
public enum AdobeTargetRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    case emptyUserID
    /// The lookup or update URL is over the limit with no attribute at all.
    case userIDTooLong(urlBytes: Int, limit: Int)
    /// One attribute alone makes the update URL longer than Adobe accepts.
    case attributeTooLarge(name: String, urlBytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .emptyUserID:
            return "user_id (mbox3rdPartyId) is empty; map a non-empty user ID"
        case .userIDTooLong(let urlBytes, let limit):
            return "user_id (mbox3rdPartyId) makes the Adobe Target URL \(urlBytes) bytes long, over the "
                + "\(limit)-byte limit; map a shorter user ID"
        case .attributeTooLarge(let name, let urlBytes, let limit):
            // The name is the customer's own trait key, never its value (which may be PII).
            return "profile attribute '\(name)' alone makes the update URL \(urlBytes) bytes long, over Adobe "
                + "Target's \(limit)-byte limit; shorten the value or leave it out of the mapping's traits"
        }
    }
}

/// Why an Adobe Target configuration is unusable.
public struct AdobeTargetConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Builds the URLs of Adobe Target's profile API for one client code: pure string work.
public struct AdobeTargetEndpoint: Sendable, Hashable {
    /// Adobe's limit on a whole request URL: 8 KB.
    public static let defaultMaximumURLBytes = 8192
    public static let defaultBaseURL = "https://{clientCode}.tt.omtrdc.net"

    public let clientCode: String
    /// The base URL with `{clientCode}` substituted and no trailing `/`.
    public let baseURL: String
    /// Every URL built here is at most this many bytes; longer updates are split.
    public let maximumURLBytes: Int

    private let encodedClientCode: String
    private let updatePrefix: [UInt8]

    /// - Parameters:
    ///   - baseURL: `http(s)://host[:port][/path]`, may contain `{clientCode}`.
    public init(
        clientCode: String, baseURL: String = AdobeTargetEndpoint.defaultBaseURL,
        maximumURLBytes: Int = AdobeTargetEndpoint.defaultMaximumURLBytes
    ) throws(AdobeTargetConfigurationError) {
        guard !clientCode.isEmpty else {
            throw AdobeTargetConfigurationError(
                "adobeTarget.clientCode is empty; set it to the client code shown in Adobe Target under "
                    + "Administration > Implementation")
        }
        // The client code lands in a host name when the default base URL is used.
        let isHostSafe: (UInt8) -> Bool = { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }
        guard clientCode.utf8.allSatisfy(isHostSafe) else {
            throw AdobeTargetConfigurationError(
                "adobeTarget.clientCode '\(clientCode)' has characters other than letters, digits, '-', '_' "
                    + "and '.'; copy the client code exactly as Adobe Target shows it")
        }
        var resolved = baseURL.replacingAll("{clientCode}", with: clientCode)
        while resolved.hasSuffix("/") { resolved.removeLast() }
        let lowered = resolved.lowercased()
        let schemeLength: Int
        if lowered.hasPrefix("https://") {
            schemeLength = 8
        } else if lowered.hasPrefix("http://") {
            schemeLength = 7
        } else {
            throw AdobeTargetConfigurationError(
                "adobeTarget.baseURL '\(baseURL)' must start with https:// (or http:// for a local simulator), "
                    + "e.g. \(AdobeTargetEndpoint.defaultBaseURL)")
        }
        let rest = resolved.dropFirst(schemeLength)
        let host = rest.prefix { $0 != "/" }
        guard !host.isEmpty, !rest.contains("?"), !rest.contains("#"), !rest.contains(" ") else {
            throw AdobeTargetConfigurationError(
                "adobeTarget.baseURL '\(baseURL)' must be scheme, host, optional port and path, with no query "
                    + "or fragment, e.g. \(AdobeTargetEndpoint.defaultBaseURL)")
        }
        guard maximumURLBytes >= 256 else {
            throw AdobeTargetConfigurationError("the maximum Adobe Target URL length must be at least 256 bytes")
        }
        self.clientCode = clientCode
        self.baseURL = resolved
        self.maximumURLBytes = maximumURLBytes
        encodedClientCode = URIComponentEncoder.encode(clientCode)
        updatePrefix = Array("\(resolved)/m2/\(encodedClientCode)/profile/update?mbox3rdPartyId=".utf8)
    }

    /// `GET {baseURL}/rest/v1/profiles/thirdPartyId/{user_id}?client={clientCode}`.
    public func profileLookupURL(userID: String) throws(AdobeTargetRequestError) -> String {
        guard !userID.isEmpty else { throw .emptyUserID }
        let url = "\(baseURL)/rest/v1/profiles/thirdPartyId/\(URIComponentEncoder.encode(userID))?client=\(encodedClientCode)"
        let length = url.utf8.count
        guard length <= maximumURLBytes else { throw .userIDTooLong(urlBytes: length, limit: maximumURLBytes) }
        return url
    }

    /// `POST {baseURL}/m2/{clientCode}/profile/update?mbox3rdPartyId={user_id}&profile.{name}={value}&…`,
    /// split into as few URLs as fit in `maximumURLBytes`, each with the same `mbox3rdPartyId`,
    /// the attributes in their order. No attributes: no URL.
    public func profileUpdateURLs(userID: String, attributes: ProfileAttributes) throws(AdobeTargetRequestError)
        -> [String]
    {
        guard !userID.isEmpty else { throw .emptyUserID }
        var prefix = updatePrefix
        URIComponentEncoder.append(userID, to: &prefix)
        guard prefix.count <= maximumURLBytes else {
            throw .userIDTooLong(urlBytes: prefix.count, limit: maximumURLBytes)
        }
        guard !attributes.isEmpty else { return [] }

        var urls: [String] = []
        var current = prefix
        var parameter: [UInt8] = []
        for attribute in attributes {
            parameter.removeAll(keepingCapacity: true)
            parameter.append(contentsOf: "&profile.".utf8)
            URIComponentEncoder.append(attribute.name, to: &parameter)
            parameter.append(UInt8(ascii: "="))
            URIComponentEncoder.append(attribute.value, to: &parameter)
            if prefix.count + parameter.count > maximumURLBytes {
                throw .attributeTooLarge(
                    name: attribute.name, urlBytes: prefix.count + parameter.count, limit: maximumURLBytes)
            }
            if current.count + parameter.count > maximumURLBytes {
                urls.append(String(decoding: current, as: UTF8.self))
                current = prefix
            }
            current.append(contentsOf: parameter)
        }
        urls.append(String(decoding: current, as: UTF8.self))
        return urls
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
