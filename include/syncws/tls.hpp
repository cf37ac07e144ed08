// TLS settings for wss:// clients and servers. No OpenSSL types: the library builds an
// OpenSSL context from these options once per client or server.
#pragma once

#include <string>

namespace syncws {

/// The oldest TLS version to accept.
enum class TlsVersion {
    tls1_2, ///< TLS 1.2 (RFC 5246) and 1.3: the default.
    tls1_3, ///< TLS 1.3 (RFC 8446) only.
};

/// TLS options for one side of a connection. The same struct configures a client and a
/// server; each field says which side reads it.
///
/// The defaults are the secure ones: a client verifies the server's certificate chain against
/// the system's trust store and checks that it names the host it connected to.
///
/// Certificates and keys are given either as file names or as PEM text in memory. Every
/// trusted-CA source that is set is loaded; our certificate and our key each come from the
/// file or the PEM text, not both. Any unreadable or invalid item is a `TlsError` when the
/// client or server is created, not at the first connection.
///
/// Thread safety: a value type.
struct TlsOptions {
    // --- Whom to trust (client: server certificates; server: client certificates) ---

    /// A PEM file of trusted CA certificates.
    std::string ca_file;
    /// A directory of trusted CA certificates in OpenSSL's hashed format (`openssl rehash`).
    std::string ca_path;
    /// Trusted CA certificates as PEM text: one or several concatenated certificates.
    std::string ca_pem;
    /// Client only: also trust the operating system's CA store (OpenSSL's default locations,
    /// with the SSL_CERT_FILE and SSL_CERT_DIR overrides). The CAs listed above are trusted
    /// *in addition*; set this to false to trust only them (for a private CA). A server never
    /// uses the system store to authenticate clients.
    bool use_system_trust_store = true;

    // --- Our own certificate (server: required; client: optional, for mutual TLS) ---

    /// A PEM file holding our certificate, followed by the intermediate certificates of its
    /// chain, if any.
    std::string cert_file;
    /// A PEM file holding the private key that matches the certificate.
    std::string key_file;
    /// Our certificate and its chain as PEM text (the first certificate is ours).
    std::string cert_pem;
    /// Our private key as PEM text (unencrypted).
    std::string key_pem;

    // --- Client: checking the server ---

    /// The name sent in SNI and checked against the server's certificate; empty means the
    /// host of the URI. SNI is not sent for IP addresses (RFC 6066 §3 forbids it); an IP
    /// address is checked against the certificate's IP subjectAltNames.
    std::string server_name;
    /// Check that the server's certificate names the host (RFC 6125). Leave it on unless
    /// another check stands in for it: without it, any certificate from a trusted CA, issued
    /// to anybody, is accepted.
    bool verify_hostname = true;
    /// DANGEROUS: skip all verification of the server's certificate (chain, expiry and host
    /// name). The connection is still encrypted but not authenticated, so anyone on the path
    /// can impersonate the server and read and change everything (man-in-the-middle). For
    /// tests against throw-away certificates only; never in production.
    bool insecure_skip_verify = false;

    // --- Both sides ---

    /// The oldest protocol version accepted. TLS 1.0 and 1.1 are never offered.
    TlsVersion min_version = TlsVersion::tls1_2;

    // --- Server: client certificates (mutual TLS) ---

    /// Ask clients for a certificate and verify it against ca_file/ca_path/ca_pem when they
    /// send one; a client may still connect without.
    bool verify_client_cert = false;
    /// Refuse clients without a valid certificate (implies verify_client_cert). With TLS 1.3
    /// the client learns of the refusal only after its handshake finished, as an alert on its
    /// first read.
    bool require_client_cert = false;
};

} // namespace syncws
