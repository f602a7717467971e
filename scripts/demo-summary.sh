#!/usr/bin/env bash
# After `make demo`: the per-control result of playbooks/verify.yml, and where
# the full report (JSON, Markdown, HTML, JUnit XML) is.
set -uo pipefail
report_dir=${1:-.cache/verify-report}

echo
echo "==> the lab"
docker ps --filter name='^aich-' --format '{{.Names}}  {{.Status}}' | sed 's/^/    /'
echo "==> every control, as playbooks/verify.yml found it"
python3 - "$report_dir/verify-report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for row in report["controls"]:
    print("    {0:<5} {1:<17} {2:<12} {3:<52} {4}".format(
        "pass" if row["passed"] else "FAIL", row["id"], row["host"], row["control"][:52],
        " ".join(row["evidence"].split())[:60]))
print("    {0} passed, {1} failed".format(report["passed"], report["failed"]))
PY
echo "==> the report: $report_dir/verify-report.{json,md,html,junit.xml}"
echo
echo "The lab stays up for you to explore (docker exec -it <name> bash, names above); 'make clean' removes it."
