#!/usr/bin/env bash
# Prove nfq_drop_tls.py works, on this machine, without the lab.
#
# Two network namespaces joined by a veth pair: aichtest-srv runs a TLS server
# (10.203.0.1, fd00:203::1), a plain HTTP server on port 443 (10.203.0.3,
# fd00:203::3), the nft rules that queue TCP 443 to queue 0 and the IPS;
# aichtest-cli runs curl. Needs root, nft, ip, curl, openssl, python3.
#
# usage: sudo tests/lab/ips/selftest.sh      (exit status 0 = every check passed)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IPS="$HERE/nfq_drop_tls.py"
SRV=aichtest-srv
CLI=aichtest-cli
TLS4=https://10.203.0.1/
TLS6="https://[fd00:203::1]/"
PLAIN4=http://10.203.0.3:443/
PLAIN6="http://[fd00:203::3]:443/"
WORK=$(mktemp -d /tmp/aichtest-ips.XXXXXX)
SERVER_PIDS=()
IPS_PID=""
FAILED=0

# Background jobs below call `ip netns exec` directly, not these functions:
# a function run with & is a subshell, and $! would be its PID, not the program's.
srv() { ip netns exec "$SRV" "$@"; }
cli() { ip netns exec "$CLI" "$@"; }

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    set +e
    [[ -z $IPS_PID ]] || kill "$IPS_PID" 2>/dev/null
    for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del "$SRV" 2>/dev/null
    ip netns del "$CLI" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- network: srv <-veth-> cli ------------------------------------------------
for ns in "$SRV" "$CLI"; do
    ip netns del "$ns" 2>/dev/null || true # left over from an interrupted run
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip link add aichtest-s netns "$SRV" type veth peer name aichtest-c netns "$CLI"
for addr in 10.203.0.1/24 10.203.0.3/24; do ip -n "$SRV" addr add "$addr" dev aichtest-s; done
for addr in fd00:203::1/64 fd00:203::3/64; do ip -n "$SRV" addr add "$addr" dev aichtest-s nodad; done
ip -n "$CLI" addr add 10.203.0.2/24 dev aichtest-c
ip -n "$CLI" addr add fd00:203::2/64 dev aichtest-c nodad
ip -n "$SRV" link set aichtest-s up
ip -n "$CLI" link set aichtest-c up

# --- servers ------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=aichtest \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
mkdir "$WORK/www"
echo hello >"$WORK/www/index.html"
# TLS server: the handshake runs in the handler thread (do_handshake_on_connect=False),
# so a client whose ClientHello was dropped cannot block accept() for the next one.
TLS_SERVER='
import http.server, socket, ssl, sys
addr, work = sys.argv[1], sys.argv[2]
class Handler(http.server.SimpleHTTPRequestHandler):
    timeout = 5
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=work + "/www", **kwargs)
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
server = Server((addr, 443), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(work + "/cert.pem", work + "/key.pem")
server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
server.serve_forever()
'
for addr in 10.203.0.1 fd00:203::1; do
    ip netns exec "$SRV" python3 -c "$TLS_SERVER" "$addr" "$WORK" 2>/dev/null &
    SERVER_PIDS+=($!)
done
for addr in 10.203.0.3 fd00:203::3; do
    ip netns exec "$SRV" python3 -m http.server 443 --bind "$addr" --directory "$WORK/www" >/dev/null 2>&1 &
    SERVER_PIDS+=($!)
done

# --- helpers ------------------------------------------------------------------
# check EXPECT NAME URL: EXPECT is "ok" or "fail"; curl gives up after 3 s.
check() {
    local expect=$1 name=$2 url=$3 rc=0 got
    cli curl -gsk --max-time 3 -o /dev/null "$url" || rc=$?
    if ((rc == 0)); then got=ok; elif ((rc == 28)); then got="fail (timeout)"; else got="fail (curl rc $rc)"; fi
    if [[ ${got%% *} == "$expect" ]]; then
        echo "  PASS  $name: $got"
    else
        echo "  FAIL  $name: expected $expect, got $got"
        FAILED=1
    fi
}

# expect_log PATTERN WHAT: the IPS log of this phase must contain PATTERN.
expect_log() {
    if grep -q -- "$1" "$WORK/ips.log"; then echo "  PASS  IPS log shows $2"; else
        echo "  FAIL  IPS log lacks $2"
        FAILED=1
    fi
}

# The kernel's view of queue 0 in the IPS namespace: "queue portid waiting copy_mode copy_range ...".
queue_line() { srv grep -E '^ +0 ' /proc/net/netfilter/nfnetlink_queue || true; }

start_ips() {
    ip netns exec "$SRV" python3 "$IPS" --queue 0 "$@" >"$WORK/ips.log" 2>&1 &
    IPS_PID=$!
    for _ in $(seq 50); do
        [[ -z $(queue_line) ]] || break
        sleep 0.1
    done
    echo "  IPS started ($*), kernel queue 0: $(queue_line)"
}

stop_ips() {
    local rc=0
    kill -TERM "$IPS_PID"
    wait "$IPS_PID" || rc=$?
    IPS_PID=""
    sed -n '1,4s/^/  | /p' "$WORK/ips.log" # banner and the first verdict lines ...
    if (($(wc -l <"$WORK/ips.log") > 4)); then echo "  | ..." && tail -1 "$WORK/ips.log" | sed 's/^/  | /'; fi
    if ((rc == 0)) && grep -q 'stopped, accepted' "$WORK/ips.log" && [[ -z $(queue_line) ]]; then
        echo "  PASS  SIGTERM: exit 0, counts printed, queue 0 unbound"
    else
        echo "  FAIL  SIGTERM: exit $rc, queue 0: '$(queue_line)'"
        FAILED=1
    fi
}

# This kernel may lack nft's native `queue` expression (CONFIG_NFT_QUEUE): then
# fall back to the xt NFQUEUE target through iptables-nft (nft_compat); nft
# lists that rule as `queue num 0` too. The bypass rules are native nft in both.
if srv nft -f - 2>/dev/null <<'EOF'; then QUEUE_IMPL=nft; else QUEUE_IMPL=xt; fi
table inet aichtest_probe {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 443 queue num 0
    }
}
EOF
srv nft flush ruleset
if [[ $QUEUE_IMPL == xt ]]; then
    echo "NOTE: this kernel has no nft 'queue' expression (CONFIG_NFT_QUEUE); using iptables-nft -j NFQUEUE"
    CHAINS_IN=("ip filter INPUT" "ip6 filter INPUT")
    CHAINS_OUT=("ip filter OUTPUT" "ip6 filter OUTPUT")
