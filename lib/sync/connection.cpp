#include "connection_core.hpp"

#include <syncws/connection.hpp>

namespace syncws {

namespace {

detail::ConnectionCore& checked(const std::shared_ptr<detail::ConnectionCore>& core) {
    if (!core) throw InvalidState("this Connection was moved from");
    return *core;
}

} // namespace

Connection::Connection(std::shared_ptr<detail::ConnectionCore> core) : core_(std::move(core)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&& other) noexcept {
    if (this != &other) {
        // As in the destructor: a shared handle (from connections()) doesn't end it.
        if (core_ && core_.use_count() == 1) core_->shutdown();
        core_ = std::move(other.core_);
    }
    return *this;
}
Connection::~Connection() {
    // Handles shared through connections() for broadcasting don't end the connection: the
    // owner does (its handler returning, or the client's handle going away).
    if (core_ && core_.use_count() == 1) core_->shutdown();
}

void Connection::send_text(std::string_view text, bool compress) {
    checked(core_).send_data(Opcode::text, BytesView(text), compress);
}
void Connection::send_binary(BytesView data, bool compress) {
    checked(core_).send_data(Opcode::binary, data, compress);
}
void Connection::send(const Message& message) {
    if (message.binary)
        send_binary(BytesView(message.data));
    else
        send_text(message.data);
}
void Connection::send_fragments(bool binary,
                                const std::function<std::optional<std::string>()>& next) {
    checked(core_).send_fragments(binary, next);
}

bool Connection::try_send(std::string_view data, bool binary) const {
    return checked(core_).try_send(binary ? Opcode::binary : Opcode::text, BytesView(data));
}

Message Connection::recv() {
    return checked(core_).recv();
}
void Connection::recv(Message& message) {
    checked(core_).recv_into(message);
}
std::optional<Message> Connection::recv_for(std::chrono::milliseconds timeout) {
    return checked(core_).recv_for(timeout);
}
bool Connection::recv_streaming(
    const std::function<void(std::string_view fragment, bool last)>& on_fragment) {
    return checked(core_).recv_streaming(on_fragment);
}

std::future<std::chrono::nanoseconds> Connection::ping(std::optional<std::string> data) {
    return checked(core_).ping(std::move(data));
}
void Connection::pong(BytesView data) {
    checked(core_).pong(data);
}
std::chrono::nanoseconds Connection::latency() const {
    return checked(core_).latency();
}
void Connection::close(std::uint16_t code, std::string_view reason) {
    checked(core_).close(code, reason);
}

State Connection::state() const {
    return checked(core_).state();
}
std::optional<Close> Connection::close_received() const {
    return checked(core_).close_received();
}
std::optional<Close> Connection::close_sent() const {
    return checked(core_).close_sent();
}
bool Connection::close_received_then_sent() const {
    return checked(core_).close_received_then_sent();
}
std::uint16_t Connection::close_code() const {
    return checked(core_).close_code();
}
std::string Connection::close_reason() const {
    const auto received = close_received();
    return received ? received->reason : std::string{};
}
const std::string& Connection::subprotocol() const {
    return checked(core_).subprotocol();
}
std::string Connection::extensions() const {
    return checked(core_).extensions();
}
const Request& Connection::request() const {
    return checked(core_).request();
}
const Response& Connection::response() const {
    return checked(core_).response();
}
std::string Connection::local_address() const {
    return checked(core_).local_address();
}
std::string Connection::remote_address() const {
    return checked(core_).remote_address();
}
Side Connection::side() const {
    return checked(core_).side();
}

// ----- iteration ------------------------------------------------------------------------

Connection::iterator Connection::begin() {
    return iterator(this);
}
Connection::iterator Connection::end() {
    return iterator();
}

Connection::iterator::iterator(Connection* connection) : connection_(connection) {
    advance();
}

Connection::iterator& Connection::iterator::operator++() {
    advance();
    return *this;
}

void Connection::iterator::advance() {
    // websockets' rule: iteration ends quietly on a normal closure and rethrows otherwise.
    if (!checked(connection_->core_).recv_unless_closed_ok(message_)) connection_ = nullptr;
}

} // namespace syncws
