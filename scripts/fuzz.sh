#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz and fuzzes each one.
#
#   bash scripts/fuzz.sh                 # every target, 60 s each, two at a time
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh client server
#
# Each target starts from a scratch copy of tests/fuzz/corpus/<target>/ (the repository is
# never modified); a crash prints the input in base64 and hex (scripts/run_fuzzer.sh).
# Results land in build-fuzz/meson-logs/testlog.json like any other meson test run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh

werror=()
if [[ ${CI:-} == true ]]; then
    werror=(--werror)
fi

syncws_ensure_packages
CC=clang CXX=clang++ syncws_setup build-fuzz -Dfuzz=true -Db_lundef=false -Dbench=false \
    -Dsamples=false "${werror[@]}"

# Only the fuzzers: the rest of the tree is built and tested by the gcc build dirs.
targets=()
tests=()
for src in tests/fuzz/targets/*_fuzz.cpp; do
    name=$(basename "$src" _fuzz.cpp)
    if (($# == 0)) || [[ " $* " == *" $name "* ]]; then
        targets+=("fuzz_$name")
        tests+=("libfuzzer_$name")
    fi
done
if ((${#targets[@]} == 0)); then
    echo "no fuzz target matches: $*" >&2
    exit 2
fi
meson compile -C build-fuzz "${targets[@]}"

export FUZZ_SECONDS=${FUZZ_SECONDS:-60}
# libFuzzer stops itself after FUZZ_SECONDS; meson's timeout (300 s per test, scaled here to
# FUZZ_SECONDS + 2 minutes) is only a backstop against a hung run.
multiplier=$(((FUZZ_SECONDS + 120 + 299) / 300))
meson test -C build-fuzz --no-rebuild --print-errorlogs --timeout-multiplier "$multiplier" \
    --num-processes "${MESON_TESTTHREADS:-2}" "${tests[@]}"
