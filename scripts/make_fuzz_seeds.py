#!/usr/bin/env python3
"""Writes the seed corpora of the client, server and uri fuzz targets.

    python3 scripts/make_fuzz_seeds.py

The seeds are committed as raw bytes in tests/fuzz/corpus/{client,server,uri}/; this script
is how they were made, and re-running it rewrites exactly those files (regression inputs
committed beside them, and other targets' corpora, are left alone).

Client and server inputs start with one byte, the chunk size the fuzz target feeds the
rest in (0: all at once), followed by the peer's bytes. The client target's RandomSource
yields only 0x01 bytes, so its Sec-WebSocket-Key is base64(16 * b"\\x01") and the 101
responses below carry the matching Sec-WebSocket-Accept, computed here (RFC 6455 §4.2.2).
"""

import base64
import hashlib
import pathlib
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fuzz" / "corpus"

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLIENT_KEY = base64.b64encode(b"\x01" * 16).decode()  # what client_fuzz.cpp sends
SERVER_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the key of RFC 6455 §1.3
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])  # the mask key of RFC 6455 §5.7

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """A frame (RFC 6455 §5.2). `length` overrides the encoded payload length."""
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if mask is not None:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def http(*lines, body=b""):
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def deflate(*messages, window_bits=15):
    """Each message compressed as RFC 7692 §7.2.1 says (one stream: context takeover)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -window_bits)
    out = []
    for message in messages:
        data = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        out.append(data[:-4])
    return out


# ----- client: what a server sends ------------------------------------------------------

RESPONSE_101 = http(
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}",
)


DEFLATE_101 = http(
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}",
    "Sec-WebSocket-Extensions: permessage-deflate",
)


def server_frame(*args, **kwargs):
    return frame(*args, **kwargs)  # servers never mask (RFC 6455 §5.1)


CLIENT_SEEDS = {
    "handshake-101": (0, RESPONSE_101),
    "handshake-101-bytewise": (1, RESPONSE_101),
    "text-hello": (0, RESPONSE_101 + server_frame(TEXT, b"Hello")),
    "text-hello-chunks-of-3": (3, RESPONSE_101 + server_frame(TEXT, b"Hello")),
    "binary-16bit-length": (0, RESPONSE_101 + server_frame(BINARY, bytes(range(256)) * 2)),
    "fragmented-with-ping": (
        7,
        RESPONSE_101
        + server_frame(TEXT, b"Hel", fin=False)
        + server_frame(PING, b"p")
        + server_frame(CONT, b"l", fin=False)
        + server_frame(CONT, b"o"),
    ),
    "utf8-split-across-fragments": (
        0,
        RESPONSE_101
        + server_frame(TEXT, "caf\u00e9 \u20ac".encode()[:-2], fin=False)
        + server_frame(CONT, "caf\u00e9 \u20ac".encode()[-2:]),
    ),
    "ping-pong": (
        0,
        RESPONSE_101
        + server_frame(PING, b"ping-data")
        + server_frame(PONG)
        + server_frame(PING)
        + server_frame(PING, b"x" * 125),
    ),
    "close-1000-bye": (0, RESPONSE_101 + server_frame(CLOSE, close_payload(1000, b"bye"))),
    "close-empty": (0, RESPONSE_101 + server_frame(CLOSE)),
    "close-then-data": (
        0,
        RESPONSE_101 + server_frame(CLOSE, close_payload(1001)) + server_frame(TEXT, b"late"),
    ),
    "close-one-byte": (0, RESPONSE_101 + server_frame(CLOSE, b"\x03")),
    "close-code-1005": (0, RESPONSE_101 + server_frame(CLOSE, close_payload(1005))),
    "close-code-999": (0, RESPONSE_101 + server_frame(CLOSE, close_payload(999))),
    "close-code-4000": (0, RESPONSE_101 + server_frame(CLOSE, close_payload(4000, b"app"))),
    "close-reason-invalid-utf8": (
        0,
        RESPONSE_101 + server_frame(CLOSE, close_payload(1000, b"\xc3\x28")),
    ),
    "text-invalid-utf8": (0, RESPONSE_101 + server_frame(TEXT, b"ok \xff\xfe")),
    "text-overlong-utf8": (0, RESPONSE_101 + server_frame(TEXT, b"\xc0\xaf")),
    "masked-from-server": (0, RESPONSE_101 + frame(TEXT, b"Hello", mask=MASK)),
    "rsv1-without-extension": (0, RESPONSE_101 + server_frame(TEXT, b"Hello", rsv=4)),
    "reserved-opcode-3": (0, RESPONSE_101 + server_frame(0x3, b"?")),
    "reserved-opcode-11": (0, RESPONSE_101 + server_frame(0xB)),
    "fragmented-ping": (0, RESPONSE_101 + server_frame(PING, b"p", fin=False)),
    "ping-126-bytes": (0, RESPONSE_101 + server_frame(PING, b"x" * 126)),
    "continuation-without-start": (0, RESPONSE_101 + server_frame(CONT, b"orphan")),
    "text-inside-fragmented-message": (
        0,
        RESPONSE_101 + server_frame(TEXT, b"a", fin=False) + server_frame(TEXT, b"b"),
    ),
    "length-over-max-size": (0, RESPONSE_101 + server_frame(BINARY, length=8192)),
    "length-64bit-high-bit": (
        0,
        RESPONSE_101 + bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1]),
    ),
    "length-64bit-huge": (0, RESPONSE_101 + bytes([0x82, 0x7F]) + b"\x7f" + b"\xff" * 7),
    "length-64bit-not-minimal": (
        0,
        RESPONSE_101 + bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 3]) + b"abc",
    ),
    "truncated-frame": (0, RESPONSE_101 + server_frame(TEXT, b"Hello")[:4]),
    # permessage-deflate, which the client target offers (RFC 7692).
    "deflate-text-hello": (0, DEFLATE_101 + server_frame(TEXT, deflate(b"Hello")[0], rsv=4)),
    "deflate-context-takeover": (
        0,
        DEFLATE_101
        + b"".join(server_frame(TEXT, m, rsv=4) for m in deflate(b"Hello", b"Hello", b"Hello!")),
    ),
    "deflate-fragmented": (
        3,
        DEFLATE_101
        + server_frame(BINARY, deflate(bytes(300))[0][:3], fin=False, rsv=4)
        + server_frame(CONT, deflate(bytes(300))[0][3:]),
    ),
    "deflate-uncompressed-message": (0, DEFLATE_101 + server_frame(TEXT, b"plain")),
    "deflate-bomb": (0, DEFLATE_101 + server_frame(BINARY, deflate(bytes(100000))[0], rsv=4)),
    "deflate-corrupt": (0, DEFLATE_101 + server_frame(BINARY, b"\xff\xff\xff\xff", rsv=4)),
    "deflate-rsv1-on-continuation": (
        0,
        DEFLATE_101
        + server_frame(TEXT, deflate(b"ab")[0], fin=False, rsv=4)
        + server_frame(CONT, b"c", rsv=4),
    ),
    "deflate-rsv1-on-ping": (0, DEFLATE_101 + server_frame(PING, b"p", rsv=4)),
    "deflate-invalid-utf8-inside": (
        0,
        DEFLATE_101 + server_frame(TEXT, deflate(b"\xff\xfe")[0], rsv=4),
    ),
    "deflate-no-context-takeover": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}",
             "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
             "client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9")
        + server_frame(TEXT, deflate(b"Hello", window_bits=10)[0], rsv=4),
    ),
    "deflate-bad-window-bits": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}",
             "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7"),
    ),
    "deflate-unknown-parameter": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}",
             "Sec-WebSocket-Extensions: permessage-deflate; foo=\"bar\""),
    ),
    "status-403-with-body": (
        0,
        http("HTTP/1.1 403 Forbidden", "Content-Type: text/plain", "Content-Length: 9",
             body=b"Forbidden"),
    ),
    "status-200-no-length": (0, http("HTTP/1.1 200 OK", "Content-Type: text/html")),
    "101-wrong-accept": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept(SERVER_KEY)}"),
    ),
    "101-missing-upgrade": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}"),
    ),
    "101-unrequested-extension": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}", "Sec-WebSocket-Extensions: x-unknown"),
    ),
    "101-unrequested-subprotocol": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}", "Sec-WebSocket-Protocol: chat"),
    ),
    "101-mixed-case-and-tokens": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "upgrade: WebSocket",
             "CONNECTION: keep-alive, Upgrade", f"sec-websocket-accept: {accept(CLIENT_KEY)}",
             "Server: fuzz")
        + server_frame(TEXT, b"Hi"),
    ),
    "101-lf-line-endings": (0, RESPONSE_101.replace(b"\r\n", b"\n")),
    "101-obs-fold": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             "X-Folded: a", " b", f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}"),
    ),
    "101-long-header-line": (
        0,
        http("HTTP/1.1 101 Switching Protocols", "X-Long: " + "a" * 1100, "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Accept: {accept(CLIENT_KEY)}"),
    ),
    "http-1.0-status-line": (0, RESPONSE_101.replace(b"HTTP/1.1", b"HTTP/1.0", 1)),
    "not-http": (0, b"SSH-2.0-OpenSSH_9.2\r\n"),
}

# ----- server: what a client sends -------------------------------------------------------


def request(*extra, method="GET", target="/chat", version="HTTP/1.1", drop=()):
    fields = [
        ("Host", "localhost"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", SERVER_KEY),
        ("Sec-WebSocket-Version", "13"),
    ]
    lines = [f"{method} {target} {version}"]
    lines += [f"{name}: {value}" for name, value in fields if name not in drop]
    lines += list(extra)
    return http(*lines)


REQUEST = request()


def client_frame(*args, **kwargs):
    return frame(*args, mask=MASK, **kwargs)  # clients always mask (RFC 6455 §5.3)


# The server target accepts permessage-deflate; it answers client_max_window_bits with 12.
DEFLATE_REQUEST = request(
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
)


def client_deflate(*messages):
    return deflate(*messages, window_bits=12)


SERVER_SEEDS = {
    "handshake": (0, REQUEST),
    "handshake-bytewise": (1, REQUEST),
    "text-hello": (0, REQUEST + client_frame(TEXT, b"Hello")),
    "text-hello-chunks-of-5": (5, REQUEST + client_frame(TEXT, b"Hello")),
    "binary-16bit-length": (0, REQUEST + client_frame(BINARY, bytes(range(256)) * 2)),
    "fragmented-with-ping": (
        0,
        REQUEST
        + client_frame(TEXT, b"Hel", fin=False)
        + client_frame(PING, b"p")
        + client_frame(CONT, b"l", fin=False)
        + client_frame(CONT, b"o"),
    ),
    "utf8-split-across-fragments": (
        2,
        REQUEST
        + client_frame(TEXT, "\u20ac\u20ac".encode()[:4], fin=False)
        + client_frame(CONT, "\u20ac\u20ac".encode()[4:]),
    ),
    "ping-pong": (
        0,
        REQUEST + client_frame(PING, b"ping-data") + client_frame(PONG) + client_frame(PING),
    ),
    "close-1000-bye": (0, REQUEST + client_frame(CLOSE, close_payload(1000, b"bye"))),
    "close-empty": (0, REQUEST + client_frame(CLOSE)),
    "close-then-data": (
        0,
        REQUEST + client_frame(CLOSE, close_payload(1000)) + client_frame(TEXT, b"late"),
    ),
    "close-code-1006": (0, REQUEST + client_frame(CLOSE, close_payload(1006))),
    "unmasked-frame": (0, REQUEST + frame(TEXT, b"Hello")),
    "text-invalid-utf8": (0, REQUEST + client_frame(TEXT, b"\xed\xa0\x80")),
    "rsv2-without-extension": (0, REQUEST + client_frame(BINARY, b"x", rsv=2)),
    "reserved-opcode-7": (0, REQUEST + client_frame(0x7)),
    "ping-126-bytes": (0, REQUEST + client_frame(PING, b"x" * 126)),
    "continuation-without-start": (0, REQUEST + client_frame(CONT, b"orphan")),
    "length-over-max-size": (0, REQUEST + client_frame(BINARY, length=70000)),
    "length-64bit-high-bit": (
        0,
        REQUEST + bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + MASK,
    ),
    "frames-before-response": (
        0,
        REQUEST + client_frame(TEXT, b"eager") + client_frame(CLOSE, close_payload(1000)),
    ),
    # permessage-deflate, which the server target accepts (RFC 7692).
    "deflate-text-hello": (
        0,
        DEFLATE_REQUEST + client_frame(TEXT, client_deflate(b"Hello")[0], rsv=4),
    ),
    "deflate-context-takeover": (
        0,
        DEFLATE_REQUEST
        + b"".join(client_frame(TEXT, m, rsv=4) for m in client_deflate(b"Hello", b"Hello")),
    ),
    "deflate-fragmented": (
        0,
        DEFLATE_REQUEST
        + client_frame(BINARY, client_deflate(bytes(300))[0][:3], fin=False, rsv=4)
        + client_frame(CONT, client_deflate(bytes(300))[0][3:]),
    ),
    "deflate-bomb": (
        0,
        DEFLATE_REQUEST + client_frame(BINARY, client_deflate(bytes(100000))[0], rsv=4),
    ),
    "deflate-corrupt": (0, DEFLATE_REQUEST + client_frame(BINARY, b"\xff\xff\xff", rsv=4)),
    "deflate-rsv1-on-close": (
        0,
        DEFLATE_REQUEST + client_frame(CLOSE, close_payload(1000), rsv=4),
    ),
    "deflate-offer-params": (
        0,
        request(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
            "client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10"
        )
        + client_frame(TEXT, deflate(b"Hello", window_bits=10)[0], rsv=4),
    ),
    "deflate-offer-declined": (
        0,
        request("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99, "
                "permessage-deflate; x=1")
        + client_frame(TEXT, b"plain"),
    ),
    "deflate-offer-malformed": (
        0,
        request("Sec-WebSocket-Extensions: permessage-deflate;;, =\"unterminated"),
    ),
    "version-8": (0, request("Sec-WebSocket-Version: 8", drop=("Sec-WebSocket-Version",))),
    "missing-key": (0, request(drop=("Sec-WebSocket-Key",))),
    "short-key": (0, request("Sec-WebSocket-Key: AAAA", drop=("Sec-WebSocket-Key",))),
    "two-keys": (0, request(f"Sec-WebSocket-Key: {SERVER_KEY}")),
    "missing-host": (0, request(drop=("Host",))),
    "missing-upgrade": (0, request(drop=("Upgrade",))),
    "upgrade-h2c": (0, request("Upgrade: h2c", drop=("Upgrade",))),
    "connection-keep-alive-upgrade": (
        0,
        request("Connection: keep-alive, Upgrade", drop=("Connection",)),
    ),
    "method-post": (0, request(method="POST")),
    "http-1.0": (0, request(version="HTTP/1.0")),
    "absolute-form-target": (0, request(target="ws://localhost/chat")),
    "target-with-query": (0, request(target="/chat?room=1&user=%C3%A9")),
    "offers-extension-and-subprotocol": (
        0,
        request(
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-unknown",
            "Sec-WebSocket-Protocol: chat, superchat",
            "Origin: http://localhost",
        )
        + client_frame(TEXT, b"Hello"),
    ),
    "too-many-headers": (0, request(*[f"X-Header-{i}: {i}" for i in range(20)])),
    "long-header-line": (0, request("X-Long: " + "a" * 2000)),
    "lf-line-endings": (0, REQUEST.replace(b"\r\n", b"\n")),
    "header-without-colon": (0, request("NoColonHere")),
    "nul-in-header": (0, request("X-Nul: a\x00b")),
    "pipelined-requests": (0, REQUEST + REQUEST),
    "not-http": (0, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),  # a TLS ClientHello
}

# ----- uri: what a user or a redirect supplies -------------------------------------------

URI_SEEDS = {
    "plain": "ws://localhost/chat",
    "secure-port-query": "wss://example.com:8443/a/b?c=d&e=f",
    "userinfo": "ws://user:p%40ss@example.com/",
    "user-only": "ws://user@example.com",
    "ipv4": "ws://127.0.0.1:9000",
    "ipv6": "ws://[::1]:9000/",
    "ipv6-full": "wss://[2001:db8:0:0:0:0:2:1]/x",
    "ipv6-zone": "ws://[fe80::1%25eth0]/",
    "uppercase": "WS://EXAMPLE.COM/Path",
    "no-path": "wss://example.com",
    "query-only": "ws://example.com?x=1",
    "spaces-and-unicode": "ws://example.com/a b/\u00e9t\u00e9",
    "escapes": "ws://example.com/%7Euser/%2F",
    "port-max": "ws://example.com:65535/",
    "port-zero": "ws://example.com:0/",
    "port-too-big": "ws://example.com:65536/",
    "port-empty": "ws://example.com:/",
    "fragment": "ws://example.com/#frag",
    "other-scheme": "http://example.com/",
    "no-host": "ws:///path",
    "bad-escape": "ws://example.com/%zz",
    "unclosed-ipv6": "ws://[::1/",
    "ipv6-garbage": "ws://[not:an:address]/",
    "empty": "",
    "scheme-only": "ws://",
    "control-chars": "ws://exa\tmple.com/\r\n",
}


def write(target, seeds, encode):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    for name, seed in seeds.items():
        (directory / name).write_bytes(encode(seed))
    print(f"{directory.relative_to(ROOT)}: {len(seeds)} seeds")


def main():
    write("client", CLIENT_SEEDS, lambda seed: bytes([seed[0]]) + seed[1])
    write("server", SERVER_SEEDS, lambda seed: bytes([seed[0]]) + seed[1])
    write("uri", URI_SEEDS, lambda seed: seed.encode())


if __name__ == "__main__":
    main()
