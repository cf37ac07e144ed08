#!/usr/bin/python3
"""Runs every interop scenario between syncws (interop_peer) and one foreign peer.

    run_pair.py --peer python|node --peer-program PATH --their-role client|server
                --variant VARIANT --interop-peer PATH --scripts DIR [--scenarios a,b]

The server side (ours or theirs) starts on 127.0.0.1 with an ephemeral port and prints
"PORT <n>"; each scenario then runs in a fresh client process, and the server prints
"RESULT <scenario> ok|FAIL <why>" for its half. A scenario passes when both halves do.
Everything has a timeout. Exit status: 0 all passed (or failed as expected), 1 a failure,
77 the peer's library (or openssl, for TLS) is missing: meson reports the test skipped.

Variants (compression on our side / theirs, TLS):
    plain           on / off                    permessage-deflate must NOT be negotiated
    deflate         on / library default        must be negotiated
    deflate-params  on / server_max_window_bits=10, client_no_context_takeover
    deflate-params2 on / server_no_context_takeover, client_max_window_bits=9
    tls-deflate     wss://, on / library default
    tls-ours-off    wss://, off / library default: must NOT be negotiated
"""

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SCENARIOS = ["messages", "big", "burst", "fragments", "ping", "close_by_client",
             "close_by_server"]

VARIANTS = {
    # name: (TLS, our compression, theirs, parameters the handshake must agree, scenarios
    # skipped to save time)
    "plain": (False, "on", "off", [], []),
    "deflate": (False, "on", "default", [], []),
    "deflate-params": (False, "on", "params",
                       ["server_max_window_bits=10", "client_no_context_takeover"], []),
    # A 9-bit window for our compressor and no context takeover for theirs. "big" adds
    # nothing to "messages" here but time.
    "deflate-params2": (False, "on", "params2",
                        ["server_no_context_takeover", "client_max_window_bits=9"], ["big"]),
    "tls-deflate": (True, "on", "default", [], []),
    # 16 MiB without compression over TLS is "plain" plus "tls-deflate": nothing new.
    "tls-ours-off": (True, "off", "default", [], ["big"]),
}

# Scenarios expected to fail, with why: {(peer, their_role, variant, scenario): reason}.
# A FIXME for each: when one passes, the run fails (XPASS) so that the entry gets removed.
EXPECTED_FAILURES = {}

START_TIMEOUT = 30
CLIENT_TIMEOUT = 180
RESULT_TIMEOUT = 60
STOP_TIMEOUT = 30


def log(text):
    print(text, flush=True)


def skip(why):
    log(f"SKIP: {why}")
    sys.exit(77)


def peer_command(args, mode):
    script = os.path.join(args.scripts, "peer.py" if args.peer == "python" else "peer.js")
    return [args.peer_program, script, mode]


