#include "tls.hpp"

#include "resolve.hpp"
#include "socket.hpp"

#include <syncws/errors.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <vector>

namespace syncws::net {

namespace {

// The largest plaintext chunk encrypted under tls_mutex_ at once: bounds the lock hold time
// and the ciphertext buffered before it is written.
constexpr std::size_t write_chunk = std::size_t{64} * 1024;
// A TLS record is at most 16 KiB of plaintext plus overhead (RFC 8446 §5.2).
constexpr std::size_t read_chunk = std::size_t{16} * 1024 + 512;

struct BioDeleter {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Deleter {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct PkeyDeleter {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct SslDeleter {
    void operator()(SSL* s) const noexcept { SSL_free(s); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// OpenSSL's error queue (per thread), drained into "reason; reason". Empty if it was empty.
std::string drain_error_queue() {
    std::string out;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (!out.empty()) out += "; ";
        const char* reason = ERR_reason_error_string(e);
        if (reason != nullptr) {
            out += reason;
        } else {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof buf);
            out += buf;
        }
    }
    return out;
}

[[noreturn]] void throw_config_error(const std::string& what) {
    std::string detail = drain_error_queue();
    throw TlsError("TLS configuration: " + what + (detail.empty() ? "" : ": " + detail));
}

// Without this, OpenSSL asks for the pass phrase of an encrypted key on the terminal.
int refuse_password(char*, int, int, void*) {
    return -1;
}

BioPtr memory_bio(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) throw_config_error("out of memory");
    return bio;
}

std::vector<X509Ptr> read_certificates(const std::string& pem, const char* field) {
    BioPtr bio = memory_bio(pem);
    std::vector<X509Ptr> certs;
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, refuse_password, nullptr)) {
        certs.emplace_back(x);
    }
    // The loop ends with a "no start line" error at the end of the text: expected.
    ERR_clear_error();
    if (certs.empty()) throw_config_error(std::string(field) + " holds no PEM certificate");
    return certs;
}

void load_trust(SSL_CTX* ctx, const TlsOptions& o, TlsRole role) {
    if (role == TlsRole::client && o.use_system_trust_store && !o.insecure_skip_verify) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            throw_config_error("cannot load the system trust store");
        }
    }
    if (!o.ca_file.empty() || !o.ca_path.empty()) {
        const char* file = o.ca_file.empty() ? nullptr : o.ca_file.c_str();
        const char* path = o.ca_path.empty() ? nullptr : o.ca_path.c_str();
        if (SSL_CTX_load_verify_locations(ctx, file, path) != 1) {
            throw_config_error("cannot load CA certificates from " +
                               (file != nullptr ? "ca_file " + o.ca_file : "ca_path " + o.ca_path));
        }
    }
    if (!o.ca_pem.empty()) {
        X509_STORE* store = SSL_CTX_get_cert_store(ctx);
        for (const X509Ptr& cert : read_certificates(o.ca_pem, "ca_pem")) {
            if (X509_STORE_add_cert(store, cert.get()) != 1) {
                throw_config_error("cannot add a ca_pem certificate to the trust store");
            }
        }
    }
}

void load_own_certificate(SSL_CTX* ctx, const TlsOptions& o) {
    if (!o.cert_file.empty() && !o.cert_pem.empty()) {
        throw_config_error("set cert_file or cert_pem, not both");
    }
    if (!o.key_file.empty() && !o.key_pem.empty()) {
        throw_config_error("set key_file or key_pem, not both");
    }
    bool has_cert = !o.cert_file.empty() || !o.cert_pem.empty();
    bool has_key = !o.key_file.empty() || !o.key_pem.empty();
    if (has_cert != has_key) {
        throw_config_error(has_cert
                               ? "a certificate needs its private key (key_file or key_pem)"
                               : "a private key needs its certificate (cert_file or cert_pem)");
    }
    if (!has_cert) return;

    if (!o.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1) {
            throw_config_error("cannot load cert_file " + o.cert_file);
        }
    } else {
        std::vector<X509Ptr> chain = read_certificates(o.cert_pem, "cert_pem");
        if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
            throw_config_error("cannot use the cert_pem certificate");
        }
        for (std::size_t i = 1; i < chain.size(); ++i) {
            if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
                throw_config_error("cannot add a cert_pem chain certificate");
            }
        }
    }
    if (!o.key_file.empty()) {
        if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
            throw_config_error("cannot load key_file " + o.key_file);
        }
    } else {
        BioPtr bio = memory_bio(o.key_pem);
        PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_password, nullptr));
        if (!key) throw_config_error("key_pem holds no usable PEM private key");
        if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
            throw_config_error("cannot use the key_pem private key");
        }
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        throw_config_error("the private key does not match the certificate");
    }
}

