import COpenSSL

/// OpenSSL's client settings shared by every connection: TLS 1.2 or later, the server's
/// certificate verified against the system trust store (or `caFile`), the host name checked
/// per connection.
final class TLSClientContext: @unchecked Sendable {
    // The SSL_CTX is only read after init (SSL_new takes its own reference), which OpenSSL
    // allows from any thread.
    let context: OpaquePointer

    /// One method table for every socket BIO in the process.
    nonisolated(unsafe) static let socketMethod: OpaquePointer? = copenssl_socket_bio_method_new()

    /// - Parameter caFile: PEM certificates to trust instead of the system store (like curl's
    ///   `--cacert`), for a private CA or tests.
    init(caFile: String?) throws(AdobeTargetConfigurationError) {
        guard let context = SSL_CTX_new(TLS_client_method()), TLSClientContext.socketMethod != nil else {
            throw AdobeTargetConfigurationError(
                "OpenSSL could not create a TLS client context (\(TLSClientContext.lastError())); check the "
                    + "installed libssl3")
        }
        self.context = context
        guard copenssl_ctx_set_min_tls12(context) == 1 else {
            throw AdobeTargetConfigurationError("OpenSSL refused TLS 1.2 as the minimum version; check libssl3")
        }
        _ = copenssl_ctx_set_partial_moving_writes(context)
        // A server that closes without close_notify is not an attack on us: the answer's
        // framing (Content-Length, chunked) tells whether it was cut short.
        copenssl_ctx_ignore_unexpected_eof(context)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                let detail = TLSClientContext.lastError()
                throw AdobeTargetConfigurationError(
                    "the Adobe Target CA file '\(caFile)' could not be loaded (\(detail)); point it at a readable "
                        + "PEM file of CA certificates, or leave it unset to use the system trust store")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw AdobeTargetConfigurationError(
                    "OpenSSL could not load the system trust store (\(TLSClientContext.lastError())); install "
                        + "the ca-certificates package")
            }
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// The oldest error in this thread's OpenSSL queue, as text; clears the queue.
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "no OpenSSL error recorded" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
