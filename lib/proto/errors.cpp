#include <syncws/errors.hpp>

namespace syncws {

namespace {

std::string describe(const std::optional<Close>& received, const std::optional<Close>& sent,
                     bool received_then_sent) {
    if (!received && !sent) return "no close frame received or sent";
    if (received && !sent) return "received " + received->to_string() + "; then sent nothing";
    if (!received) return "sent " + sent->to_string() + "; no close frame received";
    if (received_then_sent)
        return "received " + received->to_string() + "; then sent " + sent->to_string();
    return "sent " + sent->to_string() + "; then received " + received->to_string();
}

} // namespace

ConnectionClosed::ConnectionClosed(std::optional<Close> received, std::optional<Close> sent,
                                   bool received_then_sent)
    : Error(describe(received, sent, received_then_sent)), received_(std::move(received)),
      sent_(std::move(sent)), received_then_sent_(received_then_sent) {}

} // namespace syncws
