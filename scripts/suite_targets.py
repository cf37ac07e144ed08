#!/usr/bin/env python3
"""Prints the ninja targets that the tests of the given suites need, for a configured build
directory: `python3 scripts/suite_targets.py BUILD_DIR net sync interop`.

.ci/run builds only these in its ThreadSanitizer directory (the engine suites are
single-threaded), and a list derived from Meson cannot fall behind when a test is added.
"""
import json
import os
import subprocess
import sys


def introspect(build_dir, what):
    out = subprocess.run(["meson", "introspect", build_dir, what], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    build_dir, suites = sys.argv[1], set(sys.argv[2:])
    build_root = os.path.realpath(build_dir)
    files_of = {t["id"]: t["filename"] for t in introspect(build_dir, "--targets")}
    needed = set()
    for test in introspect(build_dir, "--tests"):
        # Suites are reported as "project:suite".
        if not suites & {s.split(":")[-1] for s in test["suite"]}:
            continue
        for target in test.get("depends", []):
            for path in files_of.get(target, []):
                needed.add(os.path.relpath(os.path.realpath(path), build_root))
    if not needed:
        sys.exit(f"no test of the suites {sorted(suites)} in {build_dir}")
    print("\n".join(sorted(needed)))


if __name__ == "__main__":
    main()
