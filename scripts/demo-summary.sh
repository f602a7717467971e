#!/usr/bin/env bash
# After `make demo`: show, from inside the lab, what the hardening does.
set -uo pipefail
on_aihost() { docker exec aich-aihost "$@"; }
try_https() {  # try_https NAME PORT -> "allowed" or "refused"
    if on_aihost curl -s -o /dev/null -m 4 "https://$1:$2/" 2>/dev/null; then echo allowed; else echo refused; fi
}

echo
echo "==> the lab"
docker ps --filter name='^aich-' --format '{{.Names}}  {{.Status}}' | sed 's/^/    /'
echo "==> egress from aich-aihost (table inet aicontainers, default drop)"
for target in westus.api.cognitive.microsoft.com:443 anything.cognitiveservices.azure.com:443 \
              westus.api.cognitive.microsoft.com:8443 blocked.example.net:443 evilcognitive.microsoft.com:443; do
    printf '    %-45s %s\n' "$target" "$(try_https "${target%:*}" "${target##*:}")"
done
echo "    addresses dnsmasq has allowed so far: $(on_aihost nft list set inet aicontainers domains0_v4 \
    | grep -o 'elements = {[^}]*}' || echo none)"
echo "==> AI container replicas on aich-aihost (published on 127.0.0.1 only)"
on_aihost docker ps --format '{{.Names}}  {{.Ports}}' --filter label=org.aicontainers.hardening.kind | sed 's/^/    /'
for port in 5000 5001; do
    status=$(on_aihost curl -s -m 3 "http://127.0.0.1:$port/status" \
        | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["apiStatus"], "-", s["apiStatusMessage"])' 2>/dev/null)
    echo "    127.0.0.1:$port  ${status:-not answering}"
done
echo "==> metering calls the fake internet has recorded"
docker exec aich-internet curl -s https://westus.api.cognitive.microsoft.com/_lab/metering \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("    %d calls, last at %s from %s (SNI %s)" % (len(r), r[-1]["iso_time"], r[-1]["client"], r[-1]["sni"]) if r else "    none yet")'
echo
echo "The lab stays up for you to explore (docker exec -it aich-aihost bash); 'make clean' removes it."
