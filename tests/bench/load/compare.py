#!/usr/bin/env python3
"""Issue 5's comparison: the load scenarios against several echo servers, side by side.

Runs ws_load's scenarios against each server in turn, interleaved (for each repetition and
scenario: raw, beast, syncws, then syncws's client against raw), every run on a freshly
started server, and prints a markdown table of the medians with each figure as a ratio to
the raw blocking echo of the same run (the limit of a blocking design on this machine), the
issue's targets marked met or not met, and the same over wss:// with ratios to the plain
twin. These are benchmarks, not tests: nothing here asserts a figure, except that --smoke
(the CI run) fails when a run fails.

    python3 tests/bench/load/compare.py --build build [--repeat 3] [--duration 3]
        [--servers raw,beast,syncws] [--scenarios rtt,throughput,...] [--idle 1000,10000]
        [--tls | --no-tls] [--json FILE]
    python3 tests/bench/load/compare.py --build build --smoke

Servers: raw (tests/bench/load/raw_echo), beast (tests/bench/load/beast_echo, when Boost
was found), syncws (samples/echo_server). Each prints "<name> listening on ws://HOST:PORT/"
as its first line; it is stopped with SIGTERM after the run.
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

SERVER_ORDER = ["raw", "beast", "syncws"]
SERVER_LABEL = {"raw": "raw blocking echo", "beast": "Beast sync", "syncws": "syncws echo_server"}
# Paths relative to the build directory; --raw-echo etc. override them.
SERVER_PATHS = {
    "raw": "tests/bench/load/raw_echo",
    "beast": "tests/bench/load/beast_echo",
    "syncws": "samples/echo_server",
}
# echo_server receives at most 1 MiB per message by default (ConnectionOptions::max_size);
# the 16 MiB bulk scenario needs more, as any user echoing such messages would configure.
# syncws's echo_server refuses clients beyond --max-connections (256 by default) with a 503;
# the idle scenario holds 10,000.
SERVER_EXTRA_ARGS = {"syncws": ["--max-size", str(64 << 20), "--max-connections", "20000"]}

ALL_SCENARIOS = ["throughput", "text", "rtt", "bulk", "connect", "idle", "client"]
BULK_SIZES = [1 << 20, 16 << 20]
# Scenarios driven by syncws_client_load against raw_echo (the client-side figures).
CLIENT_SCENARIOS = ["throughput", "bulk"]


class Run:
    """One ws_load (or syncws_client_load) invocation against one fresh server."""

    def __init__(self, key, server, client, scenario, args, tls, repetition):
        self.key = key  # (figure group, e.g. "bulk-1048576" or "idle-1000")
        self.server = server
        self.client = client  # "ws_load" or "syncws"
        self.scenario = scenario
        self.args = args
        self.tls = tls
        self.repetition = repetition
        self.result = None
        self.error = None
        self.seconds = 0.0

    def as_json(self):
        return {
            "key": self.key, "server": self.server, "client": self.client,
            "scenario": self.scenario, "args": self.args, "tls": self.tls,
            "repetition": self.repetition, "result": self.result, "error": self.error,
            "seconds": round(self.seconds, 2),
        }


# ---- servers --------------------------------------------------------------------------


class Server:
    """A server subprocess: started, its URL read from its first line, stopped."""

    def __init__(self, name, program, tls_files, log_dir):
        self.name = name
        self.program = program
        self.tls_files = tls_files
        self.log_path = os.path.join(log_dir, f"{name}{'-tls' if tls_files else ''}.stderr")
        self.proc = None
        self.log = None
        self.url = None

    def __enter__(self):
        command = [self.program, "--host", "127.0.0.1", "--port", "0"]
        command += SERVER_EXTRA_ARGS.get(self.name, [])
        if self.tls_files:
            command += ["--tls-cert", self.tls_files[0], "--tls-key", self.tls_files[1]]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        line = self._first_line(timeout=15)
        words = line.split()
        if len(words) < 4 or words[1:3] != ["listening", "on"]:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{self.name}: unexpected first line {line!r}; "
                               f"stderr: {self.stderr_tail()}")
        self.url = words[3]
        if not self.url.endswith("/"):
            self.url += "/"
        # Nobody reads the rest of stdout: drain it so the server never blocks on a pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def _first_line(self, timeout):
        box = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{self.name}: no 'listening on' line within {timeout} s "
                               f"(exit {self.proc.returncode}); stderr: {self.stderr_tail()}")
        return box[0].decode(errors="replace").strip()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, limit=600):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.log is not None:
            self.log.close()
        return False


def make_certificate(directory):
    """A throw-away ECDSA P-256 certificate for 127.0.0.1 (the common modern choice)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


