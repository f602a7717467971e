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
    source_port_accepts,
    terminal_verdict,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_probe import (
    PROBE_SCRIPT,
    boot_state,
    container_networks,
    gather,
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
    assert failed(rows) == ["AIC-EGRESS-02"]
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
    assert failed(rows) == ["AIC-EGRESS-03", "AIC-EGRESS-04"]


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
    assert probes == [{"network": "back", "target": "10.0.0.1:443", "expect": "denied", "result": "refused"}]


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
