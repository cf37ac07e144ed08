// TLS over any Stream; OpenSSL never touches the socket (DESIGN.md, threading item 7).
#pragma once

#include "stream.hpp"

#include <syncws/tls.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

// OpenSSL's own type names, declared so that this header does not pull in <openssl/ssl.h>.
struct ssl_ctx_st;
struct ssl_st;
struct bio_method_st;

namespace syncws::net {

/// Which end of the handshake a context serves.
enum class TlsRole { client, server };

/// An OpenSSL context (SSL_CTX) built from `TlsOptions`: trust store, our certificate and key,
/// protocol versions, verification mode. Build one per client configuration or per server and
/// share it between connections; there is no global context.
///
/// Thread safety: immutable once built; any number of connections on any threads may use it.
class TlsContext {
public:
    /// A client context. Throws `TlsError` naming the option that could not be loaded.
    static std::shared_ptr<TlsContext> client(const TlsOptions& options);
    /// A server context; needs a certificate and key, and a CA when client certificates are
    /// verified. Throws `TlsError`.
    static std::shared_ptr<TlsContext> server(const TlsOptions& options);

    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    ~TlsContext();

    TlsRole role() const noexcept { return role_; }
    const TlsOptions& options() const noexcept { return options_; }
    /// The OpenSSL context, still owned by this object.
    ssl_ctx_st* native_handle() const noexcept { return ctx_; }
    /// The BIO type through which a `TlsStream` of this context exchanges ciphertext.
    const bio_method_st* ciphertext_method() const noexcept { return ciphertext_method_; }

private:
    TlsContext(TlsRole role, const TlsOptions& options);

    TlsRole role_;
    TlsOptions options_;
    ssl_ctx_st* ctx_ = nullptr;
    // Per context, not a static: no global state.
    bio_method_st* ciphertext_method_ = nullptr;
};

/// What OpenSSL reads and writes through a `TlsStream`'s BIO, under its `tls_mutex_`. `in`
/// points into the stream's read buffer: OpenSSL asks for more (SSL_ERROR_WANT_READ) only
/// once it consumed all of it, and only then does the reader read into that buffer again.
struct TlsCiphertext {
    const char* in = nullptr;
    std::size_t in_left = 0;
    std::string out; // produced, not yet taken into the writer's backlog
};

/// A TLS connection over an inner `Stream` (usually a `SocketStream`).
///
/// OpenSSL never touches the socket: it reads and writes ciphertext through a BIO of ours
/// that reads straight from the buffer the socket read filled and appends what it writes
/// to a string the writer swaps out (`TlsCiphertext`; OpenSSL's memory BIOs cost two more
/// copies and a memset of every record, 6 % of a `wss://` bulk echo's CPU). OpenSSL forbids SSL_read and SSL_write on one SSL from two threads at once
/// (openssl/openssl#20446), so every call on the SSL object happens under `tls_mutex_`, held
/// only for the CPU work, never across I/O on the inner stream:
///
/// - the reader reads ciphertext from the inner stream with no lock, then under `tls_mutex_`
///   feeds it to OpenSSL and decrypts (SSL_read);
/// - the writer, holding `write_mutex_`, encrypts under `tls_mutex_` (SSL_write), takes the
///   ciphertext out of the BIO, and writes it to the inner stream after releasing
///   `tls_mutex_`. `write_mutex_` keeps ciphertext records in the order they were produced
///   even if `write_all`, `write_some_now` and `shutdown_write` are called from different
///   threads. Ciphertext `write_some_now` could not write at once stays in the backlog (a
///   buffer and an offset, under `write_mutex_`) and goes out before anything else.
/// - the reader never blocks on writing: bytes OpenSSL produces while reading (alerts, such as
///   the refusal of a renegotiation) stay in the BIO, itself one ordered queue with the
///   writer's records. `has_backlog()` says so (from any thread), and `wait` returns (all
///   false) as soon as reading produced some, so that the owner's event loop calls
///   `write_some_now(nullptr, 0)` when the inner stream is writable. Otherwise they leave
///   with the next write. (OpenSSL 3 answers a TLS 1.3 KeyUpdate only in the next SSL_write,
///   before its application data, as RFC 8446 §4.6.3 requires: nothing to send meanwhile.)
/// - over another stream that produces output while reading (TLS in TLS: `wss://` through an
///   `https://` proxy), our reads drive its reads on the same reader thread: its pending
///   output counts in our `has_backlog()`, and `write_some_now(nullptr, 0)` pushes it once our
///   own is out (any write of ours pushes it first anyway).
///
/// Lock order: `write_mutex_` → `tls_mutex_`. Both are leaves for the runtime.
/// Renegotiation is refused (SSL_OP_NO_RENEGOTIATION).
///
/// Thread safety: as `Stream`: one reader, one writer, `abort` from any thread.
class TlsStream final : public Stream {
public:
    /// Runs a client handshake over `inner` on the calling thread. `host` is the name or
    /// address the caller connected to: sent as SNI (unless an IP address) and checked against
    /// the certificate, unless the options say otherwise (`server_name`, `verify_hostname`,
    /// `insecure_skip_verify`).
    /// Throws: `TlsError` ("TLS handshake with <host> (<address>) failed: certificate verify
    /// failed: hostname mismatch (…)", an alert from the server, …); `Timeout` when `deadline`
    /// passes; `NetworkError` if the inner stream fails.
    static std::unique_ptr<TlsStream> client(std::unique_ptr<Stream> inner,
                                             std::shared_ptr<const TlsContext> context,
                                             std::string_view host, Deadline deadline);

