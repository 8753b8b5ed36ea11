#!/usr/bin/env bash
# Constant-time check of the SM2 private-key paths (see ct_harness.c): builds the harness with the
# secret markers on and runs it under valgrind's memcheck; fails on any reported error.
set -euo pipefail
cd "$(dirname "$0")"
command -v valgrind >/dev/null || { echo "ct-check: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -g -std=gnu11 -DPIAOJU_CT_CHECK -I. -o "$out/ct_harness" ct_harness.c sm2.c sm3.c -lpthread
valgrind --quiet --error-exitcode=1 --track-origins=yes "$out/ct_harness" "${1:-4}"