else
    CHAINS_IN=("inet aichtest_ips input")
    CHAINS_OUT=("inet aichtest_ips output")
fi

# queue_rules: TCP 443 in both directions to queue 0, no bypass flag.
queue_rules() {
    srv nft flush ruleset
    if [[ $QUEUE_IMPL == nft ]]; then
        srv nft -f - <<'EOF'
table inet aichtest_ips {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 443 queue num 0
    }
    chain output {
        type filter hook output priority 0; policy accept;
        tcp sport 443 queue num 0
    }
}
EOF
    else
        for tables in iptables-nft ip6tables-nft; do
            srv "$tables" -A INPUT -p tcp --dport 443 -j NFQUEUE --queue-num 0
            srv "$tables" -A OUTPUT -p tcp --sport 443 -j NFQUEUE --queue-num 0
        done
    fi
}

# bypass_rules: before the queue rules, mark the IPv4 TLS flow and let marked flows pass.
bypass_rules() {
    local chain
    for chain in "${CHAINS_IN[@]}" "${CHAINS_OUT[@]}"; do
        # shellcheck disable=SC2086 # "family table chain" splits on purpose
        srv nft insert rule $chain ct mark 0x10 accept
    done
    for chain in "${CHAINS_IN[@]}"; do
        [[ $chain == ip6* ]] && continue
        # shellcheck disable=SC2086
        srv nft insert rule $chain ip daddr 10.203.0.1 tcp dport 443 ct mark set ct mark or 0x10
    done
}

# --- the checks -----------------------------------------------------------------
echo "== 0. no rules: everything works"
for _ in $(seq 50); do # wait for the servers to listen
    cli curl -gsk --max-time 1 -o /dev/null "$TLS6" && cli curl -gs --max-time 1 -o /dev/null "$PLAIN6" && break
    sleep 0.1
done
check ok "TLS  IPv4" "$TLS4"
check ok "TLS  IPv6" "$TLS6"
check ok "HTTP IPv4 on 443" "$PLAIN4"
check ok "HTTP IPv6 on 443" "$PLAIN6"

echo "== 1. queue rules, no consumer: 'queue num 0' without bypass drops everything"
queue_rules
srv nft list ruleset 2>/dev/null | grep -E 'queue|table' | sed 's/^/  | /'
check fail "HTTP IPv4 on 443" "$PLAIN4"
check fail "TLS  IPv4" "$TLS4"

echo "== 2. IPS in drop mode: plain TCP passes, TLS handshakes die"
start_ips
check ok "HTTP IPv4 on 443" "$PLAIN4"
check ok "HTTP IPv6 on 443" "$PLAIN6"
check fail "TLS  IPv4" "$TLS4"
check fail "TLS  IPv6" "$TLS6"
expect_log 'drop TLS 10.203.0.2:[0-9]* -> 10.203.0.1:443' "IPv4 ClientHello drops"
expect_log 'drop TLS \[fd00:203::2\]:[0-9]* -> \[fd00:203::1\]:443' "IPv6 ClientHello drops"
stop_ips

echo "== 3. IPS --accept-all: the queue itself is harmless"
start_ips --accept-all
check ok "TLS  IPv4" "$TLS4"
check ok "TLS  IPv6" "$TLS6"
check ok "HTTP IPv4 on 443" "$PLAIN4"
expect_log 'pass TLS 10.203.0.2:[0-9]* -> 10.203.0.1:443' "the ClientHello went through the IPS"
expect_log 'pass TLS 10.203.0.1:443 -> 10.203.0.2:' "the ServerHello went through the IPS"
stop_ips

echo "== 4. IPS --port 8443: TLS on other ports is left alone"
start_ips --port 8443
check ok "TLS  IPv4" "$TLS4"
stop_ips

echo "== 5. bypass: 'ct mark 0x10 accept' before the queue, the IPv4 TLS flow marked"
bypass_rules
srv nft list ruleset 2>/dev/null | grep -E 'ct mark|queue|table' | sed 's/^/  | /'
start_ips
check ok "TLS  IPv4 (marked)" "$TLS4"
check fail "TLS  IPv6 (not marked, still dropped)" "$TLS6"
expect_log 'drop TLS \[fd00:203::2\]' "drops for the unmarked IPv6 flow"
if grep -q 'drop TLS 10.203.0.2' "$WORK/ips.log"; then
    echo "  FAIL  the marked IPv4 flow still reached the IPS"
    FAILED=1
else
    echo "  PASS  the marked IPv4 flow never reached the IPS"
fi
stop_ips

if ((FAILED)); then echo "selftest: FAILED"; else echo "selftest: all checks passed"; fi
exit "$FAILED"
