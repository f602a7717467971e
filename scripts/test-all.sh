#!/usr/bin/env bash
# Run every check as its own stage, keep going after a failure so one run
# shows everything that is wrong, and finish with a timed summary.
# usage: test-all.sh SCENARIO...
#
# The static stages (lint, unit, sanity, build, release-check) share nothing with each other
# or the lab, so they run side by side, each into its own log, in the
# background while the Molecule scenarios run one at a time (one lab); their
# logs are printed when they are done. They run at the lowest CPU priority:
# the lab's hosts, whose probes and commit-confirm timers run against the
# clock, always come first, and the static stages take the CPU the lab leaves
# idle (a lab mostly waits on its hosts).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

static=(lint unit sanity build release-check)
logs=.cache/test-logs
mkdir -p "$logs"

passed=0
failed=0
summary=()
record() {  # record RESULT SECONDS STAGE
    summary+=("$(printf '%-4s %5ss  make %s' "$1" "$2" "$3")")
    if [ "$1" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

echo "==> make ${static[*]} (side by side, in the background at low priority; logs in $logs/)"
declare -A pids
static_start=$(date +%s)
for stage in "${static[@]}"; do
    # Each stage notes its own end, so the summary shows its own time.
    { nice -n 19 make --no-print-directory "$stage"; rc=$?; date +%s > "$logs/$stage.end"; exit "$rc"; } \
        > "$logs/$stage.log" 2>&1 &
    pids[$stage]=$!
done

for scenario in "$@"; do
    stage="molecule SCENARIO=$scenario"
    echo "==> make $stage"
    start=$(date +%s)
    # shellcheck disable=SC2086  # a stage is a target plus its variables
    if make --no-print-directory $stage; then result=pass; else result=FAIL; fi
    record "$result" "$(( $(date +%s) - start ))" "$stage"
done

for stage in "${static[@]}"; do
    if wait "${pids[$stage]}"; then result=pass; else result=FAIL; fi
    elapsed=$(( $(cat "$logs/$stage.end") - static_start ))
    echo "==> make $stage: $result (${elapsed}s, alongside the scenarios)"
    cat "$logs/$stage.log"
    record "$result" "$elapsed" "$stage"
done

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
echo "make test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
