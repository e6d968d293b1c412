import AdobeTarget
import EventStore
import Foundation
import JSONKit
import SegmentIngest

/// The Adobe Target bearer token in force. Adobe tokens expire, so operators replace it at run
/// time (`PUT /admin/settings/adobe-target`); the replacement is persisted in the data dir so
/// a restart keeps it — unless the token in the config or environment has changed since, in
/// which case the operator's newer deliberate change there wins.
final class AdobeTokenSettings: Sendable {
    static let settingName = "adobeTarget.bearerToken"

    let provider: BearerTokenProvider
    private let store: any EventStore
    private let configuredFingerprint: String

    init(configured: Secret?, store: any EventStore) throws(StoreError) {
        self.store = store
        configuredFingerprint = Self.fingerprint(configured)
        var token = configured?.revealedValue
        if let saved = try store.setting(named: Self.settingName)?.objectValue,
            saved["configuredFingerprint"]?.stringValue == configuredFingerprint
        {
            token = saved["token"]?.stringValue
        }
        provider = BearerTokenProvider(token: token)
    }

    /// Persists first, so an acknowledged replacement survives a crash.
    func replace(with token: Secret?) throws(AdminFailure) {
        let saved: JSONValue = [
            "token": token.map { .string($0.revealedValue) } ?? .null,
            "configuredFingerprint": .string(configuredFingerprint),
        ]
        do {
            try store.setSetting(saved, named: Self.settingName)
        } catch {
            throw AdminFailure(error)
        }
        provider.replace(with: token?.revealedValue)
    }

    /// Identifies the configured token without keeping it: SHA-256, hex.
    static func fingerprint(_ secret: Secret?) -> String {
        SegmentCrypto.hex(SegmentCrypto.sha256(Array((secret?.revealedValue ?? "").utf8)))
    }
}
