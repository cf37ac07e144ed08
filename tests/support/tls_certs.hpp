// Test certificates made at run time with OpenSSL, so no key material is committed and
// nothing expires in the repository.
#pragma once

#include <string>

namespace syncws::test {

/// A certificate and its private key, both PEM.
struct TestCert {
    std::string cert_pem;
    std::string key_pem;
};

/// A small PKI for TLS tests. Every key is ECDSA P-256; every certificate is signed with
/// SHA-256.
struct TestPki {
    /// Self-signed root "syncws test CA". No system store trusts it.
    TestCert ca;
    /// Leaf for DNS:localhost, IP:127.0.0.1 and IP:::1, issued by `ca`, valid for a day.
    TestCert server;
    /// Same names as `server`, issued by `ca`, expired yesterday.
    TestCert expired;
    /// Leaf for DNS:other.example only, issued by `ca`.
    TestCert other_host;
    /// Client-authentication leaf "CN=syncws test client", issued by `ca`.
    TestCert client;
    /// An unrelated self-signed root, and a client certificate it issued.
    TestCert other_ca;
    TestCert other_client;
};

/// The process's test PKI, generated on first use (a few milliseconds). Thread-safe.
const TestPki& test_pki();

} // namespace syncws::test