def probe_tls(name, program, tls_files, log_dir):
    """Whether the server starts with a certificate (beast_echo may be built without TLS)."""
    try:
        with Server(name, program, tls_files, log_dir):
            return True
    except (RuntimeError, OSError) as e:
        print(f"compare.py: {name} does not start with TLS, wss:// runs skipped: {e}",
              file=sys.stderr)
        return False


# ---- runs -----------------------------------------------------------------------------


def scenario_runs(scenario, idle_counts):
    """(figure key, tool arguments) pairs of one ws_load scenario."""
    if scenario == "bulk":
        return [(f"bulk-{size}", ["--scenario", "bulk", "--size", str(size)])
                for size in BULK_SIZES]
    if scenario == "idle":
        return [(f"idle-{n}", ["--scenario", "idle", "--idle", str(n)]) for n in idle_counts]
    return [(scenario, ["--scenario", scenario])]


def run_tool(run, program, server, options, ca_file):
    command = [program, "--url", server.url, "--duration", str(options.duration)] + run.args
    if run.tls:
        command += ["--ca", ca_file]
    # ws_load reads the server's CPU time (and for idle its RSS and threads) from /proc.
    if run.client == "ws_load":
        command += ["--server-pid", str(server.proc.pid)]
    # Generous: idle has to open thousands of connections before it measures anything.
    timeout = options.duration * 4 + 180
    started = time.monotonic()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        run.error = f"timed out after {timeout:.0f} s"
        return
    finally:
        run.seconds = time.monotonic() - started
    lines = [line for line in done.stdout.decode(errors="replace").splitlines()
             if line.strip().startswith("{")]
    stderr = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0 or not lines:
        run.error = (f"exit {done.returncode}: {stderr[-400:]}" if stderr
                     else f"exit {done.returncode}, no JSON line")
    else:
        try:
            run.result = json.loads(lines[-1])
        except json.JSONDecodeError as e:
            run.error = f"bad JSON line ({e}): {lines[-1][:200]}"
    if not server.alive():
        run.error = (run.error + "; " if run.error else "") + \
            f"server {server.name} died (exit {server.proc.returncode}): {server.stderr_tail()}"
        run.result = None


def plan(options, servers):
    """Every run, in execution order: repetitions outermost, then TLS off/on, scenarios,
    and the servers interleaved innermost."""
    runs = []
    for repetition in range(options.repeat):
        for tls in options.tls_modes:
            for scenario in options.scenarios:
                if scenario == "client":
                    continue
                for key, args in scenario_runs(scenario, options.idle):
                    for server in servers:
                        if tls and not servers[server]["tls"]:
                            continue
                        runs.append(Run(key, server, "ws_load", scenario, args, tls,
                                        repetition))
                    # The client-side figure sits next to ws_load's own run against raw.
                    if ("client" in options.scenarios and scenario in CLIENT_SCENARIOS and
                            "raw" in servers and options.client_program):
                        runs.append(Run(key, "raw", "syncws", scenario, args, tls, repetition))
    return runs


# ---- figures --------------------------------------------------------------------------

def field(name):
    return lambda r: r.get(name)


