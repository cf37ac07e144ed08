#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test suite.
#
#   bash scripts/test.sh
#
# Run as root (or with sudo available) on Debian 12 from the repository. Idempotent: a
# second run installs nothing and rebuilds only what changed. Tests run in parallel on
# $MESON_TESTTHREADS processes (meson's default: one per core).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh

syncws_ensure_packages
syncws_ensure_node_modules
syncws_setup build --werror
meson compile -C build
meson test -C build --print-errorlogs
