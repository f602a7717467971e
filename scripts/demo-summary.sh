#!/usr/bin/env bash
# After `make demo`: show, from inside the lab, that it works.
set -euo pipefail
name=westus.api.cognitive.microsoft.com
echo
echo "==> the lab (docker ps --filter name=aich-)"
docker ps --filter name='^aich-' --format '  {{.Names}}\t{{.Status}}'
echo "==> aihost resolves $name through the lab DNS"
docker exec aich-aihost getent ahostsv4 "$name" | head -1 | sed 's/^/  /'
echo "==> the stand-in AI container on aihost's loopback (/status)"
docker exec aich-aihost curl -s http://127.0.0.1:5000/status | sed 's/^/  /'; echo
echo "==> metering calls the fake internet has recorded"
docker exec aich-internet curl -s https://"$name"/_lab/metering \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  %d calls, last at %s from %s (SNI %s)" % (len(r), r[-1]["iso_time"], r[-1]["client"], r[-1]["sni"]) if r else "  none yet")'
echo
echo "The lab stays up for you to explore (docker exec -it aich-aihost bash); 'make clean' removes it."
