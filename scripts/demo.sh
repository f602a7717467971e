#!/usr/bin/env bash
# make demo: bring the lab up, harden it with site.yml, audit it with
# verify.yml. One line per stage with its time (and what site.yml changed);
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

# stage LOG-NAME DESCRIPTION COMMAND... -> 0 when the command succeeded
stage() {
    local log="$logs/$1.log" description=$2 start=$SECONDS status
    shift 2
    printf '==> %-46s ' "$description"
    ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 PY_COLORS=0 "$@" >"$log" 2>&1
    status=$?
    if [ "$status" -eq 0 ]; then
        printf 'ok      %4ds' $((SECONDS - start))
    else
        printf 'FAILED  %4ds' $((SECONDS - start))
    fi
    if [ "$1 $2" = "molecule converge" ]; then
        # The field scenario's site.yml runs on its controller host, which
        # keeps that run's own log.
        recap=$log
        [ "$scenario" != field ] || recap=.cache/lab/field/site-first.log
        printf '   %s tasks changed' "$(changed_count "$recap")"
    fi
    echo
    [ "$status" -eq 0 ] || { show_failure "$log"; echo "    full log: $log"; }
    return "$status"
}

# Molecule's create runs the scenario's prepare too.
stage create "Start and prepare the lab's hosts" molecule create -s "$scenario" || exit 1
stage converge "Harden the lab with site.yml" molecule converge -s "$scenario" || exit 1
# verify.yml fails when a control fails; the summary says which.
stage audit "Audit the lab with verify.yml" molecule side-effect -s "$scenario"
audit=$?
scripts/demo-summary.sh .cache/verify-report
echo "    full logs: $logs/{create,converge,audit}.log"
exit "$audit"