// Tells clients which CAs we accept, so that one holding several certificates picks the
// right one (RFC 8446 §4.2.4, certificate_authorities).
void set_client_ca_list(SSL_CTX* ctx, const TlsOptions& o) {
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    if (names == nullptr) throw_config_error("out of memory");
    if (!o.ca_file.empty()) SSL_add_file_cert_subjects_to_stack(names, o.ca_file.c_str());
    if (!o.ca_pem.empty()) {
        for (const X509Ptr& cert : read_certificates(o.ca_pem, "ca_pem")) {
            X509_NAME* name = X509_NAME_dup(X509_get_subject_name(cert.get()));
            if (name != nullptr && sk_X509_NAME_push(names, name) == 0) X509_NAME_free(name);
        }
    }
    ERR_clear_error();
    SSL_CTX_set_client_CA_list(ctx, names); // takes ownership
}

std::string x509_name(const X509_NAME* name) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || name == nullptr) return {};
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio.get(), &data);
    return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

// "DNS:a.example, IP:127.0.0.1" from the subjectAltName, or the subject if there is none:
// what a reader needs to see why the host name did not match.
std::string certificate_names(X509* cert) {
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    std::string out;
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        std::string item;
        if (name->type == GEN_DNS) {
            const ASN1_STRING* s = name->d.dNSName;
            item = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                        static_cast<std::size_t>(ASN1_STRING_length(s)));
        } else if (name->type == GEN_IPADD) {
            const ASN1_STRING* s = name->d.iPAddress;
            char text[INET6_ADDRSTRLEN] = {};
            int length = ASN1_STRING_length(s);
            int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : AF_UNSPEC;
            if (family != AF_UNSPEC) inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text);
            item = std::string("IP:") + text;
        }
        if (item.empty()) continue;
        if (!out.empty()) out += ", ";
        out += item;
    }
    GENERAL_NAMES_free(names);
    return out.empty() ? x509_name(X509_get_subject_name(cert)) : out;
}

// What went wrong in an SSL call that failed with `ssl_error`, as readable as OpenSSL allows:
// the verification result by name (with the certificate's names for a host mismatch), else
// the reasons in the error queue (which names a received alert: "tlsv13 alert certificate
// required"). Empties the queue.
std::string describe_failure(SSL* ssl, int ssl_error, const std::string& verify_detail,
                             const std::string& expected_name) {
    unsigned long first = ERR_peek_error();
    std::string queue = drain_error_queue();
    long verify = SSL_get_verify_result(ssl);
    // The verify result stays set after an insecure_skip_verify handshake: only a failure
    // that verification caused is reported as one.
    if (verify != X509_V_OK && ERR_GET_LIB(first) == ERR_LIB_SSL &&
        ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        std::string out = "certificate verify failed: ";
        out += X509_verify_cert_error_string(verify);
        if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            out += " (" + (verify_detail.empty() ? "" : verify_detail + "; ") + "expected " +
                   expected_name + ")";
        } else if (!verify_detail.empty()) {
            out += " (" + verify_detail + ")";
        }
        return out;
    }
    if (!queue.empty()) return queue;
    if (ssl_error == SSL_ERROR_SYSCALL) return "unexpected end of the TLS stream";
    return "TLS error " + std::to_string(ssl_error);
}

// Records which certificate failed and why, while OpenSSL still has it: after a failed
// handshake the peer certificate is gone. The SSL's app data points to the stream's
// verify_detail_ string; runs inside SSL_do_handshake, under tls_mutex_.
int record_verify_failure(int preverify_ok, X509_STORE_CTX* store) {
    if (preverify_ok == 1) return 1;
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* detail = ssl == nullptr ? nullptr : static_cast<std::string*>(SSL_get_app_data(ssl));
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    if (detail != nullptr && detail->empty() && cert != nullptr) {
        int error = X509_STORE_CTX_get_error(store);
        if (error == X509_V_ERR_HOSTNAME_MISMATCH || error == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            *detail = "the certificate is for " + certificate_names(cert);
        } else {
            *detail = "certificate " + x509_name(X509_get_subject_name(cert));
        }
    }
    return 0;
}

