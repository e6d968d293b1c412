#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

// Functions for OpenSSL macros, which Swift cannot call.

static inline int copenssl_ctx_set_min_tls12(SSL_CTX *context) {
    return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
}

static inline long copenssl_ctx_set_partial_moving_writes(SSL_CTX *context) {
    return SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static inline void copenssl_ctx_ignore_unexpected_eof(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

static inline int copenssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO calls write(2), which
// raises SIGPIPE (and kills the process) when the peer has closed the connection.

static inline int copenssl_socket_bio_write(BIO *bio, const char *bytes, int length) {
    int descriptor = (int)(intptr_t)BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t sent = send(descriptor, bytes, (size_t)length, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(bio);
        return -1;
    }
    return (int)sent;
}

static inline int copenssl_socket_bio_read(BIO *bio, char *bytes, int capacity) {
    int descriptor = (int)(intptr_t)BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t received = recv(descriptor, bytes, (size_t)capacity, 0);
    if (received < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(bio);
        return -1;
    }
    return (int)received;
}

static inline long copenssl_socket_bio_control(BIO *bio, int command, long number, void *pointer) {
    (void)bio; (void)number; (void)pointer;
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

static inline int copenssl_socket_bio_create(BIO *bio) {
    BIO_set_init(bio, 1);
    return 1;
}

/// A new method table for `copenssl_socket_bio_new`; create one per process and keep it.
static inline BIO_METHOD *copenssl_socket_bio_method_new(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "nosigpipe socket");
    if (method == NULL) return NULL;
    BIO_meth_set_write(method, copenssl_socket_bio_write);
    BIO_meth_set_read(method, copenssl_socket_bio_read);
    BIO_meth_set_ctrl(method, copenssl_socket_bio_control);
    BIO_meth_set_create(method, copenssl_socket_bio_create);
    return method;
}

/// A BIO over a connected socket; the caller keeps ownership of the descriptor.
static inline BIO *copenssl_socket_bio_new(BIO_METHOD *method, int descriptor) {
    BIO *bio = BIO_new(method);
    if (bio != NULL) BIO_set_data(bio, (void *)(intptr_t)descriptor);
    return bio;
}
