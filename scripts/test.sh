#!/usr/bin/env bash
# Runs every check CI runs: setup (including chromium for the browser tests), the typecheck, then
# `bun test` (arguments are passed through, e.g. `bash scripts/test.sh test/helpers`).
# The output streams to the terminal as usual; the last line is always exactly
#   N passed, N failed
# where a failed typecheck counts as 1 failed and a test run that ends without Bun's summary
# (crash, kill, a test calling process.exit) counts as at least 1 failed. Exits non-zero iff
# anything failed.
#
# No `set -e`: every step must run and the summary line must be printed whatever fails.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export TICKWHEEL_SETUP_CHROMIUM="${TICKWHEEL_SETUP_CHROMIUM:-1}"
export TICKWHEEL_SETUP_TEST_TOOLS="${TICKWHEEL_SETUP_TEST_TOOLS:-1}"
# shellcheck source=scripts/setup.sh
if ! source scripts/setup.sh; then
  echo "0 passed, 1 failed"
  exit 1
fi

failed=0
passed=0

echo "tickwheel test: bun run typecheck…"
if ! bun run typecheck; then
  echo "tickwheel test: typecheck FAILED"
  failed=$((failed + 1))
fi

# Bun 1.4.5 ignores `timeout` under [test] in bunfig.toml (checked: a 5.5 s test still fails at the
# 5 s default), so the default per-test timeout for tests that start real servers is set here,
# unless the caller passes their own --timeout.
test_args=("$@")
has_timeout=0
for arg in "$@"; do
  case "$arg" in --timeout | --timeout=*) has_timeout=1 ;; esac
done
if [[ "$has_timeout" -eq 0 ]]; then
  test_args=(--timeout "${TICKWHEEL_TEST_TIMEOUT_MS:-60000}" "$@")
fi

echo "tickwheel test: bun test ${test_args[*]}"
test_log="$(mktemp "${TMPDIR:-/tmp}/tickwheel-test.XXXXXX")"
trap 'rm -f "$test_log"' EXIT
# Bun prints results and its summary on stderr; merge both streams so tee shows and keeps them.
bun test "${test_args[@]}" 2>&1 | tee "$test_log"
test_exit=${PIPESTATUS[0]}

# Bun's summary, colour codes removed, looks like:
#    42 pass
#    1 skip        (optional lines: skip, todo, error)
#    1 fail
#    57 expect() calls
#   Ran 44 tests across 9 files. [1.23s]
plain_log="$(sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$test_log")"
last_count() { # $1 = word after the number; prints the last such count, or nothing
  printf '%s\n' "$plain_log" | sed -nE "s/^[[:space:]]*([0-9]+) $1[[:space:]]*\$/\\1/p" | tail -n 1
}
if printf '%s\n' "$plain_log" | grep -qE '^Ran [0-9]+ tests? across'; then
  test_passed="$(last_count pass)"
  test_failed="$(last_count fail)"
  passed=$((passed + ${test_passed:-0}))
  test_failed=${test_failed:-0}
  if [[ "$test_exit" -ne 0 && "$test_failed" -eq 0 ]]; then
    echo "tickwheel test: bun test exited with $test_exit without a failed test (errors outside tests?)"
    test_failed=1
  fi
  failed=$((failed + test_failed))
else
  echo "tickwheel test: bun test (exit $test_exit) ended without its summary: crashed, killed or exited early"
  crashed_failed="$(last_count fail)"
  crashed_failed=${crashed_failed:-0}
  failed=$((failed + (crashed_failed > 0 ? crashed_failed : 1)))
fi

echo "${passed} passed, ${failed} failed"
[[ "$failed" -eq 0 ]]
