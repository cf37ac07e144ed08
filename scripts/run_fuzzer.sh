#!/usr/bin/env bash
# Runs one libFuzzer target on a scratch copy of its committed seed corpus, so fuzzing never
# modifies the repository. Registered by tests/fuzz/meson.build as the `libfuzzer` suite of
# a fuzz build (see scripts/fuzz.sh); usable by hand too:
#
#   scripts/run_fuzzer.sh FUZZER SEED_DIR WORK_DIR
#
# FUZZ_SECONDS (default 60) bounds the run. On a crash, leak, timeout or OOM every artifact
# is printed in base64 and hex, ready to be committed under tests/fuzz/corpus/<target>/ as a
# regression input, and the script fails.
set -euo pipefail

if (($# != 3)); then
    echo "usage: $0 FUZZER SEED_DIR WORK_DIR" >&2
    exit 2
fi
fuzzer=$1
seeds=$2
work=$3
seconds=${FUZZ_SECONDS:-60}
name=$(basename "$seeds")

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
if [[ -d $seeds ]]; then
    cp -R "$seeds/." "$work/corpus/"
fi

echo "==> fuzzing $name for ${seconds}s ($(find "$work/corpus" -type f | wc -l) seeds)"
status=0
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" || status=$?

shopt -s nullglob
artifacts=("$work"/artifacts/*)
if ((status != 0 || ${#artifacts[@]} != 0)); then
    echo "==> $name: libFuzzer failed (exit $status)"
    for file in "${artifacts[@]}"; do
        size=$(wc -c <"$file")
        b64=$(base64 -w 0 "$file")
        echo "--- artifact $(basename "$file") ($size bytes)"
        echo "hex$( ((size > 1024)) && echo ' (first 1024 bytes)'):"
        od -An -v -tx1 -N 1024 "$file"
        echo "base64: $b64"
        echo "reproduce: $fuzzer $file"
        echo "keep it as a regression input (replayed by the fuzz_corpus_$name test):"
        echo "  echo '$b64' | base64 -d > tests/fuzz/corpus/$name/regress-$(sha1sum "$file" | cut -c1-16)"
    done
    exit $((status != 0 ? status : 1))
fi
echo "==> $name: no crash in ${seconds}s; corpus now $(find "$work/corpus" -type f | wc -l) inputs"