    /// Runs a server handshake over `inner` on the calling thread. Throws like `client`.
    static std::unique_ptr<TlsStream> server(std::unique_ptr<Stream> inner,
                                             std::shared_ptr<const TlsContext> context,
                                             Deadline deadline);

    ~TlsStream() override;

    /// Decrypts. Returns 0 after the peer's close_notify, and also when the inner stream ends
    /// without one (a "ragged" EOF): WebSocket's own closing handshake detects truncation.
    /// Throws: `TlsError` for a TLS failure or alert (the same error again on later calls);
    /// `NetworkError` from the inner stream.
    std::size_t read_some(char* buf, std::size_t n) override;
    /// Reads the socket through the inner stream's `read_some_until` (one system call for a
    /// plain socket) when no plaintext is buffered.
    std::optional<std::size_t> read_some_until(char* buf, std::size_t n,
                                               Deadline deadline) override;
    /// Sends the backlog first, then encrypts and writes all `n` bytes, blocking.
    void write_all(const char* data, std::size_t n) override;
    /// Sends the backlog as far as the inner stream takes it; if it is all out, encrypts at
    /// most 64 KiB of `data` and returns how many bytes it encrypted (their records may stay
    /// in the backlog). With `n` = 0, also moves the output produced while reading to the
    /// backlog and pushes the inner stream's own backlog.
    std::size_t write_some_now(const char* data, std::size_t n) override;
    /// Our unwritten records, output produced while reading, or the inner stream's backlog.
    bool has_backlog() const override;
    bool half_close_is_answered() const override { return true; }
    /// Readable only when `read_some` returns at once without blocking: plaintext, the end,
    /// a TLS error or an error of the inner stream (kept for `read_some` to throw). Returns
    /// all false as soon as `has_backlog()` became true during the wait (reading produced
    /// output), unless it was true on entry.
    Readiness wait(bool read, bool write, int wake_fd, Deadline deadline) override;
    /// Sends the backlog and close_notify (blocking), then half-closes the inner stream.
    /// Reading may go on.
    void shutdown_write() override;
    /// Queues close_notify, sends what the socket takes, and half-closes the inner stream
    /// (with its own `shutdown_write_now`) once the backlog is out.
    bool shutdown_write_now() override;
    void abort() noexcept override;
    bool wait_readable(Deadline deadline) override;
    std::string local_address() const override { return inner_->local_address(); }
    std::string remote_address() const override { return inner_->remote_address(); }

    /// The negotiated protocol: "TLSv1.2" or "TLSv1.3".
    std::string version() const;
    /// The peer certificate's subject ("CN=client,O=…"), or "" if it sent none.
    std::string peer_certificate_subject() const;

    /// TLS 1.3: updates our sending keys and asks the peer to update its own (RFC 8446
    /// §4.6.3), for connections that carry a lot of data for a long time. The writer's side:
    /// sends the backlog and the KeyUpdate at once (blocking). Throws `TlsError` on TLS 1.2,
    /// or like `write_all`.
    void request_key_update();

    /// The OpenSSL connection, for diagnostics and tests. Not synchronized: touch it only
    /// while no reader or writer runs.
    ssl_st* native_handle() const noexcept { return ssl_; }

private:
    enum class Decrypted { data, eof, want_read, error };

    TlsStream(std::unique_ptr<Stream> inner, std::shared_ptr<const TlsContext> context,
              std::string peer_name);
    void handshake(Deadline deadline);
    Decrypted decrypt(char* buf, std::size_t n, std::size_t& got, bool peek);
    bool fill_from_inner();
    // Hands `n` bytes read into read_buffer_ to OpenSSL.
    void buffer_received(std::size_t n);
    bool readable_now();
    void take_output_locked(std::string& out);
    void take_backlog_locked();
    // Encrypts `n` bytes (n <= write_chunk) and moves the records into the backlog, under
    // tls_mutex_. Returns OpenSSL's failure, or "".
    std::string encrypt_to_backlog(const char* data, std::size_t n);
    void write_out(std::string& out);
    bool write_backlog_now();
    void write_backlog_blocking();
    void throw_if_aborted() const;
    std::string describe_peer() const;

    std::unique_ptr<Stream> inner_;
    std::shared_ptr<const TlsContext> context_;
    std::string peer_name_; // the host name checked, for messages ("" on a server)
    // Which certificate failed verification, and why, as the verify callback saw it; then
    // only read. Guarded by tls_mutex_ (the callback runs inside SSL calls).
    std::string verify_detail_;

    mutable std::mutex tls_mutex_; // guards ssl_, its BIO and ciphertext_
    ssl_st* ssl_ = nullptr;
    TlsCiphertext ciphertext_;

    std::mutex write_mutex_; // the writer's side; taken before tls_mutex_
    // Ciphertext taken out of the BIO and not yet written: backlog_[backlog_offset_..].
    // Guarded by write_mutex_; emptied (capacity kept) once all written.
    std::string backlog_;
    std::size_t backlog_offset_ = 0;
    // backlog_ is not empty, for has_backlog() from any thread; set under tls_mutex_ as the
    // BIO output moves into backlog_, so that has_backlog() sees one or the other.
    std::atomic<bool> backlog_pending_{false};
    bool close_notify_queued_ = false; // under write_mutex_

    // The reader's own state: only the reading thread touches these.
    // Not a std::string: zero-filling it made all 16.5 KiB resident in every idle
    // connection; pages the kernel never writes into stay unbacked.
    std::unique_ptr<char[]> read_buffer_;
    std::string reader_error_;
    std::exception_ptr inner_error_; // what the inner stream threw in wait(), for read_some
    bool inner_eof_ = false;

    std::atomic<bool> aborted_{false};
};

} // namespace syncws::net