def server_cpu_per_message(r):
    """Server CPU µs per echoed message: less sensitive than msg/s to the client competing
    for the same cores."""
    if r.get("server_cpu_s") is None or not r.get("messages"):
        return None
    return r["server_cpu_s"] / r["messages"] * 1e6


def idle_ratio(r):
    if r.get("p50_us") is None or not r.get("unloaded_p50_us"):
        return None
    return r["p50_us"] / r["unloaded_p50_us"]


def figure_rows(idle_counts):
    """The table's rows: (label, figure key, getter of a run's result, higher is better)."""
    rows = [
        ("throughput 64×16×32 B, msg/s", "throughput", field("messages_per_s"), True),
        ("text 64×16×4 KiB UTF-8, msg/s", "text", field("messages_per_s"), True),
        ("text 64×16×4 KiB UTF-8, MB/s", "text", field("mb_per_s"), True),
        ("throughput: server CPU µs/msg", "throughput", server_cpu_per_message, False),
        ("text: server CPU µs/msg", "text", server_cpu_per_message, False),
        ("rtt 32 B p50, µs", "rtt", field("p50_us"), False),
        ("rtt 32 B p99, µs", "rtt", field("p99_us"), False),
        ("bulk 1 MiB, MB/s", f"bulk-{1 << 20}", field("mb_per_s"), True),
        ("bulk 16 MiB, MB/s", f"bulk-{16 << 20}", field("mb_per_s"), True),
        ("connect, handshakes/s", "connect", field("handshakes_per_s"), True),
    ]
    for n in idle_counts:
        rows += [
            (f"idle {n:,}: server RSS KiB/conn", f"idle-{n}", field("rss_per_conn_kib"), False),
            (f"idle {n:,}: server threads/conn", f"idle-{n}", field("threads_per_conn"), False),
            (f"idle {n:,}: rtt p50 loaded/unloaded", f"idle-{n}", idle_ratio, False),
        ]
    return rows


def target_of(label, key, idle_counts):
    """The issue's target for syncws on this row: (text, check(ratio_to_raw, value))."""
    largest_idle = f"idle-{max(idle_counts)}" if idle_counts else None
    if "CPU" in label:
        return "", None
    if key == "throughput":
        return "≥0.8× raw", lambda ratio, value: ratio >= 0.8
    if key == "text" and "msg/s" in label:
        return "≥0.8× raw", lambda ratio, value: ratio >= 0.8
    if key == "rtt" and "p50" in label:
        return "≤1.3× raw", lambda ratio, value: ratio <= 1.3
    if key.startswith("bulk-"):
        return "≥0.95× raw", lambda ratio, value: ratio >= 0.95
    if key == "connect":
        return "≥1.3× raw", lambda ratio, value: ratio >= 1.3
    if key == largest_idle and "RSS" in label:
        return "≤32 KiB/conn", lambda ratio, value: value <= 32
    if key == largest_idle and "loaded/unloaded" in label:
        return "≤2×", lambda ratio, value: value <= 2
    return "", None


def median_of(runs, getter):
    values = [getter(r.result) for r in runs if r.result is not None]
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def fmt(value):
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(runs, getter, bases=()):
    """Median of a set of runs, with its ratio to each (baseline value, name) given that has
    a value; failures shown as such."""
    if not runs:
        return "n/a", None
    value = median_of(runs, getter)
    failed = sum(1 for r in runs if r.result is None)
    if value is None:
        return (f"failed ({failed}/{len(runs)})" if failed else "—"), None
    text = fmt(value)
    ratios = [f"{value / base:.2f}× {name}" if base else f"—× {name}"
              for base, name in bases if base is not None]
    if ratios:
        text += " (" + ", ".join(ratios) + ")"
    if failed:
        text += f" [{failed}/{len(runs)} failed]"
    return text, value


