"""AIC-EGRESS-09: ports published beyond loopback admit only the frontends.

The fixtures are the role's template rendered with frontend ports 5000, 5001
for 10.213.0.20, loaded by nft 1.0.6 in a network namespace of its own and
listed with ``nft -j``; each break is what nft prints for the change an
attacker or an accident would make.
"""

import copy
import json
import pathlib

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit import audit

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
RULESET = json.loads((FIXTURES / "egress_frontends_ruleset.json").read_text())
POLICY = json.loads((FIXTURES / "egress_frontends_policy.json").read_text())


def frontends_row(ruleset=RULESET, policy=POLICY):
    state = {
        "policy": policy,
        "ruleset": ruleset,
        "resolver_text": "",
        "networks": [],
        "engine_requires": "",
        "firewall_active": True,
        "boot": {"checksum_ok": True, "drift": [], "error": ""},
    }
    return next(r for r in audit(state) if r["id"] == "AIC-EGRESS-09")


def without(ruleset, keep):
    broken = copy.deepcopy(ruleset)
    broken["nftables"] = [item for item in broken["nftables"] if keep(item)]
    return broken


def guard_rule(item):
    return "rule" in item and item["rule"]["chain"] == "frontend_guard"


def test_the_rendered_guard_passes():
    result = frontends_row()
    assert result["passed"], result["evidence"]
    assert result["evidence"] == (
        "port(s) 5000, 5001: only loopback and 10.213.0.20 pass, every other source is dropped before Docker's DNAT"
    )


def test_no_guard_chain_fails():
    broken = without(
        RULESET, lambda item: not guard_rule(item) and item.get("chain", {}).get("name") != "frontend_guard"
    )
    assert frontends_row(broken)["evidence"].startswith("nothing drops port(s) 5000, 5001")


def test_a_guard_without_its_drop_fails():
    broken = without(RULESET, lambda item: not (guard_rule(item) and any("drop" in s for s in item["rule"]["expr"])))
    result = frontends_row(broken)
    assert not result["passed"]
    assert "nothing drops port(s) 5000, 5001" in result["evidence"]


def test_an_accept_for_any_source_above_the_drop_fails():
    broken = copy.deepcopy(RULESET)
    accept_any = {
        "rule": {
            "family": "inet",
            "table": "aicontainers",
            "chain": "frontend_guard",
            "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 5000}},
                {"accept": None},
            ],
        }
    }
    broken["nftables"].append(accept_any)
    assert "a prerouting rule accepts port(s) 5000 for other sources" in frontends_row(broken)["evidence"]


@pytest.mark.parametrize(
    "elements", [[], ["10.213.0.20", "10.213.0.30"], [{"prefix": {"addr": "10.213.0.0", "len": 24}}]]
)
def test_a_frontend_set_other_than_intended_fails(elements):
    broken = copy.deepcopy(RULESET)
    for item in broken["nftables"]:
        if item.get("set", {}).get("name") == "frontends_v4":
            item["set"]["elem"] = elements
    result = frontends_row(broken)
    assert not result["passed"]
    assert "frontends_v4 holds" in result["evidence"]


def test_no_frontend_ports_no_row():
    policy = dict(POLICY, frontend_ports=[])
    state = {
        "policy": policy,
        "ruleset": RULESET,
        "resolver_text": "",
        "networks": [],
        "engine_requires": "",
        "firewall_active": True,
        "boot": {"checksum_ok": True, "drift": [], "error": ""},
    }
    assert "AIC-EGRESS-09" not in {r["id"] for r in audit(state)}
