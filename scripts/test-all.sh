#!/usr/bin/env bash
# Run every check as its own stage, keep going after a failure so one run
# shows everything that is wrong, and finish with a timed summary.
# usage: test-all.sh SCENARIO...
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

stages=(lint unit sanity build)
for scenario in "$@"; do
    stages+=("molecule SCENARIO=$scenario")
done

passed=0
failed=0
summary=()
for stage in "${stages[@]}"; do
    echo "==> make $stage"
    start=$(date +%s)
    # shellcheck disable=SC2086  # a stage is a target plus its variables
    if make --no-print-directory $stage; then
        result=pass; passed=$((passed + 1))
    else
        result=FAIL; failed=$((failed + 1))
    fi
    summary+=("$(printf '%-4s %5ss  make %s' "$result" "$(( $(date +%s) - start ))" "$stage")")
done

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
echo "make test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