def tables(runs, servers, options):
    by = {}
    for r in runs:
        by.setdefault((r.key, r.server, r.client, r.tls), []).append(r)
    names = [s for s in SERVER_ORDER if s in servers]
    out = []
    verdicts = []
    for tls in options.tls_modes:
        tls_names = [s for s in names if not tls or servers[s]["tls"]]
        title = "wss:// (TLS)" if tls else "ws:// (plain)"
        out.append(f"### Servers, {title}: median of {options.repeat}, ratio to raw"
                   + (", ratio to the plain twin" if tls else ""))
        out.append("")
        header = ["figure"] + [SERVER_LABEL[s] for s in tls_names]
        if not options.smoke:
            header += ["syncws target", "met?"]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for label, key, getter, _higher in figure_rows(options.idle):
            if not any((key, s, "ws_load", tls) in by for s in tls_names):
                continue
            raw_value = median_of(by.get((key, "raw", "ws_load", tls), []), getter)
            cells = []
            syncws_value = None
            for s in tls_names:
                twin = median_of(by.get((key, s, "ws_load", False), []), getter) if tls else None
                baseline = raw_value if s != "raw" and raw_value is not None else None
                # A ratio of ratios (loaded/unloaded rtt) to raw's says nothing.
                bases = [] if "loaded/unloaded" in label else [(baseline, "raw")]
                text, value = cell(by.get((key, s, "ws_load", tls), []), getter,
                                   bases + [(twin, "plain")])
                cells.append(text)
                if s == "syncws":
                    syncws_value = value
            row = [label] + cells
            if not options.smoke:
                target, check = target_of(label, key, options.idle)
                met = ""
                if check is not None and "syncws" in tls_names:
                    if syncws_value is None or (raw_value in (None, 0) and
                                                not key.startswith("idle-")):
                        met = "not measured"
                    else:
                        ratio = syncws_value / raw_value if raw_value else None
                        ok = check(ratio, syncws_value)
                        met = "**met**" if ok else "not met"
                    verdicts.append((title, label, met))
                row += [target, met]
            out.append("| " + " | ".join(row) + " |")
        out.append("")

        client_rows = [(label, key, getter) for label, key, getter, _ in figure_rows([])
                       if (key == "throughput" or key.startswith("bulk-"))
                       and "CPU" not in label and (key, "raw", "syncws", tls) in by]
        if client_rows:
            out.append(f"### Client side, {title}: both against raw_echo, median of "
                       f"{options.repeat}, syncws's client as a ratio to ws_load"
                       + (", ratio to the plain twin" if tls else ""))
            out.append("")
            header = ["figure", "ws_load → raw", "syncws client → raw"]
            if not options.smoke:
                header += ["target", "met?"]
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            for label, key, getter in client_rows:
                tool_runs = by.get((key, "raw", "ws_load", tls), [])
                ours = by.get((key, "raw", "syncws", tls), [])
                tool_value = median_of(tool_runs, getter)
                tool_twin = median_of(by.get((key, "raw", "ws_load", False), []), getter) \
                    if tls else None
                ours_twin = median_of(by.get((key, "raw", "syncws", False), []), getter) \
                    if tls else None
                tool_text, _ = cell(tool_runs, getter, [(tool_twin, "plain")])
                ours_text, ours_value = cell(ours, getter,
                                             [(tool_value, "ws_load"), (ours_twin, "plain")])
                row = [label, tool_text, ours_text]
                if not options.smoke:
                    if ours_value is None or not tool_value:
                        met = "not measured"
                    else:
                        met = "**met**" if ours_value / tool_value >= 0.8 else "not met"
                    verdicts.append((title, "client " + label, met))
                    row += ["≥0.8× ws_load", met]
                out.append("| " + " | ".join(row) + " |")
            out.append("")
    return out, verdicts