// The ciphertext BIO: reads what the socket read brought, in place; appends what OpenSSL
// writes to a string. Its data is the stream's TlsCiphertext.
int ciphertext_write(BIO* bio, const char* data, int n) {
    BIO_clear_retry_flags(bio);
    if (n <= 0) return 0;
    auto* ciphertext = static_cast<TlsCiphertext*>(BIO_get_data(bio));
    try {
        ciphertext->out.append(data, static_cast<std::size_t>(n));
    } catch (const std::bad_alloc&) {
        return -1; // OpenSSL reports the write as failed: a TlsError for the caller
    }
    return n;
}

int ciphertext_read(BIO* bio, char* data, int n) {
    BIO_clear_retry_flags(bio);
    auto* ciphertext = static_cast<TlsCiphertext*>(BIO_get_data(bio));
    if (ciphertext->in_left == 0) {
        BIO_set_retry_read(bio); // "wait for more", not end of stream
        return -1;
    }
    if (n <= 0) return 0;
    std::size_t count = std::min(ciphertext->in_left, static_cast<std::size_t>(n));
    std::memcpy(data, ciphertext->in, count);
    ciphertext->in += count;
    ciphertext->in_left -= count;
    return static_cast<int>(count);
}

long ciphertext_ctrl(BIO* bio, int command, long, void*) {
    auto* ciphertext = static_cast<TlsCiphertext*>(BIO_get_data(bio));
    switch (command) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return static_cast<long>(ciphertext->in_left);
    case BIO_CTRL_WPENDING:
        return static_cast<long>(ciphertext->out.size());
    default:
        return 0; // not supported: kTLS, push/pop, ...
    }
}

int ciphertext_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// TlsContext

TlsContext::TlsContext(TlsRole role, const TlsOptions& options) : role_(role), options_(options) {
    ERR_clear_error();
    ctx_ = SSL_CTX_new(role == TlsRole::client ? TLS_client_method() : TLS_server_method());
    if (ctx_ == nullptr) throw_config_error("cannot create an OpenSSL context");
    try {
        // No BIO_get_new_index(): its numbers are process-wide and few (127), and a client
        // makes a context per connect.
        ciphertext_method_ = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "syncws ciphertext");
        if (ciphertext_method_ == nullptr ||
            BIO_meth_set_write(ciphertext_method_, ciphertext_write) != 1 ||
            BIO_meth_set_read(ciphertext_method_, ciphertext_read) != 1 ||
            BIO_meth_set_ctrl(ciphertext_method_, ciphertext_ctrl) != 1 ||
            BIO_meth_set_create(ciphertext_method_, ciphertext_create) != 1) {
            throw_config_error("cannot create the ciphertext BIO type");
        }
        SSL_CTX_set_default_passwd_cb(ctx_, refuse_password);
        int min = options.min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
        SSL_CTX_set_min_proto_version(ctx_, min);
        // Renegotiation would let the peer start a handshake in the middle of SSL_read,
        // writing from the reader; compression invites CRIME.
        uint64_t flags = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
        if (role == TlsRole::server) flags |= SSL_OP_CIPHER_SERVER_PREFERENCE;
        SSL_CTX_set_options(ctx_, flags);

        load_trust(ctx_, options, role);
        load_own_certificate(ctx_, options);

        if (role == TlsRole::client) {
            SSL_CTX_set_verify(
                ctx_, options.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
        } else {
            if (options.cert_file.empty() && options.cert_pem.empty()) {
                throw_config_error("a TLS server needs a certificate and its private key "
                                   "(cert_file/key_file or cert_pem/key_pem)");
            }
            bool verify = options.verify_client_cert || options.require_client_cert;
            if (verify) {
                if (options.ca_file.empty() && options.ca_path.empty() && options.ca_pem.empty()) {
                    throw_config_error("verifying client certificates needs a CA "
                                       "(ca_file, ca_path or ca_pem)");
                }
                set_client_ca_list(ctx_, options);
                int mode = SSL_VERIFY_PEER;
                if (options.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
                SSL_CTX_set_verify(ctx_, mode, nullptr);
            } else {
                SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
            }
            // Resumed sessions must belong to this context (OpenSSL refuses to resume
            // without one when client certificates are verified).
            static constexpr unsigned char id[] = "syncws";
            SSL_CTX_set_session_id_context(ctx_, id, sizeof id - 1);
        }
    } catch (...) {
        BIO_meth_free(ciphertext_method_);
        SSL_CTX_free(ctx_);
        throw;
    }
}

TlsContext::~TlsContext() {
    SSL_CTX_free(ctx_);
    BIO_meth_free(ciphertext_method_);
}

std::shared_ptr<TlsContext> TlsContext::client(const TlsOptions& options) {
    return std::shared_ptr<TlsContext>(new TlsContext(TlsRole::client, options));
}

std::shared_ptr<TlsContext> TlsContext::server(const TlsOptions& options) {
    return std::shared_ptr<TlsContext>(new TlsContext(TlsRole::server, options));
}

// ---------------------------------------------------------------------------------------------
// TlsStream: setup and handshake

TlsStream::TlsStream(std::unique_ptr<Stream> inner, std::shared_ptr<const TlsContext> context,
                     std::string peer_name)
    : inner_(std::move(inner)), context_(std::move(context)), peer_name_(std::move(peer_name)),
      read_buffer_(new char[read_chunk]) {
    ERR_clear_error();
    std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(context_->native_handle()));
    BIO* bio = BIO_new(context_->ciphertext_method());
    if (!ssl || bio == nullptr) {
        BIO_free(bio);
        throw_config_error("cannot create a TLS connection");
    }
    BIO_set_data(bio, &ciphertext_);
    SSL_set_bio(ssl.get(), bio, bio); // the SSL owns it from here (one reference for both)
    int mode = SSL_get_verify_mode(ssl.get());
    if (mode != SSL_VERIFY_NONE) {
        SSL_set_app_data(ssl.get(), &verify_detail_);
        SSL_set_verify(ssl.get(), mode, record_verify_failure);
    }
    ssl_ = ssl.release();
}

