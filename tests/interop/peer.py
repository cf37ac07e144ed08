#!/usr/bin/python3
"""The Python websockets side of the interop tests (run_pair.py drives it).

Written for Debian's python3-websockets 10.4 (legacy asyncio API); run it with
/usr/bin/python3.

    peer.py check
        Prints the websockets version; exits 77 if the module is missing.
    peer.py server [--tls-cert F --tls-key F] [--compress off|default|params|params2] [EXPECT...]
        Listens on 127.0.0.1 (ephemeral port), prints "PORT <n>", runs the scenario named
        by each request's path and prints "RESULT <scenario> ok|FAIL <why>"; exits when
        stdin reaches EOF.
    peer.py client --url URL --scenario NAME [--ca-file F] [--compress ...] [EXPECT...]
        Runs one scenario against URL/NAME; exits 0, or 1 with the reason on stderr.
    EXPECT: --expect-deflate yes|no, --expect-param TEXT (repeatable): checked against the
        Sec-WebSocket-Extensions header of the handshake response.

Scenarios and payloads mirror interop_peer.cpp and peer.js (see README.md here).
"""

import argparse
import asyncio
import ssl
import sys

try:
    import websockets
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
        ServerPerMessageDeflateFactory,
    )
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"SKIP: {sys.executable} cannot import websockets ({exc}); "
          "install Debian's python3-websockets", file=sys.stderr)
    sys.exit(77)

BIG = 16 * 1024 * 1024
# 1 MiB above the biggest message: compressed incompressible data is slightly larger on the
# wire, and websockets applies max_size to the frame length before decompression.
MAX_SIZE = BIG + 1024 * 1024
TIMEOUT = 60


class Failure(Exception):
    """A scenario check that did not hold."""


def check(condition, what):
    if not condition:
        raise Failure(what)


# ----- payloads (same definitions as interop_peer.cpp and peer.js) -----------------------

def lcg(x):
    return (x * 1103515245 + 12345) & 0x7FFFFFFF


def _make_binary_blocks():
    out = bytearray()
    x = 12345
    for _ in range(65521):
        x = lcg(x)
        out.append((x >> 16) & 0xFF)
    random = bytes(out)
    low = random.translate(bytes(b & 0x0F for b in range(256)))
    return random, low


WORDS = ["syncws", "interop", "héllo", "wörld", "€", "日本語", "🙂", "deflate", "frame",
         "ñandú", "Ελληνικά", "message", "the", "a", "of", "WebSocket"]


def _make_text_block():
    out = bytearray()
    x = 54321
    while len(out) < 65536:
        x = lcg(x)
        out += WORDS[(x >> 16) % len(WORDS)].encode()
        x = lcg(x)
        out += b"\n" if (x >> 16) % 10 == 0 else b" "
    return bytes(out)


BINARY_RANDOM, BINARY_LOW = _make_binary_blocks()
TEXT_BLOCK = _make_text_block()


