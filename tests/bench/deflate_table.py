#!/usr/bin/env python3
"""Runs deflate_bench and prints its figures as Markdown tables.

    tests/bench/deflate_table.py BUILD_DIR/tests/bench/deflate_bench [extra benchmark flags...]
    tests/bench/deflate_table.py BUILD_DIR/tests/bench/deflate_bench --benchmark_repetitions=3
    tests/bench/deflate_table.py --json saved_run.json

The figures to quote are ratios taken in the same run: syncws throughput over the zlib
baseline's (the cost of the Extension around zlib), compressed over original size, and bytes
per connection. Throughput is uncompressed bytes per CPU second of the benchmark thread.
Build the benchmark in a release build directory (meson setup --buildtype=release).
"""

import json
import subprocess
import sys


def run(binary, extra):
    # The binary exits with 1 when a benchmark failed its own check; the JSON is still
    # complete, and the failed rows are reported below.
    proc = subprocess.run([binary, "--benchmark_format=json", *extra],
                          stdout=subprocess.PIPE, text=True)
    if not proc.stdout:
        sys.exit(f"{binary} printed nothing (exit status {proc.returncode})")
    return json.loads(proc.stdout)


def by_name(report):
    """Each benchmark's figures: the median when run with --benchmark_repetitions, else the
    single run. Also the names of the benchmarks that failed."""
    results, medians, failed = {}, {}, set()
    for b in report["benchmarks"]:
        name = b.get("run_name", b["name"])
        if b.get("error_occurred"):
            failed.add(name)
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b
        else:
            results.setdefault(name, b)
    results.update(medians)
    return results, failed


def mbps(b):
    return f"{b['bytes_per_second'] / 1e6:,.1f}"


def size_label(corpus, b):
    return f"{corpus}, {b['msg_bytes']:,.0f} B"


def markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[1] == "--json":
        with open(argv[2]) as f:
            report = json.load(f)
    else:
        report = run(argv[1], argv[2:])
    results, failed = by_name(report)
    missing = []

    def get(name):
        if name not in results:
            missing.append(name)
        return results.get(name)

    ctx = report.get("context", {})
    load = ", ".join(f"{x:.2f}" for x in ctx.get("load_avg", []))
    print(f"Machine: {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"load average {load or '?'} at start; {ctx.get('date', '')}.")
    print()

    print("### syncws Extension vs plain zlib (window 12, memLevel 5, level 6: the server "
          "defaults)")
    print()
    rows = []
    for corpus in ("json", "random"):
        for size in (1024, 65536):
            for takeover in ("takeover", "no_takeover"):
                for op in ("encode", "decode"):
                    base = f"{op}/{corpus}/{size}/{takeover}"
                    ours, zlib = get(base + "/syncws"), get(base + "/zlib")
                    if ours is None or zlib is None:
                        continue
                    rows.append([
                        size_label(corpus, ours),
                        "on" if takeover == "takeover" else "off",
                        op,
                        f"{ours['ratio']:.3f}",
                        mbps(ours),
                        mbps(zlib),
                        f"**{ours['bytes_per_second'] / zlib['bytes_per_second']:.2f}**",
                    ])
    print(markdown(["data, mean message", "context takeover", "direction",
                    "compressed / original", "syncws MB/s", "zlib MB/s", "syncws / zlib"], rows))
    print()

    print("### Per window / memLevel (JSON, context takeover on; memory: one server "
          "connection's compressor + decompressor after one message each way)")
    print()
    rows = []
    settings = [(15, 8), (14, 7), (13, 6), (12, 5), (11, 4), (10, 3), (9, 2)]
    default = get("setting/window:12/mem:5/json/65536")
    for window, mem in settings:
        small = get(f"setting/window:{window}/mem:{mem}/json/1024")
        large = get(f"setting/window:{window}/mem:{mem}/json/65536")
        if small is None or large is None:
            continue
        speed = (f"{large['bytes_per_second'] / default['bytes_per_second']:.2f}"
                 if default else "n/a")
        rows.append([
            f"{window} / {mem}" + (" (default)" if (window, mem) == (12, 5) else ""),
            f"{large['compressor_bytes']:,.0f}",
            f"{large['decompressor_bytes']:,.0f}",
            f"**{large['connection_bytes']:,.0f}**",
            f"{large['idle_no_takeover_bytes']:,.0f}",
            f"**{small['ratio']:.3f}**",
            f"**{large['ratio']:.3f}**",
            mbps(small),
            mbps(large),
            speed,
        ])
    none_small, none_large = get("none/json/1024"), get("none/json/65536")
    if none_small and none_large:
        rows.append(["no compression", "0", "0",
                      f"**{none_large['connection_bytes']:,.0f}**", "0",
                      f"{none_small['ratio']:.3f}", f"{none_large['ratio']:.3f}",
                      f"{1e9 / none_small['items_per_second']:.0f} ns/msg\\*",
                      f"{1e9 / none_large['items_per_second']:.0f} ns/msg\\*", "—"])
    print(markdown(["window bits / memLevel", "compressor B", "decompressor B",
                    "per connection B", "held between messages, no takeover",
                    "ratio ~1 KiB", "ratio 64 KiB", "encode MB/s ~1 KiB", "encode MB/s 64 KiB",
                    "64 KiB speed vs default"], rows))
    if none_small and none_large:
        print()
        print("\\* encode() with compress = false, per message, including the paused timer "
              "while the harness rebuilds its frames once per cycle (every 256 messages at "
              "1 KiB, every 8 at 64 KiB): a bound on what the harness adds to each syncws "
              "figure above.")

    status = 0
    if failed:
        print(f"\nFAILED: {', '.join(sorted(failed))}", file=sys.stderr)
        status = 1
    if missing:
        print(f"missing (filtered out, skipped or failed): {', '.join(missing)}",
              file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