TlsStream::~TlsStream() {
    SSL_free(ssl_);
}

std::unique_ptr<TlsStream> TlsStream::client(std::unique_ptr<Stream> inner,
                                             std::shared_ptr<const TlsContext> context,
                                             std::string_view host, Deadline deadline) {
    const TlsOptions& o = context->options();
    std::string name(strip_brackets(o.server_name.empty() ? host : o.server_name));
    std::unique_ptr<TlsStream> stream(new TlsStream(std::move(inner), std::move(context), name));
    SSL* ssl = stream->ssl_;
    SSL_set_connect_state(ssl);
    bool ip = is_ip_literal(name);
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
    if (!name.empty() && !ip &&
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(name.c_str())) != 1) {
        throw_config_error("invalid server name \"" + name + "\"");
    }
    if (!o.insecure_skip_verify && o.verify_hostname) {
        if (name.empty()) {
            throw TlsError("TLS configuration: no host name to verify the certificate against "
                           "(set server_name, or verify_hostname = false)");
        }
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                    : SSL_set1_host(ssl, name.c_str());
        if (ok != 1) throw_config_error("cannot verify against host name \"" + name + "\"");
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    stream->handshake(deadline);
    return stream;
}

std::unique_ptr<TlsStream> TlsStream::server(std::unique_ptr<Stream> inner,
                                             std::shared_ptr<const TlsContext> context,
                                             Deadline deadline) {
    std::unique_ptr<TlsStream> stream(new TlsStream(std::move(inner), std::move(context), ""));
    SSL_set_accept_state(stream->ssl_);
    stream->handshake(deadline);
    return stream;
}

std::string TlsStream::describe_peer() const {
    std::string address = inner_->remote_address();
    if (peer_name_.empty() || peer_name_ + ":" == address.substr(0, peer_name_.size() + 1)) {
        return address;
    }
    return peer_name_ + " (" + address + ")";
}

