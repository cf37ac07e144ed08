#!/usr/bin/env python3
"""Runs proto_bench and prints its figures as ratios to the memcpy baseline of the same run.

Absolute throughput depends on the machine; a ratio to memcpy on the same machine, in the
same run, does not much, so these are the numbers to quote (in the README, in reviews).

    tests/bench/ratios.py BUILD_DIR/tests/bench/proto_bench [extra benchmark flags...]
    tests/bench/ratios.py BUILD_DIR/tests/bench/proto_bench --benchmark_repetitions=5
    tests/bench/ratios.py --json saved_run.json

Build the benchmark in a release build directory (meson setup --buildtype=release).
"""

import json
import subprocess
import sys


def run(binary, extra):
    out = subprocess.run(
        [binary, "--benchmark_format=json", *extra],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out)


def by_name(report):
    """Each benchmark's figures: the median when run with --benchmark_repetitions, else the
    single run."""
    results = {}
    medians = {}
    for b in report["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[b["run_name"]] = b
        else:
            results.setdefault(b.get("run_name", b["name"]), b)
    results.update(medians)
    return results


def gbps(b):
    return b["bytes_per_second"] / 1e9


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[1] == "--json":
        with open(argv[2]) as f:
            report = json.load(f)
    else:
        report = run(argv[1], argv[2:])
    results = by_name(report)

    def get(name):
        if name not in results:
            print(f"missing benchmark {name!r} (skipped or failed)", file=sys.stderr)
        return results.get(name)

    base_1k = get("memcpy_baseline/1024")
    base_1m = get("memcpy_baseline/1048576")
    if base_1m is None:
        return 1
    ctx = report.get("context", {})
    print(f"machine: {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"library build {ctx.get('library_build_type', '?')}")
    print(f"memcpy baseline: {gbps(base_1m):.1f} GB/s at 1 MiB"
          + (f", {gbps(base_1k):.1f} GB/s at 1 KiB" if base_1k else ""))
    print()
    print(f"{'benchmark':<40} {'GB/s':>8} {'x memcpy':>9} {'items/s':>12}")

    def row(name, baseline):
        b = get(name)
        if b is None:
            return
        rate = f"{gbps(b):8.2f}" if "bytes_per_second" in b else f"{'':8}"
        ratio = (f"{b['bytes_per_second'] / baseline['bytes_per_second']:9.2f}"
                 if "bytes_per_second" in b and baseline else f"{'':9}")
        items = f"{b['items_per_second']:12.3g}" if "items_per_second" in b else ""
        print(f"{name:<40} {rate} {ratio} {items}")

    row("apply_mask/1024", base_1k)
    row("apply_mask/1048576", base_1m)
    row("copy_masked/1024", base_1k)
    row("copy_masked/1048576", base_1m)
    row("utf8_ascii/1048576", base_1m)
    row("utf8_mixed/1048576", base_1m)
    row("utf8_cjk/1048576", base_1m)
    row("parse_frame_header", None)
    for size in (32, 1048576):
        for masked in (0, 1):
            row(f"serialize_frame/size:{size}/masked:{masked}", base_1k if size < 1024 else base_1m)
    row("engine_small_frames", base_1m)
    row("engine_small_frames_reused", base_1m)

    print()
    for name in ("engine_small_frames", "engine_small_frames_reused"):
        engine = results.get(name)
        if engine:
            # Frames per second per GB/s of memcpy: how many small frames the engine handles
            # in the time memcpy moves a gigabyte.
            per_gb = engine["items_per_second"] / gbps(base_1m)
            print(f"{name}: {engine['items_per_second'] / 1e6:.2f} M frames/s "
                  f"= {per_gb / 1e6:.3f} M frames per GB of memcpy time")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
