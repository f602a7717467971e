#!/usr/bin/env bash
# make demo: bring the lab up, harden it with site.yml, run site.yml again
# (it changes nothing: its time against the first run's is printed), audit
# it with verify.yml. One line per stage with its time (and what site.yml changed);
# each stage's full output goes to .cache/demo/<stage>.log. A failed stage
# prints the failing task and its message.
#
# usage: demo.sh [SCENARIO]   (default: field, as `make demo`)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
scenario=${1:-field}
logs=.cache/demo
mkdir -p "$logs"
rm -f "$logs"/*.log

# The failing task and its message, from an Ansible log; else the log's end.
show_failure() {
    python3 - "$1" <<'PY'
import json, re, sys
task, shown = None, 0
for line in open(sys.argv[1], errors="replace"):
    line = line.strip().lstrip("\u2502 ")  # Molecule frames Ansible's lines with a bar
    if line.startswith("TASK [") or line.startswith("PLAY ["):
        task = line.rstrip("* ")
    match = re.match(r"^(fatal|failed): \[([^\]]+)\].*?=> (\{.*\})$", line)
    if match:
        try:
            result = json.loads(match.group(3))
            message = result.get("msg") or result.get("stderr") or result.get("assertion") or match.group(3)
        except ValueError:
            message = match.group(3)
        print("    {0}\n      on {1}: {2}".format(task, match.group(2), " ".join(str(message).split())[:600]))
        shown += 1
if not shown:
    print("".join(open(sys.argv[1], errors="replace").readlines()[-15:]), end="")
PY
}

# What site.yml changed: the sum of changed= over the PLAY RECAP's hosts.
changed_count() {
    sed 's/^[[:space:]│]*//' "$1" | awk '/^PLAY RECAP/ {recap = 1; total = 0; next}
         recap && match($0, /changed=[0-9]+/) {total += substr($0, RSTART + 8, RLENGTH - 8)}
         END {print total + 0}'
}

# site.yml's log and its wall time in seconds, for a converge stage's log:
# the field scenario's site.yml runs on its controller host, which keeps the
# run's own log (its last line: "elapsed SECONDS"); else the stage's time.
site_log() {
    if [ "$scenario" = field ]; then echo ".cache/lab/field/$1.log"; else echo "$logs/$1.log"; fi
}
site_seconds() {
    awk -v fallback="$2" '/^elapsed [0-9.]+$/ {s = $2} END {printf "%d", s ? s : fallback}' "$1"
}

# stage LOG-NAME DESCRIPTION COMMAND... -> 0 when the command succeeded;
# sets stage_seconds.
stage() {
    local log="$logs/$1.log" description=$2 start=$SECONDS status
    shift 2
    printf '==> %-46s ' "$description"
    ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 PY_COLORS=0 "$@" >"$log" 2>&1
    status=$?
    stage_seconds=$((SECONDS - start))
    if [ "$status" -eq 0 ]; then
        printf 'ok      %4ds' "$stage_seconds"
    else
        printf 'FAILED  %4ds' "$stage_seconds"
    fi
    [ "$status" -eq 0 ] || { echo; show_failure "$log"; echo "    full log: $log"; }
    return "$status"
}

# converge LOG-NAME DESCRIPTION: run site.yml (Molecule's converge), then
# print what it changed; sets site_time (site.yml's own wall time).
converge() {
    local name=$1 description=$2
    FIELD_RUN_NAME=$name stage "$name" "$description" molecule converge -s "$scenario" || return 1
    site_time=$(site_seconds "$(site_log "$name")" "$stage_seconds")
    printf '   %s tasks changed\n' "$(changed_count "$(site_log "$name")")"
}

# Molecule's create runs the scenario's prepare too.
stage create "Start and prepare the lab's hosts" molecule create -s "$scenario" || exit 1
echo
converge site-first "Harden the lab with site.yml" || exit 1
first_time=$site_time
# A benchmark, not a test: the first run is the baseline.
converge site-again "Run site.yml again (nothing to change)" || exit 1
echo "    site.yml took ${first_time}s, then ${site_time}s: the run that changes nothing takes" \
     "$((100 * site_time / (first_time > 0 ? first_time : 1)))% of the first"
# verify.yml fails when a control fails; the summary says which.
stage audit "Audit the lab with verify.yml" molecule side-effect -s "$scenario"
audit=$?
[ "$audit" -ne 0 ] || echo
scripts/demo-summary.sh .cache/verify-report
echo "    full logs: $logs/{create,site-first,site-again,audit}.log$([ "$scenario" != field ] || echo ", .cache/lab/field/")"
exit "$audit"
