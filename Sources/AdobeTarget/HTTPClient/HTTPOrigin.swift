/// Scheme, host and port of Adobe Target's base URL: where the connections go.
struct HTTPOrigin: Sendable, Hashable {
    var isSecure: Bool
    /// The host without IPv6 brackets, for `getaddrinfo`, SNI and certificate checks.
    var host: String
    var port: UInt16
    /// `host[:port]` exactly as the URL spells it, for the `Host` header.
    var authority: String
    /// `scheme://authority`: every request URL starts with it; the rest is the request target.
    var prefix: String

    /// Whether `host` is an IP address literal (checked against the certificate's IP
    /// entries, and never sent as SNI, which RFC 6066 reserves for names).
    var hostIsIPAddress: Bool {
        host.contains(":") || host.utf8.allSatisfy { $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }
    }

    /// - Parameter baseURL: already validated by `AdobeTargetEndpoint` (scheme, host, no query).
    init(baseURL: String) throws(AdobeTargetConfigurationError) {
        let lowered = baseURL.lowercased()
        isSecure = lowered.hasPrefix("https://")
        let schemeLength = isSecure ? 8 : 7
        let afterScheme = baseURL.dropFirst(schemeLength)
        let authority = String(afterScheme.prefix { $0 != "/" })
        let invalid = AdobeTargetConfigurationError(
            "adobeTarget.baseURL '\(baseURL)' has no usable host and port; write it as "
                + "https://host[:port][/path], e.g. \(AdobeTargetEndpoint.defaultBaseURL)")
        guard !authority.contains("@") else {
            throw AdobeTargetConfigurationError(
                "adobeTarget.baseURL '\(baseURL)' contains user information ('…@'); Adobe Target takes a "
                    + "bearer token instead: remove it and set adobeTarget.bearerToken")
        }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw invalid }
                portText = rest.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        if let portText {
            guard let number = UInt16(portText), number > 0 else { throw invalid }
            port = number
        } else {
            port = isSecure ? 443 : 80
        }
        guard !host.isEmpty else { throw invalid }
        self.authority = authority
        prefix = String(baseURL.prefix(schemeLength)) + authority
    }
}