def failure_notes(runs):
    """One line per failing (figure, server, client, TLS) with its first error."""
    first = {}
    for r in runs:
        if r.error:
            tag = (r.key, r.server, r.client, r.tls)
            count, error = first.get(tag, (0, r.error))
            first[tag] = (count + 1, error)
    if not first:
        return []
    out = ["Failed runs:", ""]
    for (key, server, client, tls), (count, error) in first.items():
        error = " ".join(error.split())
        if len(error) > 240:
            error = error[:240] + "…"
        out.append(f"- {'wss' if tls else 'ws'} {key}, {server} server, {client} client, "
                   f"{count}×: {error}")
    out.append("")
    return out


# ---- main -----------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def load_average():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def find_program(explicit, build, relative):
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    if build:
        path = os.path.join(build, relative)
        return path if os.access(path, os.X_OK) else None
    return None


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", help="the meson build directory holding the executables")
    p.add_argument("--ws-load", help="path of ws_load (default: BUILD/tests/bench/load/ws_load)")
    p.add_argument("--raw-echo", help="path of raw_echo")
    p.add_argument("--beast-echo", help="path of beast_echo")
    p.add_argument("--echo-server", help="path of syncws's echo_server")
    p.add_argument("--syncws-client-load", help="path of syncws_client_load")
    p.add_argument("--servers", default=",".join(SERVER_ORDER))
    p.add_argument("--scenarios", default=",".join(ALL_SCENARIOS),
                   help="of " + ",".join(ALL_SCENARIOS) + " (client: syncws's client "
                   "against raw for throughput and bulk)")
    p.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--idle", default="1000,10000", help="idle connection counts")
    p.add_argument("--tls", dest="tls", action="store_true", default=True,
                   help="also run over wss:// (default)")
    p.add_argument("--no-tls", dest="tls", action="store_false")
    p.add_argument("--smoke", action="store_true",
                   help="CI: every scenario once for ~1 s, idle 100, no targets; exit 1 if "
                   "any run failed")
    p.add_argument("--json", help="save every run's result to this file")
    p.add_argument("--from-json", metavar="FILE",
                   help="print the report of a run saved with --json, running nothing")
    options = p.parse_args(argv)
    if options.smoke:
        options.duration = 1.0
        options.repeat = 1
        options.idle = "100"
    options.idle = [int(x) for x in options.idle.split(",") if x]
    options.scenarios = [s for s in options.scenarios.split(",") if s]
    unknown = set(options.scenarios) - set(ALL_SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    options.tls_modes = [False, True] if options.tls else [False]
    return options


def main(argv):
    options = parse_args(argv)
    if options.from_json:
        return rerender(options.from_json)
    command = "python3 " + shlex.join([os.path.relpath(__file__)] + argv)
    ws_load = find_program(options.ws_load, options.build, "tests/bench/load/ws_load")
    if not ws_load:
        print("compare.py: ws_load not found (give --build or --ws-load)", file=sys.stderr)
        return 2
    options.client_program = find_program(options.syncws_client_load, options.build,
                                          "tests/bench/load/syncws_client_load")
    explicit = {"raw": options.raw_echo, "beast": options.beast_echo,
                "syncws": options.echo_server}
    servers = {}
    for name in [s for s in options.servers.split(",") if s]:
        if name not in SERVER_PATHS:
            print(f"compare.py: unknown server {name}", file=sys.stderr)
            return 2
        program = find_program(explicit[name], options.build, SERVER_PATHS[name])
        if not program:
            why = " (Boost not found at configure time?)" if name == "beast" else ""
            print(f"compare.py: {name}: {SERVER_PATHS[name]} not built{why}: skipped",
                  file=sys.stderr)
            continue
        servers[name] = {"program": program, "tls": True}
    if not servers:
        print("compare.py: no server to run", file=sys.stderr)
        return 2
    if "client" in options.scenarios and not options.client_program:
        print("compare.py: syncws_client_load not built: client-side rows skipped",
              file=sys.stderr)

    started = time.monotonic()
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "load_start": load_average(),
        "command": command,
    }
    work = tempfile.mkdtemp(prefix="syncws-compare-")
    try:
        cert = key = None
        if options.tls:
            if shutil.which("openssl"):
                cert, key = make_certificate(work)
            else:
                print("compare.py: openssl not found: TLS runs skipped", file=sys.stderr)
                options.tls_modes = [False]
        if cert:
            for name, server in servers.items():
                server["tls"] = probe_tls(name, server["program"], (cert, key), work)
        runs = plan(options, servers)
        for i, run in enumerate(runs, 1):
            program = ws_load if run.client == "ws_load" else options.client_program
            tag = (f"[{i}/{len(runs)}] r{run.repetition + 1} {'wss' if run.tls else 'ws'} "
                   f"{run.key:<14} {run.server:<6} {run.client:<7}")
            try:
                with Server(run.server, servers[run.server]["program"],
                            (cert, key) if run.tls else None, work) as server:
                    run_tool(run, program, server, options, cert)
            except (RuntimeError, OSError) as e:
                run.error = str(e)
            if run.error:
                print(f"{tag} FAILED: {run.error}", file=sys.stderr, flush=True)
            else:
                print(f"{tag} ok in {run.seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["load_end"] = load_average()
    meta["minutes"] = round((time.monotonic() - started) / 60, 1)
    failures = sum(1 for r in runs if r.error)
    print(report(meta, runs, servers, options))
    if options.json:
        with open(options.json, "w", encoding="utf-8") as f:
            json.dump({"meta": meta,
                       "options": {"duration": options.duration, "repeat": options.repeat,
                                   "idle": options.idle, "tls_modes": options.tls_modes,
                                   "smoke": options.smoke},
                       "servers": {name: {"tls": s["tls"]} for name, s in servers.items()},
                       "runs": [r.as_json() for r in runs]}, f, indent=1)
    if failures:
        print(f"compare.py: {failures} of {len(runs)} runs failed", file=sys.stderr)
    return 1 if options.smoke and failures else 0


def report(meta, runs, servers, options):
    """The markdown report: machine and command, the tables, the targets, the failures."""
    failures = sum(1 for r in runs if r.error)
    lines = [
        f"## syncws load comparison — {meta.get('date', '?')}",
        "",
        f"- machine: {meta.get('cpus', '?')} CPUs (nproc {meta.get('nproc', '?')}), "
        f"{meta.get('cpu', '?')}",
        f"- load average at start: {meta.get('load_start', '?')}; "
        f"at end: {meta.get('load_end', '?')}",
        f"- command: `{meta.get('command', '?')}`",
        f"- {len(runs)} runs, each on a freshly started server, {options.duration:g} s "
        f"each, interleaved; {failures} failed; total {meta.get('minutes', '?')} min",
        "",
    ]
    table, verdicts = tables(runs, servers, options)
    lines += table
    if verdicts:
        met = sum(1 for v in verdicts if v[2] == "**met**")
        lines.append(f"Targets met: {met} of {len(verdicts)}.")
        lines.append("")
    lines += failure_notes(runs)
    return "\n".join(lines)


def rerender(path):
    """--from-json: the report of a saved run, without running anything."""
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    o = saved.get("options", {})
    runs = []
    for r in saved["runs"]:
        run = Run(r["key"], r["server"], r["client"], r["scenario"], r["args"], r["tls"],
                  r["repetition"])
        run.result, run.error, run.seconds = r.get("result"), r.get("error"), r.get("seconds", 0)
        runs.append(run)
    options = argparse.Namespace(
        duration=o.get("duration", 0),
        repeat=o.get("repeat", 1 + max((r.repetition for r in runs), default=0)),
        idle=o.get("idle") or sorted({int(r.key[5:]) for r in runs if r.key.startswith("idle-")}),
        tls_modes=o.get("tls_modes") or sorted({r.tls for r in runs}),
        smoke=o.get("smoke", False))
    servers = saved.get("servers") or {r.server: {"tls": True} for r in runs}
    print(report(saved.get("meta", saved), runs, servers, options))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
