#!/usr/bin/env bash
# Line coverage of the sans-I/O engine (lib/proto) by the proto and fuzz-corpus suites.
#
#   bash scripts/coverage.sh            # summary table on stdout
#   HTML=1 bash scripts/coverage.sh     # also build-coverage/coverage/index.html
#
# Builds with gcc and -Db_coverage=true in build-coverage (benchmarks off: they add
# nothing to coverage and take long to run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh

syncws_ensure_packages
syncws_setup build-coverage -Db_coverage=true -Dbench=false -Dsamples=false \
    -Dbuildtype=debug
meson compile -C build-coverage
# Counters accumulate across runs: start from zero so the figure is this run's.
find build-coverage -name '*.gcda' -delete
meson test -C build-coverage --print-errorlogs --suite proto --suite fuzz

# Search only build-coverage for .gcda files (other build dirs may hold stale ones).
gcovr_args=(-r . build-coverage --filter 'lib/proto/'
    --exclude-unreachable-branches --exclude-throw-branches)
if [[ -n ${HTML:-} ]]; then
    mkdir -p build-coverage/coverage
    gcovr "${gcovr_args[@]}" --html-details build-coverage/coverage/index.html
    echo "HTML report: build-coverage/coverage/index.html"
fi
gcovr "${gcovr_args[@]}" --txt --print-summary