void TlsStream::handshake(Deadline deadline) {
    auto start = std::chrono::steady_clock::now();
    std::string out;
    for (;;) {
        int result;
        int error = SSL_ERROR_NONE;
        std::string failure;
        {
            std::lock_guard<std::mutex> lock(tls_mutex_);
            ERR_clear_error();
            result = SSL_do_handshake(ssl_);
            if (result != 1) {
                error = SSL_get_error(ssl_, result);
                if (error != SSL_ERROR_WANT_READ) {
                    failure = describe_failure(ssl_, error, verify_detail_, peer_name_);
                }
            }
            take_output_locked(out);
        }
        if (!out.empty()) {
            // A fatal alert is sent before reporting; if the peer is already gone, the TLS
            // failure is still the news.
            try {
                write_out(out);
            } catch (const NetworkError&) {
                if (failure.empty()) throw;
            }
        }
        if (result == 1) return;
        if (!failure.empty()) {
            throw TlsError("TLS handshake with " + describe_peer() + " failed: " + failure);
        }
        // Only waits for the peer are bounded: each flight we write (a few kilobytes) fits in
        // the socket's send buffer. The owner can still abort() from another thread.
        if (!inner_->wait_readable(deadline)) {
            throw Timeout("TLS handshake with " + describe_peer() + " timed out after " +
                          std::to_string(detail::elapsed_ms(start)) + " ms");
        }
        if (!fill_from_inner()) {
            throw TlsError("TLS handshake with " + describe_peer() +
                           " failed: the connection was closed by the peer");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TlsStream: the reader's side

bool TlsStream::fill_from_inner() {
    std::size_t n = inner_->read_some(read_buffer_.get(), read_chunk);
    if (n == 0) return false;
    buffer_received(n);
    return true;
}

void TlsStream::buffer_received(std::size_t n) {
    std::lock_guard<std::mutex> lock(tls_mutex_);
    ciphertext_.in = read_buffer_.get();
    ciphertext_.in_left = n;
}

TlsStream::Decrypted TlsStream::decrypt(char* buf, std::size_t n, std::size_t& got, bool peek) {
    // Output OpenSSL produces here (alerts, KeyUpdate answers) stays in the BIO: the reader
    // never writes. has_backlog() shows it to the owner.
    std::lock_guard<std::mutex> lock(tls_mutex_);
    ERR_clear_error();
    int max = n > INT_MAX ? INT_MAX : static_cast<int>(n);
    int r = peek ? SSL_peek(ssl_, buf, max) : SSL_read(ssl_, buf, max);
    if (r > 0) {
        got = static_cast<std::size_t>(r);
        return Decrypted::data;
    }
    int error = SSL_get_error(ssl_, r);
    if (error == SSL_ERROR_ZERO_RETURN) return Decrypted::eof;
    if (error == SSL_ERROR_WANT_READ) return Decrypted::want_read;
    reader_error_ = "TLS error on the connection with " + describe_peer() + ": " +
                    describe_failure(ssl_, error, verify_detail_, peer_name_);
    return Decrypted::error;
}

std::size_t TlsStream::read_some(char* buf, std::size_t n) {
    if (n == 0) return 0;
    for (;;) {
        if (!reader_error_.empty()) throw TlsError(reader_error_);
        if (inner_error_) std::rethrow_exception(inner_error_);
        if (aborted_.load(std::memory_order_acquire)) return 0;
        std::size_t got = 0;
        switch (decrypt(buf, n, got, false)) {
        case Decrypted::data:
            // SSL_read hands over one record per call; the socket read usually brought
            // several. All of them in one call, as a plain socket would: the caller parses
            // a batch, not a message at a time. An end or error after them is reported by
            // the next call (OpenSSL keeps returning it).
            while (got < n) {
                std::size_t more = 0;
                if (decrypt(buf + got, n - got, more, false) != Decrypted::data) break;
                got += more;
            }
            return got;
        case Decrypted::eof:
            return 0;
        case Decrypted::error:
            throw TlsError(reader_error_);
        case Decrypted::want_read:
            break;
        }
        if (inner_eof_) return 0;
        if (!fill_from_inner()) inner_eof_ = true;
    }
}

std::optional<std::size_t> TlsStream::read_some_until(char* buf, std::size_t n,
                                                      Deadline deadline) {
    // As wait(): output that reading produces must reach the owner before we block again.
    const bool had_backlog = has_backlog();
    for (;;) {
        if (readable_now()) return read_some(buf, n); // plaintext, the end, an error, abort
        if (!had_backlog && has_backlog()) return std::nullopt;
        const auto got = inner_->read_some_until(read_buffer_.get(), read_chunk, deadline);
        if (!got) return std::nullopt;
        if (*got == 0)
            inner_eof_ = true;
        else
            buffer_received(*got);
    }
}

bool TlsStream::readable_now() {
    if (!reader_error_.empty() || inner_error_ || inner_eof_ ||
        aborted_.load(std::memory_order_acquire)) {
        return true;
    }
    // SSL_peek processes the buffered records (tickets, alerts) without consuming data,
    // so "readable" means plaintext, end or error is there, not just a partial record.
    char byte;
    std::size_t got = 0;
    return decrypt(&byte, 1, got, true) != Decrypted::want_read;
}

bool TlsStream::wait_readable(Deadline deadline) {
    for (;;) {
        if (readable_now()) return true;
        if (!inner_->wait_readable(deadline)) return false;
        if (!fill_from_inner()) inner_eof_ = true;
    }
}

Readiness TlsStream::wait(bool read, bool write, int wake_fd, Deadline deadline) {
    // Reading may make this layer or the one below (TLS in TLS) produce output; the owner
    // must see has_backlog() before we block again, or that output would wait for the next
    // application write (a KeyUpdate answer) or for ever (the peer waits for our alert).
    const bool had_backlog = has_backlog();
    Readiness ready;
    for (;;) {
        if (aborted_.load(std::memory_order_acquire)) {
            ready.readable = true;  // read_some returns 0 at once
            ready.writable = write; // write_some_now throws ECANCELED at once
            return ready;
        }
        if (read && readable_now()) {
            ready.readable = true;
            return ready;
        }
        // The inner stream also said writable or woken while we read what it had: say so now
        // rather than wait again.
        if (ready.writable || ready.woken) return ready;
        if (!had_backlog && has_backlog()) return ready;
        Readiness inner = inner_->wait(read, write, wake_fd, deadline);
        ready.writable = inner.writable;
        ready.woken = inner.woken;
        // All false: the deadline passed, or the inner stream produced output to send.
        if (!inner.readable) return ready;
        if (!read) {
            // Not asked, yet readable: the inner stream was aborted or the connection died.
            // read_some reports it.
            ready.readable = true;
            return ready;
        }
        try {
            if (!fill_from_inner()) inner_eof_ = true;
        } catch (...) {
            // wait() never throws for the connection's own errors: read_some will.
            inner_error_ = std::current_exception();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TlsStream: the writer's side

void TlsStream::take_output_locked(std::string& out) {
    if (ciphertext_.out.empty()) return;
    if (out.empty()) {
        out.swap(ciphertext_.out); // the usual case: no copy, and both keep their capacity
    } else {
        out += ciphertext_.out;
        ciphertext_.out.clear();
    }
}

void TlsStream::take_backlog_locked() {
    take_output_locked(backlog_);
    if (backlog_offset_ < backlog_.size()) backlog_pending_.store(true, std::memory_order_release);
}

void TlsStream::write_out(std::string& out) {
    try {
        inner_->write_all(out.data(), out.size());
    } catch (...) {
        out.clear();
        throw;
    }
    out.clear();
}

bool TlsStream::write_backlog_now() {
    try {
        while (backlog_offset_ < backlog_.size()) {
            std::size_t n = inner_->write_some_now(backlog_.data() + backlog_offset_,
                                                   backlog_.size() - backlog_offset_);
            if (n == 0) return false;
            backlog_offset_ += n;
        }
    } catch (...) {
        // The connection is broken: nothing of it can be sent any more.
        backlog_.clear();
        backlog_offset_ = 0;
        backlog_pending_.store(false, std::memory_order_release);
        throw;
    }
    backlog_.clear();
    backlog_offset_ = 0;
    backlog_pending_.store(false, std::memory_order_release);
    return true;
}

void TlsStream::write_backlog_blocking() {
    if (backlog_offset_ < backlog_.size()) {
        try {
            inner_->write_all(backlog_.data() + backlog_offset_, backlog_.size() - backlog_offset_);
        } catch (...) {
            backlog_.clear();
            backlog_offset_ = 0;
            backlog_pending_.store(false, std::memory_order_release);
            throw;
        }
    }
    backlog_.clear();
    backlog_offset_ = 0;
    backlog_pending_.store(false, std::memory_order_release);
}

void TlsStream::throw_if_aborted() const {
    if (aborted_.load(std::memory_order_acquire)) {
        detail::throw_errno(ECANCELED, "write to " + inner_->remote_address() + " aborted");
    }
}

std::string TlsStream::encrypt_to_backlog(const char* data, std::size_t n) {
    std::string failure;
    std::lock_guard<std::mutex> lock(tls_mutex_);
    if (n > 0) {
        ERR_clear_error();
        int r = SSL_write(ssl_, data, static_cast<int>(n));
        if (r <= 0) {
            failure = describe_failure(ssl_, SSL_get_error(ssl_, r), verify_detail_, peer_name_);
        }
    }
    // After the backlog, and the output the reader left behind before our records: the BIO
    // is one ordered queue.
    take_backlog_locked();
    return failure;
}

void TlsStream::write_all(const char* data, std::size_t n) {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    do {
        throw_if_aborted();
        std::size_t chunk = n < write_chunk ? n : write_chunk;
        const std::string failure = encrypt_to_backlog(data, chunk);
        write_backlog_blocking();
        if (!failure.empty()) {
            throw TlsError("TLS error writing to " + describe_peer() + ": " + failure);
        }
        data += chunk;
        n -= chunk;
    } while (n > 0);
}

std::size_t TlsStream::write_some_now(const char* data, std::size_t n) {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    throw_if_aborted();
    if (!write_backlog_now()) return 0;
    std::size_t chunk = n < write_chunk ? n : write_chunk;
    // With n = 0, only the output produced while reading.
    const std::string failure = encrypt_to_backlog(data, chunk);
    // Records that do not fit stay in the backlog; the plaintext counts as taken.
    const bool all_out = write_backlog_now();
    if (!failure.empty()) {
        throw TlsError("TLS error writing to " + describe_peer() + ": " + failure);
    }
    // TLS in TLS: the inner layer's own output produced while reading. Any write of ours
    // pushed it first; with nothing of ours to write, push it here.
    if (chunk == 0 && all_out) inner_->write_some_now(nullptr, 0);
    return chunk;
}

bool TlsStream::has_backlog() const {
    {
        std::lock_guard<std::mutex> lock(tls_mutex_);
        // BIO first: a writer moves its output to backlog_ and sets backlog_pending_ under
        // this lock, so one of the two shows it.
        if (!ciphertext_.out.empty()) return true;
        if (backlog_pending_.load(std::memory_order_acquire)) return true;
    }
    return inner_->has_backlog();
}

void TlsStream::shutdown_write() {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    {
        std::lock_guard<std::mutex> lock(tls_mutex_);
        ERR_clear_error();
        // Sends close_notify (returns 0: the peer's has not arrived, reading goes on). After
        // a fatal error OpenSSL refuses; the reader reports that error, so nothing to add.
        SSL_shutdown(ssl_);
        ERR_clear_error();
        take_backlog_locked();
    }
    write_backlog_blocking();
    inner_->shutdown_write();
}

bool TlsStream::shutdown_write_now() {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    if (!close_notify_queued_) {
        close_notify_queued_ = true;
        std::lock_guard<std::mutex> lock(tls_mutex_);
        ERR_clear_error();
        SSL_shutdown(ssl_); // as in shutdown_write
        ERR_clear_error();
        take_backlog_locked();
    }
    if (!write_backlog_now()) return false;
    return inner_->shutdown_write_now();
}

void TlsStream::request_key_update() {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    std::string failure;
    {
        std::lock_guard<std::mutex> lock(tls_mutex_);
        ERR_clear_error();
        // SSL_key_update only schedules the message; SSL_do_handshake writes it.
        if (SSL_key_update(ssl_, SSL_KEY_UPDATE_REQUESTED) != 1 || SSL_do_handshake(ssl_) != 1) {
            failure = describe_failure(ssl_, SSL_ERROR_SSL, verify_detail_, peer_name_);
        }
        take_backlog_locked();
    }
    write_backlog_blocking();
    if (!failure.empty()) {
        throw TlsError("TLS key update with " + describe_peer() + " failed: " + failure);
    }
}

void TlsStream::abort() noexcept {
    aborted_.store(true, std::memory_order_release);
    inner_->abort();
}

// ---------------------------------------------------------------------------------------------
// TlsStream: observers

std::string TlsStream::version() const {
    std::lock_guard<std::mutex> lock(tls_mutex_);
    return SSL_get_version(ssl_);
}

std::string TlsStream::peer_certificate_subject() const {
    std::lock_guard<std::mutex> lock(tls_mutex_);
    X509* cert = SSL_get0_peer_certificate(ssl_);
    return cert == nullptr ? std::string() : x509_name(X509_get_subject_name(cert));
}

} // namespace syncws::net
