#include "tls_certs.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace syncws::test {

namespace {

struct PkeyDeleter {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct X509Deleter {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct BioDeleter {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

PkeyPtr make_key() {
    PkeyPtr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
    X509_EXTENSION_free(ext);
}

struct Spec {
    std::string common_name;
    std::string subject_alt_names; // "DNS:localhost,IP:127.0.0.1"; empty for none
    bool is_ca = false;
    bool client_auth = false;
    long not_before_s = -3600; // relative to now
    long not_after_s = 24 * 3600;
};

// Issues a certificate for `key` per `spec`, signed by `issuer` (self-signed if null).
X509Ptr issue(const Spec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
    static long serial = 0; // test-only: each certificate of a process gets its own serial
    X509Ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_set_version");
    check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial) == 1, "serial");
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_s) != nullptr,
          "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_s) != nullptr, "notAfter");
    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("syncws tests"), -1, -1,
                                     0) == 1,
          "O");
    check(X509_NAME_add_entry_by_txt(
              name, "CN", MBSTRING_ASC,
              reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0) == 1,
          "CN");
    X509* signer = issuer != nullptr ? issuer : cert.get();
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) == 1, "issuer");
    check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");

    add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) {
        add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
    }
    if (spec.is_ca) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
        add_extension(cert.get(), signer, NID_ext_key_usage,
                      spec.client_auth ? "clientAuth" : "serverAuth");
    }
    if (!spec.subject_alt_names.empty()) {
        add_extension(cert.get(), signer, NID_subject_alt_name, spec.subject_alt_names.c_str());
    }
    check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
          "X509_sign");
    return cert;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(length));
}

TestCert to_pem(X509* cert, EVP_PKEY* key) {
    std::unique_ptr<BIO, BioDeleter> cert_bio(BIO_new(BIO_s_mem()));
    std::unique_ptr<BIO, BioDeleter> key_bio(BIO_new(BIO_s_mem()));
    check(cert_bio && key_bio, "BIO_new");
    check(PEM_write_bio_X509(cert_bio.get(), cert) == 1, "PEM_write_bio_X509");
    check(PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
    return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

TestPki make_pki() {
    TestPki pki;
    PkeyPtr ca_key = make_key();
    X509Ptr ca = issue({"syncws test CA", "", true}, ca_key.get(), nullptr, nullptr);
    pki.ca = to_pem(ca.get(), ca_key.get());

    auto leaf = [&](const Spec& spec, X509* issuer, EVP_PKEY* issuer_key) {
        PkeyPtr key = make_key();
        X509Ptr cert = issue(spec, key.get(), issuer, issuer_key);
        return to_pem(cert.get(), key.get());
    };
    const std::string local_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
    pki.server = leaf({"localhost", local_names}, ca.get(), ca_key.get());
    pki.expired = leaf({"localhost", local_names, false, false, -2 * 24 * 3600, -24 * 3600},
                       ca.get(), ca_key.get());
    pki.other_host = leaf({"other.example", "DNS:other.example"}, ca.get(), ca_key.get());
    pki.client = leaf({"syncws test client", "", false, true}, ca.get(), ca_key.get());

    PkeyPtr other_key = make_key();
    X509Ptr other = issue({"unrelated test CA", "", true}, other_key.get(), nullptr, nullptr);
    pki.other_ca = to_pem(other.get(), other_key.get());
    pki.other_client =
        leaf({"client of another CA", "", false, true}, other.get(), other_key.get());
    return pki;
}

} // namespace

const TestPki& test_pki() {
    static const TestPki pki = make_pki();
    return pki;
}

} // namespace syncws::test