def _repeat_from(block, offset, n):
    return (block * (n // len(block) + 2))[offset:offset + n]


def _is_continuation(byte):
    return byte & 0xC0 == 0x80


def text_payload(n, k):
    """Text message number k: at most n bytes of UTF-8 (a character cut at the end is dropped)."""
    offset = (k * 7919) % len(TEXT_BLOCK)
    while _is_continuation(TEXT_BLOCK[offset]):
        offset = (offset + 1) % len(TEXT_BLOCK)
    out = _repeat_from(TEXT_BLOCK, offset, n)
    start = len(out)
    while start > 0 and _is_continuation(out[start - 1]):
        start -= 1
    if start > 0:
        lead = out[start - 1]
        length = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if start - 1 + length > len(out):
            out = out[:start - 1]
    return out.decode()


def binary_payload(n, k):
    """Binary message number k: n bytes; odd k incompressible, even k compressible."""
    block = BINARY_RANDOM if k % 2 == 1 else BINARY_LOW
    return _repeat_from(block, (k * 7919) % len(block), n)


class Spec:
    def __init__(self, binary, size, k):
        self.binary, self.size, self.k = binary, size, k

    def data(self):
        return binary_payload(self.size, self.k) if self.binary else text_payload(self.size, self.k)

    def __str__(self):
        kind = "binary" if self.binary else "text"
        return f"{kind} message #{self.k} ({self.size} bytes asked)"


def message_specs(base):
    sizes = [0, 1, 125, 126, 65535, 65536, 1024 * 1024]
    return [Spec(binary, size, base + i)
            for i, (binary, size) in enumerate((b, s) for b in (False, True) for s in sizes)]


def big_specs(base):
    return [Spec(False, BIG, base), Spec(True, BIG, base + 1)]


def burst_specs(base):
    return [Spec(i % 2 == 1, (i * 37) % 3000, base + i) for i in range(200)]


def fragment_plans(base):
    return [
        (False, [text_payload(10, base), "", text_payload(3000, base + 1),
                 text_payload(70000, base + 2), text_payload(5, base + 3)]),
        (True, [binary_payload(1000, base + 4), b"", binary_payload(65536, base + 5),
                binary_payload(300000, base + 6)]),
    ]


# ----- checks ----------------------------------------------------------------------------

def kind(data):
    return "text" if isinstance(data, str) else "binary"


def check_message(got, expected, what):
    check(kind(got) == kind(expected),
          f"{what}: got a {kind(got)} message, expected {kind(expected)}")
    if got != expected:
        g = got.encode() if isinstance(got, str) else got
        e = expected.encode() if isinstance(expected, str) else expected
        i = next((i for i, (a, b) in enumerate(zip(g, e)) if a != b), min(len(g), len(e)))
        raise Failure(f"{what}: wrong payload: got {len(g)} bytes, expected {len(e)}, "
                      f"first difference at byte {i}")


async def receive(ws, what):
    try:
        return await asyncio.wait_for(ws.recv(), TIMEOUT)
    except asyncio.TimeoutError:
        raise Failure(f"timed out waiting for {what}") from None


async def expect_closed(ws, code, reason):
    """Waits for the peer's closing handshake and checks its code and reason."""
    try:
        message = await asyncio.wait_for(ws.recv(), TIMEOUT)
    except websockets.ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        raise Failure("timed out waiting for the peer to close") from None
    else:
        raise Failure(f"expected the peer to close, got a {kind(message)} message "
                      f"of {len(message)} characters/bytes")
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    check(ws.close_code == code,
          f"peer closed with {ws.close_code} {ws.close_reason!r}, expected {code}")
    check(ws.close_reason == reason,
          f"peer's close reason is {ws.close_reason!r}, expected {reason!r}")


async def close_and_check(ws, code, reason):
    """Closes with code and reason, then checks the close frame the peer answered with."""
    await asyncio.wait_for(ws.close(code, reason), TIMEOUT)
    received = ws.close_rcvd
    check(received is not None,
          f"no close frame came back after close({code}); close code {ws.close_code}")
    check(received.code == code and received.reason == reason,
          f"the peer answered our close {code} {reason!r} with "
          f"{received.code} {received.reason!r}")


# ----- scenarios -------------------------------------------------------------------------

async def send_phase(ws, specs):
    for spec in specs:
        data = spec.data()
        await ws.send(data)
        check_message(await receive(ws, f"the echo of {spec}"), data, f"echo of {spec}")


async def echo_phase(ws, specs):
    for spec in specs:
        message = await receive(ws, str(spec))
        check_message(message, spec.data(), str(spec))
        await ws.send(message)


async def send_acked(ws, specs):
    # Large messages are not echoed: the receiver checks each and answers "got #k".
    for spec in specs:
        await ws.send(spec.data())
        check_message(await receive(ws, f"the acknowledgement of {spec}"), f"got #{spec.k}",
                      f"acknowledgement of {spec}")


async def receive_acked(ws, specs):
    for spec in specs:
        check_message(await receive(ws, str(spec)), spec.data(), str(spec))
        await ws.send(f"got #{spec.k}")


async def burst_send(ws, specs):
    for spec in specs:
        await ws.send(spec.data())
    for spec in specs:
        check_message(await receive(ws, f"the echo of {spec}"), spec.data(), f"echo of {spec}")


async def burst_echo(ws, specs):
    received = []
    for spec in specs:
        received.append(await receive(ws, str(spec)))
        check_message(received[-1], spec.data(), str(spec))
    for message in received:
        await ws.send(message)


async def send_fragmented(ws, plans):
    # A list makes websockets send one frame per piece (then an empty final frame).
    for binary, pieces in plans:
        await ws.send(pieces)
        whole = (b"" if binary else "").join(pieces)
        check_message(await receive(ws, "the echo of a fragmented message"), whole,
                      f"echo of a fragmented {kind(whole)} message")


async def receive_fragmented(ws, plans):
    # websockets 10 only hands over whole messages: check the reassembly.
    for binary, pieces in plans:
        whole = (b"" if binary else "").join(pieces)
        message = await receive(ws, f"a fragmented {kind(whole)} message")
        check_message(message, whole, f"fragmented {kind(whole)} message")
        await ws.send(message)


async def two_phases(ws, role, client_phase, server_phase, send, echo):
    if role == "client":
        await send(ws, client_phase)
        await echo(ws, server_phase)
        await close_and_check(ws, 1000, "")
    else:
        await echo(ws, client_phase)
        await send(ws, server_phase)
        await expect_closed(ws, 1000, "")


async def scenario_ping(ws, role):
    me, peer = ("client", "server") if role == "client" else ("server", "client")

    async def ping_then_announce():
        pong = await ws.ping(f"{me}-ping".encode())
        try:
            await asyncio.wait_for(pong, TIMEOUT)
        except asyncio.TimeoutError:
            raise Failure(f"no pong for our ping {me}-ping") from None
        await ws.pong(f"{me}-unsolicited".encode())
        await ws.send(f"{me} pinged")

    async def expect_announce():
        check_message(await receive(ws, f"'{peer} pinged'"), f"{peer} pinged",
                      f"message after the {peer}'s ping")

    if role == "client":
        await ping_then_announce()
        await expect_announce()
        await close_and_check(ws, 1000, "")
    else:
        await expect_announce()
        await ping_then_announce()
        await expect_closed(ws, 1000, "")


async def scenario_close(ws, role, closer):
    if role == "client":
        await ws.send("hello")
        check_message(await receive(ws, "the echo of 'hello'"), "hello", "echo")
    else:
        message = await receive(ws, "'hello'")
        check_message(message, "hello", "first message")
        await ws.send(message)
    if role == closer:
        await close_and_check(ws, 4000, "bye")
    else:
        await expect_closed(ws, 4000, "bye")


async def run_scenario(ws, role, name):
    if name == "messages":
        await two_phases(ws, role, message_specs(0), message_specs(100), send_phase, echo_phase)
    elif name == "big":
        await two_phases(ws, role, big_specs(200), big_specs(300), send_acked, receive_acked)
    elif name == "burst":
        await two_phases(ws, role, burst_specs(1000), burst_specs(2000), burst_send, burst_echo)
    elif name == "fragments":
        await two_phases(ws, role, fragment_plans(400), fragment_plans(500), send_fragmented,
                         receive_fragmented)
    elif name == "ping":
        await scenario_ping(ws, role)
    elif name == "close_by_client":
        await scenario_close(ws, role, "client")
    elif name == "close_by_server":
        await scenario_close(ws, role, "server")
    else:
        raise Failure(f"unknown scenario {name!r}")


# ----- command line ----------------------------------------------------------------------

def check_extensions(ws, args):
    header = ws.response_headers.get("Sec-WebSocket-Extensions", "")
    negotiated = any(ext.name == "permessage-deflate" for ext in ws.extensions)
    if args.expect_deflate is not None:
        check(negotiated == (args.expect_deflate == "yes"),
              f"permessage-deflate {'was' if negotiated else 'was not'} negotiated "
              f"(Sec-WebSocket-Extensions: {header!r})")
    for param in args.expect_param:
        check(param in header, f"negotiated extensions {header!r} lack {param}")


def compression_options(args, side):
    """Keyword arguments of connect() / serve() for --compress."""
    if args.compress == "off":
        return {"compression": None}
    if args.compress == "default":
        return {"compression": "deflate"}
    factory = ClientPerMessageDeflateFactory if side == "client" else ServerPerMessageDeflateFactory
    if args.compress == "params":
        params = {"server_max_window_bits": 10, "client_no_context_takeover": True}
    else:
        params = {"server_no_context_takeover": True, "client_max_window_bits": 9}
    return {"compression": None, "extensions": [factory(**params)]}


def explain(exc):
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not isinstance(exc, Failure):
        text += f" (caused by {type(cause).__name__}: {cause})"
    return text


async def run_server(args):
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    async def handler(ws):
        scenario = ws.path[1:]
        try:
            check_extensions(ws, args)
            await run_scenario(ws, "server", scenario)
            result = "ok"
        except Exception as exc:
            result = "FAIL " + explain(exc).replace("\n", " ")
        print(f"RESULT {scenario or '?'} {result}", flush=True)

    async with websockets.serve(handler, "127.0.0.1", 0, ssl=context, max_size=MAX_SIZE,
                                **compression_options(args, "server")) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        # The runner stops us by closing our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    return 0


async def run_client(args):
    context = None
    if args.ca_file:
        context = ssl.create_default_context(cafile=args.ca_file)
    try:
        async with websockets.connect(f"{args.url}/{args.scenario}", ssl=context,
                                      max_size=MAX_SIZE, open_timeout=TIMEOUT,
                                      **compression_options(args, "client")) as ws:
            check_extensions(ws, args)
            await run_scenario(ws, "client", args.scenario)
        return 0
    except Exception as exc:
        print(f"peer.py client: scenario {args.scenario} FAILED: {explain(exc)}",
              file=sys.stderr)
        return 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["check", "server", "client"])
    parser.add_argument("--url")
    parser.add_argument("--scenario")
    parser.add_argument("--ca-file")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--compress", choices=["off", "default", "params", "params2"], default="default")
    parser.add_argument("--expect-deflate", choices=["yes", "no"])
    parser.add_argument("--expect-param", action="append", default=[])
    args = parser.parse_args()
    if args.mode == "check":
        print(f"websockets {websockets.__version__}")
        return 0
    if args.mode == "server":
        return asyncio.run(run_server(args))
    if not args.url or not args.scenario:
        parser.error("client needs --url and --scenario")
    return asyncio.run(run_client(args))


if __name__ == "__main__":
    sys.exit(main())
