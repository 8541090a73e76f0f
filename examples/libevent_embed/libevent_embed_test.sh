#!/usr/bin/env bash
# Runs the libevent_embed example and compares what it prints with
# expected_output.txt (its order is causal, so it is exact).
set -euo pipefail
bin="$1"
expected="$2"
actual=$("$bin")
if ! diff -u "$expected" <(printf '%s\n' "$actual"); then
  echo "libevent_embed printed something else (diff above)" >&2
  exit 1
fi
echo "libevent_embed: output as expected"