def check_peer(args):
    if not args.peer_program or not os.access(args.peer_program, os.X_OK):
        what = "/usr/bin/python3" if args.peer == "python" else "node"
        skip(f"{what} is not installed")
    try:
        done = subprocess.run(peer_command(args, "check"), capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        log(f"{args.peer} check timed out")
        sys.exit(1)
    if done.returncode == 77:
        skip((done.stderr.strip() or done.stdout.strip()).removeprefix("SKIP: "))
    if done.returncode != 0:
        log(f"{args.peer} check failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        sys.exit(1)
    log(f"peer: {done.stdout.strip()} ({args.peer_program})")


def make_certificate(directory):
    """A self-signed certificate for localhost and 127.0.0.1, made now, never committed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        skip("the openssl command is needed to make a test certificate")
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Server:
    """The server process: its stdout lines go to a queue, read by a thread."""

    def __init__(self, command):
        log("server: " + " ".join(command))
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        self.lines = queue.Queue()
        self.results = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, deadline):
        try:
            return self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return False

    def wait_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            line = self.next_line(deadline)
            if line is None or line is False:
                why = "exited" if line is None else f"printed no port in {START_TIMEOUT} s"
                raise RuntimeError(f"the server {why}")
            if line.startswith("PORT "):
                return int(line.split()[1])
            log(f"server: {line}")

    def wait_result(self, scenario):
        """The server's verdict on `scenario`, or an explanation of its absence."""
        deadline = time.monotonic() + RESULT_TIMEOUT
        while scenario not in self.results:
            line = self.next_line(deadline)
            if line is None or line is False:
                why = "exited" if line is None else f"said nothing in {RESULT_TIMEOUT} s"
                return f"FAIL the server {why} before reporting on {scenario}"
            log(f"server: {line}")
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "RESULT":
                self.results[parts[1]] = parts[2]
        return self.results.pop(scenario)

    def stop(self):
        """Closes the server's stdin (its signal to stop); returns its exit status."""
        try:
            self.process.stdin.close()
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log(f"server did not stop in {STOP_TIMEOUT} s: killed")
            self.process.kill()
            self.process.wait()
            return "killed"


def run_client(command):
    log("client: " + " ".join(command))
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(
            errors="replace")
        return f"FAIL timed out after {CLIENT_TIMEOUT} s {output.strip()}"
    for line in (done.stdout + done.stderr).splitlines():
        log(f"client: {line}")
    if done.returncode == 0:
        return "ok"
    last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    return f"FAIL exit status {done.returncode}: {last}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", choices=["python", "node"], required=True)
    parser.add_argument("--peer-program", default="")
    parser.add_argument("--their-role", choices=["client", "server"], required=True)
    parser.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--interop-peer", required=True)
    parser.add_argument("--scripts", required=True)
    parser.add_argument("--scenarios", help="comma-separated subset (default: all)")
    args = parser.parse_args()

    check_peer(args)
    tls, ours, theirs, params, skipped = VARIANTS[args.variant]
    scenarios = args.scenarios.split(",") if args.scenarios else [
        s for s in SCENARIOS if s not in skipped]
    negotiated = ours == "on" and theirs != "off"
    expect = ["--expect-deflate", "yes" if negotiated else "no"]
    for param in params if negotiated else []:
        expect += ["--expect-param", param]
    our_command = [args.interop_peer]
    their_command = peer_command(args, "")[:-1]

    with tempfile.TemporaryDirectory(prefix="syncws-interop-") as directory:
        server_tls, client_tls = [], []
        if tls:
            cert, key = make_certificate(directory)
            server_tls = ["--tls-cert", cert, "--tls-key", key]
            client_tls = ["--ca-file", cert]
        if args.their_role == "server":
            server_base = their_command + ["server", "--compress", theirs]
            client_base = our_command + ["client", "--compress", ours]
        else:
            server_base = our_command + ["server", "--compress", ours]
            client_base = their_command + ["client", "--compress", theirs]

        server = Server(server_base + server_tls + expect)
        outcomes = {}
        try:
            port = server.wait_port()
            url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}"
            for scenario in scenarios:
                client = run_client(client_base + client_tls + expect +
                                    ["--url", url, "--scenario", scenario])
                server_result = server.wait_result(scenario)
                outcomes[scenario] = (client, server_result)
        except RuntimeError as e:
            log(f"FAIL: {e}")
            server.stop()
            return 1
        status = server.stop()

    log("")
    passed = failed = 0
    ours_is = "client" if args.their_role == "server" else "server"
    for scenario, (client, server_result) in outcomes.items():
        ok = client == "ok" and server_result == "ok"
        key = (args.peer, args.their_role, args.variant, scenario)
        expected_failure = EXPECTED_FAILURES.get(key)
        if ok and expected_failure is None:
            verdict = "PASS"
        elif not ok and expected_failure is not None:
            verdict = f"XFAIL ({expected_failure})"
        elif ok:
            verdict = "XPASS: remove it from EXPECTED_FAILURES in run_pair.py"
        else:
            verdict = "FAIL"
        good = verdict.startswith(("PASS", "XFAIL"))
        passed, failed = passed + good, failed + (not good)
        log(f"{verdict:5} {scenario}")
        if not ok:
            sides = {"client": client, "server": server_result}
            log(f"      syncws {ours_is}: {sides[ours_is]}")
            log(f"      {args.peer} {args.their_role}: {sides[args.their_role]}")
    if status != 0:
        log(f"FAIL the server exited with status {status}")
        failed += 1
    log(f"interop: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
