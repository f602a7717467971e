"""The egress audit's reading of a host: the live ruleset as nft -j JSON, the
resolver's file, the container networks, the engine's unit and the probes.

The fixtures were captured from the lab's aihost after egress_firewall ran
(``nft -j list table inet aicontainers``, /etc/aicontainers/policy.json and
/etc/dnsmasq.d/aicontainers.conf); each break below is the JSON nft prints
for the rule an attacker or an accident would leave behind.
"""

import copy
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import uuid

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit import (
    audit,
    chains_of,
    resolver_lines,
    sets_of,
    source_port_accepts,
    terminal_verdict,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit_accepts import open_accepts
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_probe import (
    PROBE_SCRIPT,
    boot_state,
    container_networks,
    derived_denied,
    gather,
    host_probes,
    probe_here,
    resolve_first,
    run_probes,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_proxy_probe import probe_proxy
from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import persist, replacement

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
RULESET = json.loads((FIXTURES / "egress_ruleset.json").read_text())
POLICY = json.loads((FIXTURES / "egress_policy.json").read_text())
RESOLVER = (FIXTURES / "egress_resolver.conf").read_text()
NETWORKS = [{"Name": "bridge", "Driver": "bridge"}, {"Name": "host", "Driver": "host"}]
REQUIRES = "aicontainers-firewall.service sysinit.target"
TABLE = """table inet aicontainers {
\tchain output {
\t\ttype filter hook output priority filter; policy drop;
\t\toif "lo" accept
\t}
}
"""
PROBES = [
    {"network": "bridge", "target": "westus.api.cognitive.microsoft.com:443", "expect": "allowed", "result": "ok"},
    {"network": "bridge", "target": "10.213.0.11:443", "expect": "denied", "result": "refused"},
]
NO_PROBES = object()
ANSWERS = [
    {"name": "westus.api.cognitive.microsoft.com", "expect": "answered", "answer": "NOERROR"},
    {"name": "aicontainers-audit.example.com", "expect": "refused", "answer": "REFUSED"},
]


def rows_by_id(probes=None, proxy_probes=None, **changes):
    """The audit's rows by ID, for the hardened host's state with some parts changed.

    ``probes`` defaults to PROBES; pass ``[]`` for "no probe ran" and
    ``NO_PROBES`` for "the audit was not asked to probe".
    """
    probes = PROBES if probes is None else None if probes is NO_PROBES else probes
    state = {
        "policy": POLICY,
        "ruleset": RULESET,
        "resolver_text": RESOLVER,
        "networks": NETWORKS,
        "engine_requires": REQUIRES,
        "firewall_active": True,
        "boot": {"checksum_ok": True, "drift": [], "error": ""},
        "resolver_answers": ANSWERS,
    }
    state.update(changes)
    return {r["id"]: r for r in audit(state, probes, proxy_probes)}


def failed(rows):
    return sorted(control_id for control_id, r in rows.items() if not r["passed"])


def rule(chain, *expr):
    return {"rule": {"family": "inet", "table": "aicontainers", "chain": chain, "expr": list(expr)}}


def match(left, right, op="=="):
    return {"match": {"op": op, "left": left, "right": right}}


SPORT_22 = {"payload": {"protocol": "tcp", "field": "sport"}}
ACCEPT = {"accept": None}


def with_rules(*rules):
    """The live ruleset with rules added (at the top of their chain, as `nft insert` would)."""
    ruleset = copy.deepcopy(RULESET)
    items = ruleset["nftables"]
    for new in reversed(rules):
        chain = new["rule"]["chain"]
        first = next(i for i, item in enumerate(items) if "rule" in item and item["rule"]["chain"] == chain)
        items.insert(first, new)
    return ruleset


def with_forward(policy, rules):
    """The live ruleset with the forward chain replaced."""
    ruleset = copy.deepcopy(RULESET)
    items = [i for i in ruleset["nftables"] if not ("rule" in i and i["rule"]["chain"] == "forward")]
    for item in items:
        if "chain" in item and item["chain"]["name"] == "forward":
            item["chain"]["policy"] = policy
    ruleset["nftables"] = items + rules
    return ruleset


def test_the_hardened_host_passes_every_control():
    rows = rows_by_id()
    assert failed(rows) == []
    assert sorted(rows) == ["AIC-EGRESS-0{0}".format(n) for n in range(1, 8)]
    assert "routed and container egress: reject unless allowed" in rows["AIC-EGRESS-01"]["evidence"]


def test_terminal_verdict_follows_the_unconditional_jump_to_container_egress():
    chains = chains_of(RULESET)
    assert terminal_verdict(chains, "forward") == "reject"
    assert terminal_verdict(chains, "output") == "reject"


# Before issue 12: policy accept, container_egress only for docker0 and br-*.
OLD_FORWARD = [
    rule("forward", match({"ct": {"key": "state"}}, ["established", "related"], "in"), ACCEPT),
    rule("forward", match({"meta": {"key": "iifname"}}, "docker0"), {"jump": {"target": "container_egress"}}),
    rule("forward", match({"meta": {"key": "iifname"}}, "br-*"), {"jump": {"target": "container_egress"}}),
]


def test_a_forward_chain_that_filters_named_bridges_only_is_not_default_deny():
    rows = rows_by_id(ruleset=with_forward("accept", OLD_FORWARD))
    assert failed(rows) == ["AIC-EGRESS-01"]
    assert "routed and container egress accept" in rows["AIC-EGRESS-01"]["evidence"]


def test_an_unconditional_accept_above_the_jump_opens_forwarding_even_with_policy_drop():
    rows = rows_by_id(ruleset=with_forward("drop", [rule("forward", {"counter": None}, ACCEPT)]))
    assert failed(rows) == ["AIC-EGRESS-01"]


def test_a_missing_table_fails_the_ruleset_controls():
    rows = rows_by_id(ruleset={"nftables": [{"metainfo": {"json_schema_version": 1}}]})
    assert failed(rows) == ["AIC-EGRESS-01", "AIC-EGRESS-02", "AIC-EGRESS-03"]
    assert rows["AIC-EGRESS-01"]["evidence"] == "table inet aicontainers is not loaded"


@pytest.mark.parametrize(
    "ports, named",
    [(22, "22"), ({"set": [22, 2222]}, "[22, 2222]")],
    ids=["single port", "set of ports"],
)
def test_accepting_by_source_port_alone_lets_new_connections_out(ports, named):
    ruleset = with_rules(rule("output", match(SPORT_22, ports), ACCEPT))
    rows = rows_by_id(ruleset=ruleset)
    # It also lets new connections out to any destination: AIC-EGRESS-01.
    assert failed(rows) == ["AIC-EGRESS-01", "AIC-EGRESS-02"]
    assert named in rows["AIC-EGRESS-02"]["evidence"]


@pytest.mark.parametrize(
    "ct, leaks",
    [
        (match({"ct": {"key": "direction"}}, "reply"), False),
        (match({"ct": {"key": "state"}}, "established", "in"), False),
        (match({"ct": {"key": "state"}}, ["new", "established"], "in"), True),
        (match({"ct": {"key": "direction"}}, "original"), True),
    ],
    ids=["ct direction reply", "ct state established", "ct state new", "ct direction original"],
)
def test_a_source_port_rule_is_safe_only_when_it_matches_replies(ct, leaks):
    ruleset = with_rules(rule("output", match(SPORT_22, 22), ct, ACCEPT))
    assert bool(source_port_accepts(chains_of(ruleset), "output")) is leaks


DADDR = {"payload": {"protocol": "ip", "field": "daddr"}}
DPORT = {"payload": {"protocol": "tcp", "field": "dport"}}
ANYWHERE = {"prefix": {"addr": "0.0.0.0", "len": 0}}


@pytest.mark.parametrize(
    "chain, added, seen",
    [
        ("output", rule("output", match(DADDR, ANYWHERE), ACCEPT), "output: ip daddr 0.0.0.0/0 accept"),
        ("container_egress", rule("container_egress", match(DADDR, ANYWHERE), ACCEPT), "ip daddr 0.0.0.0/0 accept"),
        ("container_egress", rule("container_egress", match(DADDR, "10.213.0.10"), match(DPORT, 53), ACCEPT),
         "ip daddr 10.213.0.10 tcp dport 53 accept"),
        ("output", rule("output", match(DPORT, {"set": [443, 8443]}), ACCEPT), "tcp dport { 443, 8443 } accept"),
        ("output", rule("output", match({"meta": {"key": "oifname"}}, "eth0"), ACCEPT), "meta oifname eth0 accept"),
        ("forward", rule("forward", match({"ct": {"key": "state"}}, ["new"], "in"), ACCEPT), "ct state new accept"),
        ("output", rule("output", match({"meta": {"key": "skuid"}}, 0), ACCEPT), "meta skuid 0 accept"),
        ("output", rule("output", match(DADDR, "@mine"), match(DPORT, 443), ACCEPT), "ip daddr @mine tcp dport 443"),
        ("output", rule("output", match(DADDR, "@internal_v4"), ACCEPT), "ip daddr @internal_v4 accept"),
        ("output", rule("output", match(DADDR, "@static_v4"), match(DPORT, 22), ACCEPT), "@static_v4 tcp dport 22"),
        ("container_egress", rule("container_egress", match(DADDR, "@dns_upstreams_v4"), match(DPORT, 53), ACCEPT),
         "ip daddr @dns_upstreams_v4 tcp dport 53 accept"),
        ("output", rule("output", match({"ct": {"key": "status"}}, "dnat", "in"), ACCEPT), "ct status dnat accept"),
        ("forward", rule("forward", match({"meta": {"key": "oifname"}}, "br-*"), ACCEPT), "meta oifname br-* accept"),
        ("forward", rule("forward", match({"fib": {"result": "oif", "flags": ["daddr", "iif"]}}, False), ACCEPT),
         "fib daddr . iif oif False accept"),
        ("output", rule("output", match({"payload": {"protocol": "icmpv6", "field": "type"}}, {"range": [128, 255]}),
                        ACCEPT), "icmpv6 type 128-255 accept"),
        ("output", rule("output", {"vmap": {"key": {"meta": {"key": "l4proto"}},
                                            "data": {"set": [["tcp", {"accept": None}], ["udp", {"drop": None}]]}}}),
         "output: vmap"),
        ("container_egress", rule("container_egress", {"queue": {"num": 0, "flags": ["bypass"]}}), "container_egress"),
    ],
    ids=["anywhere from the host", "anywhere from containers", "the upstream resolver from containers",
         "a port to any address", "an uplink", "new forwarded connections", "a uid outside names mode",
         "a set the policy does not fill", "a policy set on any port", "a policy set on another port",
         "the upstream resolver from containers by its set", "dnat flows from the host", "a bridge as a way out",
         "fib missing", "a range of icmpv6 types", "a verdict map", "a queue with bypass"],
)
def test_an_accept_rule_with_a_match_that_bounds_no_destination_fails_default_deny(chain, added, seen):
    rows = rows_by_id(ruleset=with_rules(added))
    assert failed(rows) == ["AIC-EGRESS-01"]
    assert seen in rows["AIC-EGRESS-01"]["evidence"]
    assert "accepted whatever the destination" in rows["AIC-EGRESS-01"]["evidence"]


def test_a_jump_under_a_bounding_match_bounds_the_chain_it_enters_and_an_unbounded_one_does_not():
    entry = {"chain": {"family": "inet", "table": "aicontainers", "name": "extra", "hook": None}}
    inside = rule("extra", ACCEPT)
    bounded = with_rules(rule("output", match(DADDR, "@static_v4"), match(DPORT, 443), {"jump": {"target": "extra"}}))
    bounded["nftables"] += [entry, inside]
    assert failed(rows_by_id(ruleset=bounded)) == []
    unbounded = with_rules(rule("output", match(DPORT, 443), {"jump": {"target": "extra"}}))
    unbounded["nftables"] += [entry, inside]
    assert "output: tcp dport 443 jump extra" not in rows_by_id(ruleset=unbounded)["AIC-EGRESS-01"]["evidence"]
    assert "extra: accept" in rows_by_id(ruleset=unbounded)["AIC-EGRESS-01"]["evidence"]


def test_without_a_policy_default_deny_is_unverified_not_passed():
    rows = rows_by_id(policy=None, ruleset=with_rules(rule("output", match(DADDR, ANYWHERE), ACCEPT)))
    assert not rows["AIC-EGRESS-01"]["passed"]
    assert "unverified: no policy" in rows["AIC-EGRESS-01"]["evidence"]


def test_the_proxy_address_bounds_only_its_own_port():
    proxy_policy = dict(POLICY, proxy={"v4": ["10.213.0.40"], "v6": [], "port": 3128})
    chains = chains_of(with_rules(rule("output", match(DADDR, "10.213.0.40"), match(DPORT, 3128), ACCEPT)))
    assert open_accepts(chains, proxy_policy) == []
    chains = chains_of(with_rules(rule("output", match(DADDR, "10.213.0.40"), match(DPORT, 22), ACCEPT)))
    assert open_accepts(chains, proxy_policy) == ["output: ip daddr 10.213.0.40 tcp dport 22 accept"]


def test_the_hardened_tables_accept_rules_are_all_bounded():
    for fixture in ("egress", "egress_frontends", "egress_names"):
        ruleset = json.loads((FIXTURES / (fixture + "_ruleset.json")).read_text())
        policy = json.loads((FIXTURES / (fixture + "_policy.json")).read_text())
        assert open_accepts(chains_of(ruleset), policy) == [], fixture


def drop_items(predicate):
    ruleset = copy.deepcopy(RULESET)
    ruleset["nftables"] = [item for item in ruleset["nftables"] if not predicate(item)]
    return ruleset


def test_a_missing_set_fails_the_destinations_control():
    rows = rows_by_id(ruleset=drop_items(lambda i: i.get("set", {}).get("name") == "domains0_v6"))
    assert failed(rows) == ["AIC-EGRESS-03"]
    assert "domains0_v6 missing" in rows["AIC-EGRESS-03"]["evidence"]


def test_a_set_no_rule_allows_fails_the_destinations_control():
    def allows_domains(item):
        return "rule" in item and "@domains0_v4" in json.dumps(item)

    rows = rows_by_id(ruleset=drop_items(allows_domains))
    assert failed(rows) == ["AIC-EGRESS-03"]
    assert "no rule allows @domains0_v4" in rows["AIC-EGRESS-03"]["evidence"]


def test_a_resolver_that_fills_no_set_fails_the_destinations_control():
    resolver = "\n".join(line for line in RESOLVER.splitlines() if not line.startswith("nftset="))
    rows = rows_by_id(resolver_text=resolver)
    assert failed(rows) == ["AIC-EGRESS-03"]
    assert "the resolver does not fill domains0_v4" in rows["AIC-EGRESS-03"]["evidence"]


@pytest.mark.parametrize(
    "extra, evidence",
    [
        ("server=10.213.0.10", "forwards every name to 10.213.0.10"),
        ("server=/attacker.example/10.213.0.10", "forwards names outside the list: attacker.example"),
    ],
    ids=["default upstream", "unlisted domain"],
)
def test_a_resolver_forwarding_unlisted_names_fails_the_dns_control(extra, evidence):
    rows = rows_by_id(resolver_text=RESOLVER + extra + "\n")
    assert failed(rows) == ["AIC-EGRESS-04"]
    assert evidence in rows["AIC-EGRESS-04"]["evidence"]


def test_a_missing_resolver_file_fails_the_dns_and_destination_controls():
    rows = rows_by_id(resolver_text=None)
    assert failed(rows) == ["AIC-EGRESS-03", "AIC-EGRESS-04"]


def test_without_the_policy_artefact_the_policy_controls_fail_and_the_rest_still_judge():
    rows = rows_by_id(policy=None)
    # Default deny too: its accept rules have nothing to be judged by.
    assert failed(rows) == ["AIC-EGRESS-01", "AIC-EGRESS-03", "AIC-EGRESS-04"]


def test_resolver_lines_ignore_comments_and_read_every_value():
    assert resolver_lines("# server=1.1.1.1\nserver=/a.example/10.0.0.1\n server = 10.0.0.2\n", "server") == [
        "/a.example/10.0.0.1",
        "10.0.0.2",
    ]


@pytest.mark.parametrize("driver", ["macvlan", "ipvlan"])
def test_a_network_the_host_cannot_filter_fails_its_control(driver):
    rows = rows_by_id(networks=[*NETWORKS, {"Name": "lan", "Driver": driver}])
    assert failed(rows) == ["AIC-EGRESS-05"]
    assert "lan ({0})".format(driver) in rows["AIC-EGRESS-05"]["evidence"]


@pytest.mark.parametrize(
    "requires, active, evidence",
    [
        ("sysinit.target", True, "does not require"),
        (REQUIRES, False, "is not active"),
    ],
    ids=["engine does not require the firewall", "firewall unit not active"],
)
def test_the_boot_control_needs_the_requirement_and_an_active_firewall(requires, active, evidence):
    rows = rows_by_id(engine_requires=requires, firewall_active=active)
    assert failed(rows) == ["AIC-EGRESS-06"]
    assert evidence in rows["AIC-EGRESS-06"]["evidence"]


@pytest.mark.parametrize(
    "boot, evidence",
    [
        ({"checksum_ok": False, "drift": [], "error": ""}, "its checksum does not match"),
        ({"checksum_ok": True, "drift": ["chain output's rules: changed"], "error": ""}, "differs from the live one"),
        ({"checksum_ok": False, "drift": None, "error": "No such file or directory"}, "does not load (No such file"),
        (None, "does not load (not checked)"),
    ],
    ids=["checksum", "persisted table differs", "no file", "not observed"],
)
def test_the_boot_control_loads_the_persisted_table_and_compares_it_with_the_live_one(boot, evidence):
    rows = rows_by_id(boot=boot)
    assert failed(rows) == ["AIC-EGRESS-06"]
    assert evidence in rows["AIC-EGRESS-06"]["evidence"]


@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "nft", "unshare", "sha256sum")),
    reason="needs root, nft and unshare",
)
def test_boot_state_loads_the_file_the_boot_would_load(tmp_path):
    namespace = "aichunit-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", namespace], check=True)

    def run(argv):
        done = subprocess.run(["ip", "netns", "exec", namespace, *argv], capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    try:
        path = str(tmp_path / "firewall.nft")
        persist(path, replacement(TABLE, "inet", "aicontainers"))
        assert run(["nft", "-f", path])[0] == 0
        live = run(["nft", "-j", "list", "table", "inet", "aicontainers"])[1]
        assert boot_state(run, live, path) == {"checksum_ok": True, "drift": [], "error": ""}
        # The caller's own text listing serves as well as one read here.
        text = run(["nft", "-s", "list", "table", "inet", "aicontainers"])[1]
        assert boot_state(run, live, path, live_text=text) == {"checksum_ok": True, "drift": [], "error": ""}
        run(["nft", "flush chain inet aicontainers output"])
        flushed = run(["nft", "-j", "list", "table", "inet", "aicontainers"])[1]
        assert boot_state(run, flushed, path)["drift"] == ["chain output's rules: changed"]
        (tmp_path / "firewall.nft").write_text("")
        assert boot_state(run, live, path)["checksum_ok"] is False
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


@pytest.mark.parametrize(
    "result_of_denied",
    ["ok", "probe failed: Unable to find image"],
    ids=["denied destination answers", "probe could not run"],
)
def test_a_probe_that_reaches_a_denied_destination_or_cannot_run_fails(result_of_denied):
    probes = [dict(PROBES[0]), dict(PROBES[1], network="anything", result=result_of_denied)]
    rows = rows_by_id(probes=probes)
    assert failed(rows) == ["AIC-EGRESS-07"]
    assert "anything: 10.213.0.11:443 " + result_of_denied in rows["AIC-EGRESS-07"]["evidence"]


def test_no_probe_at_all_is_a_failed_row_and_no_probe_option_means_no_row():
    assert failed(rows_by_id(probes=[])) == ["AIC-EGRESS-07"]
    assert "AIC-EGRESS-07" not in rows_by_id(probes=NO_PROBES)


class FakeHost:
    """A command runner answering like a host; records what was run."""

    def __init__(self, answers):
        self.answers, self.ran = answers, []

    def __call__(self, argv):
        self.ran.append(argv)
        for prefix, answer in self.answers.items():
            if argv[: len(prefix.split())] == prefix.split():
                return answer
        return 1, "", "not found"


def test_gather_reads_the_live_state_and_tolerates_a_host_without_docker(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    host = FakeHost(
        {
            "nft -j list table inet aicontainers": (0, json.dumps(RULESET), ""),
            "systemctl show": (0, REQUIRES + "\n", ""),
            "systemctl is-active": (0, "", ""),
        }
    )
    state = gather(host, str(policy), str(tmp_path / "missing.conf"))
    assert state["policy"] == POLICY and state["ruleset"] == RULESET
    assert state["resolver_text"] is None and state["networks"] == [] and state["firewall_active"]


def test_container_networks_come_from_docker_network_inspect():
    inspect = [
        {
            "Name": "anynet",
            "Driver": "bridge",
            "Internal": False,
            "Options": {"com.docker.network.bridge.name": "anything"},
            "IPAM": {"Config": [{"Subnet": "172.19.0.0/16", "Gateway": "172.19.0.1"}, {"Subnet": "fd00::/64"}]},
        }
    ]
    host = FakeHost({"docker network ls": (0, "abc\n", ""), "docker network inspect": (0, json.dumps(inspect), "")})
    expected = {key: inspect[0][key] for key in ("Name", "Driver", "Internal", "Options")}
    assert container_networks(host) == [dict(expected, Gateways=["172.19.0.1"])]
    assert host.ran[-1] == ["docker", "network", "inspect", "abc"]


def test_run_probes_runs_one_container_per_attachable_network_and_reports_every_target():
    line = json.dumps({"target": "a.example:443", "result": "ok"})
    host = FakeHost({"timeout": (0, line + "\n", "")})
    networks = [{"Name": "bridge", "Driver": "bridge"}, {"Name": "host", "Driver": "host"}]
    probes = run_probes(host, "probe:1", networks, ["a.example:443"], ["10.0.0.1:443"])
    assert len(host.ran) == 1 and "--network" in host.ran[0] and "bridge" in host.ran[0]
    assert probes[0] == {"network": "bridge", "target": "a.example:443", "expect": "allowed", "result": "ok"}
    assert probes[1]["result"].startswith("probe failed")


def test_the_probe_script_tries_every_target_and_answers_in_argv_order():
    # The script as the probe container runs it, against this machine's loopback.
    listener = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))
    open_port, closed_port = listener.getsockname()[1], closed.getsockname()[1]
    closed.close()
    targets = ["127.0.0.1:{0}".format(closed_port), "127.0.0.1:{0}".format(open_port)] * 2
    try:
        out = subprocess.run(
            [sys.executable, "-c", PROBE_SCRIPT, *targets], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    finally:
        listener.close()
    assert [json.loads(line) for line in out.splitlines()] == [
        {"target": target, "result": "refused" if index % 2 == 0 else "ok"} for index, target in enumerate(targets)
    ]


def test_an_internal_network_is_only_probed_with_the_denied_targets():
    host = FakeHost({"timeout": (0, json.dumps({"target": "10.0.0.1:443", "result": "refused"}), "")})
    probes = run_probes(
        host, "probe:1", [{"Name": "back", "Driver": "bridge", "Internal": True}], ["a.example:443"], ["10.0.0.1:443"]
    )
    assert probes == [
        {"network": "back", "target": "10.0.0.1:443", "expect": "denied", "result": "refused", "internal": True}
    ]
    # Its negatives need no positive control: nothing outside may answer there.
    assert failed(rows_by_id(probes=PROBES + probes)) == []


@pytest.mark.parametrize(
    "result, passes",
    [("refused", True), ("unreachable", True), ("timeout", True), ("dropped-locally", True),
     ("ok", False), ("no-route", False), ("dns-error", False), ("error: Address family not supported", False),
     ("probe failed: rc 125", False)],
)
def test_a_denied_target_passes_only_when_its_refusal_is_observed(result, passes):
    rows = rows_by_id(probes=[PROBES[0], dict(PROBES[1], result=result)])
    assert failed(rows) == ([] if passes else ["AIC-EGRESS-07"])
    if not passes and result != "ok":
        assert "unverified: no refusal observed" in rows["AIC-EGRESS-07"]["evidence"]


def test_a_vantage_point_with_positives_only_is_unverified():
    rows = rows_by_id(probes=[*PROBES, dict(PROBES[0], network="host (root)")])
    assert failed(rows) == ["AIC-EGRESS-07"]
    assert "host (root): unverified, no denied destination was tried" in rows["AIC-EGRESS-07"]["evidence"]


def test_a_vantage_point_with_negatives_only_is_unverified():
    only_denied = [dict(PROBES[1], network="host (nobody)")]
    rows = rows_by_id(probes=PROBES + only_denied)
    assert failed(rows) == ["AIC-EGRESS-07"]
    assert "host (nobody): unverified, no allowed destination was tried" in rows["AIC-EGRESS-07"]["evidence"]


def test_an_allowed_target_that_does_not_answer_fails_the_probe_row():
    rows = rows_by_id(probes=[dict(PROBES[0], result="timeout"), PROBES[1]])
    assert failed(rows) == ["AIC-EGRESS-07"]
    assert "timeout (expected to answer)" in rows["AIC-EGRESS-07"]["evidence"]


def test_host_probes_run_as_root_and_as_nobody_with_the_given_python():
    line = "\n".join(json.dumps({"target": t, "result": r}) for t, r in (("a:443", "ok"), ("b:443", "refused")))
    host = FakeHost({"timeout": (0, line, "")})
    probes = host_probes(host, "/usr/bin/python3", ["a:443"], ["b:443"])
    assert [p["network"] for p in probes] == ["host (root)"] * 2 + ["host (nobody)"] * 2
    assert host.ran[0][2:4] == ["/usr/bin/python3", "-c"]
    setpriv = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
    assert host.ran[1][2:9] == [*setpriv, "/usr/bin/python3"]
    assert probes[1] == {"network": "host (root)", "target": "b:443", "expect": "denied", "result": "refused"}
    assert host_probes(host, "python3", [], []) == []


def test_the_derived_denied_targets_are_the_upstream_resolver_unless_the_policy_allows_it():
    assert derived_denied(POLICY) == {
        "host": ["10.213.0.10:443", "10.213.0.10:8443"],
        "containers": ["10.213.0.10:443", "10.213.0.10:8443", "10.213.0.10:53"],
    }
    allowing = dict(POLICY, static_v4=["10.213.0.0/24"], static_ports=[443])
    assert derived_denied(allowing) == {
        "host": ["10.213.0.10:8443"],
        "containers": ["10.213.0.10:8443", "10.213.0.10:53"],
    }
    assert derived_denied(dict(POLICY, dns_upstreams_v4=[], dns_upstreams_v6=["fd00:53::53"]))["host"] == [
        "[fd00:53::53]:443",
        "[fd00:53::53]:8443",
    ]
    assert derived_denied(None) == {"host": [], "containers": []}


def test_a_metering_address_in_its_live_set_is_no_derived_target_on_the_metering_port():
    ruleset = copy.deepcopy(RULESET)
    for item in ruleset["nftables"]:
        if item.get("set", {}).get("name") == "domains0_v4":
            item["set"]["elem"] = [{"elem": {"val": "10.213.0.10", "timeout": 3600, "expires": 3500}}]
    assert derived_denied(POLICY, sets_of(ruleset))["host"] == ["10.213.0.10:8443"]


@pytest.mark.parametrize(
    "answers, evidence",
    [
        ([dict(ANSWERS[0], answer="no answer (timed out)"), dict(ANSWERS[1], answer="no answer (timed out)")],
         "westus.api.cognitive.microsoft.com (allowed) got no answer (timed out)"),
        ([ANSWERS[0], dict(ANSWERS[1], answer="NOERROR")], "aicontainers-audit.example.com (not allowed) got NOERROR"),
        ([dict(ANSWERS[0], answer="SERVFAIL"), ANSWERS[1]], "(allowed) got SERVFAIL"),
        ([ANSWERS[1]], "unverified: no allowed name was asked"),
        ([], "unverified: no allowed name was asked"),
    ],
    ids=["resolver stopped", "forwards every name", "upstream unreachable", "no positive control", "not asked"],
)
def test_the_resolver_row_judges_the_resolvers_answers(answers, evidence):
    rows = rows_by_id(resolver_answers=answers)
    assert failed(rows) == ["AIC-EGRESS-04"]
    assert evidence in rows["AIC-EGRESS-04"]["evidence"]


def test_in_names_mode_each_network_must_reach_the_name_proxy_on_its_own_gateway():
    host = FakeHost({"timeout": (0, "", "")})
    networks = [
        {"Name": "bridge", "Driver": "bridge", "Gateways": ["fd00::1", "172.17.0.1"]},
        {"Name": "anynet", "Driver": "bridge", "Gateways": ["172.19.0.1"]},
        {"Name": "back", "Driver": "bridge", "Internal": True, "Gateways": ["172.20.0.1"]},
    ]
    probes = run_probes(host, "probe:1", networks, [], ["westus.example:443"], name_proxy_port=3128)
    assert [(p["network"], p["target"], p["expect"]) for p in probes] == [
        ("bridge", "172.17.0.1:3128", "allowed"),
        ("bridge", "westus.example:443", "denied"),
        ("anynet", "172.19.0.1:3128", "allowed"),
        ("anynet", "westus.example:443", "denied"),
        ("back", "westus.example:443", "denied"),
    ]


PROXY = {"v4": ["10.213.0.40"], "v6": [], "port": 3128}
PROXY_PROBES = [
    {
        "target": "westus.api.cognitive.microsoft.com:443",
        "sni": "westus.api.cognitive.microsoft.com",
        "expect": "allowed",
        "result": "ok",
    },
    {
        "target": "blocked.example.net:443",
        "sni": "blocked.example.net",
        "expect": "denied",
        "result": "the proxy 10.213.0.40:3128 closed the connection without answering CONNECT blocked.example.net:443",
    },
    {
        "target": "westus.api.cognitive.microsoft.com:443",
        "sni": "blocked.example.net",
        "expect": "denied",
        "result": "westus.api.cognitive.microsoft.com:443 (through the proxy 10.213.0.40:3128) closed the connection "
        "during the TLS handshake",
    },
]


def test_in_proxy_mode_the_proxy_rule_is_checked_and_the_proxy_is_asked_what_it_lets_through():
    policy = dict(POLICY, proxy={"v4": ["10.213.0.40"], "v6": [], "port": 3128})
    proxied = with_rules(
        rule(
            "output",
            match({"payload": {"protocol": "ip", "field": "daddr"}}, "10.213.0.40"),
            match({"payload": {"protocol": "tcp", "field": "dport"}}, 3128),
            ACCEPT,
        )
    )
    rows = rows_by_id(policy=policy, ruleset=proxied, proxy_probes=PROXY_PROBES)
    assert failed(rows) == []
    assert "only the proxy 10.213.0.40:3128 (what it lets through: AIC-EGRESS-08)" in rows["AIC-EGRESS-03"]["evidence"]
    assert "no rule allows the proxy" in rows_by_id(policy=policy)["AIC-EGRESS-03"]["evidence"]


def test_a_proxy_never_asked_for_a_refused_destination_is_an_unverified_failed_row():
    rows = rows_by_id(policy=dict(POLICY, proxy=PROXY), proxy_probes=[PROXY_PROBES[0]])
    assert not rows["AIC-EGRESS-08"]["passed"]
    assert "its own policy is unverified" in rows["AIC-EGRESS-08"]["evidence"]
    assert "AIC-EGRESS-08" not in rows_by_id()


def test_a_proxy_that_opens_a_tunnel_whose_handshake_names_another_host_fails_the_row():
    bumped = [*PROXY_PROBES[:2], dict(PROXY_PROBES[2], result="ok")]
    row = rows_by_id(policy=dict(POLICY, proxy=PROXY), proxy_probes=bumped)["AIC-EGRESS-08"]
    assert not row["passed"]
    assert row["evidence"] == (
        "westus.api.cognitive.microsoft.com:443 (TLS name blocked.example.net) ok (expected denied)"
    )


def test_the_proxy_is_asked_for_a_refused_name_and_for_an_allowed_name_with_a_refused_handshake_name():
    asked = []
    results = probe_proxy(
        ("10.0.0.5", 3128),
        ["meter.example:443"],
        ["evil.example:443"],
        tunnel=lambda proxy, target, sni: asked.append((proxy, target, sni)) or "ok",
    )
    assert asked == [
        (("10.0.0.5", 3128), "meter.example:443", None),
        (("10.0.0.5", 3128), "evil.example:443", None),
        (("10.0.0.5", 3128), "meter.example:443", "evil.example"),
    ]
    assert [(r["sni"], r["expect"]) for r in results] == [
        ("meter.example", "allowed"),
        ("evil.example", "denied"),
        ("evil.example", "denied"),
    ]


def test_probe_here_tries_the_targets_from_this_host_with_the_given_python():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run(argv):
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        return done.returncode, done.stdout, done.stderr

    try:
        results = probe_here(run, sys.executable, ["127.0.0.1:{0}".format(port), "no-such-name.invalid:443"])
    finally:
        listener.close()
    assert results == [
        {"target": "127.0.0.1:{0}".format(port), "result": "ok", "refusal": False},
        {"target": "no-such-name.invalid:443", "result": "dns-error", "refusal": False},
    ]
    assert probe_here(lambda argv: (127, "", "python3: not found"), "python3", ["a:1"]) == [
        {"target": "a:1", "result": "probe failed: python3: not found", "refusal": False}
    ]
    timed_out = json.dumps({"target": "a:1", "result": "timeout"})
    assert probe_here(lambda argv: (0, timed_out, ""), "python3", ["a:1"])[0]["refusal"] is True
    # From another host, its own firewall's drop says nothing about the host audited.
    dropped = json.dumps({"target": "a:1", "result": "dropped-locally"})
    assert probe_here(lambda argv: (0, dropped, ""), "python3", ["a:1"])[0]["refusal"] is False


def test_resolve_first_looks_names_up_and_skips_what_does_not_resolve():
    resolve_first(["localhost:443", "no-such-name.invalid:443", "[::1]:5000", "a" * 300 + ":1"])
