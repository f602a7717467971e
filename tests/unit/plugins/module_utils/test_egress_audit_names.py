"""AIC-EGRESS-03 in names mode, from state captured on the lab's aihost after
egress_firewall ran with egress_firewall_name_check and one pinned name
(``nft -j list table inet aicontainers``, policy.json, the proxy's squid.conf).
"""

import copy
import json
import pathlib

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit import audit
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit_names import proxy_user
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_probe import gather

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
RULESET = json.loads((FIXTURES / "egress_names_ruleset.json").read_text())
POLICY = json.loads((FIXTURES / "egress_names_policy.json").read_text())
PROXY_CONF = (FIXTURES / "egress_names_proxy.conf").read_text()
RESOLVER = (FIXTURES / "egress_names_resolver.conf").read_text()
PROXY_UID = 997


def row_03(ruleset=RULESET, **proxy_changes):
    name_proxy = dict({"conf_text": PROXY_CONF, "uid": PROXY_UID, "active": True}, **proxy_changes)
    state = {
        "policy": POLICY,
        "ruleset": ruleset,
        "resolver_text": RESOLVER,
        "networks": [],
        "engine_requires": "aicontainers-firewall.service",
        "firewall_active": True,
        "boot": {"checksum_ok": True, "drift": [], "error": ""},
        "name_proxy": name_proxy,
    }
    return next(r for r in audit(state) if r["id"] == "AIC-EGRESS-03")


def with_output_rule(*expr):
    ruleset = copy.deepcopy(RULESET)
    items = ruleset["nftables"]
    first = next(i for i, item in enumerate(items) if "rule" in item and item["rule"]["chain"] == "output")
    items.insert(first, {"rule": {"family": "inet", "table": "aicontainers", "chain": "output", "expr": list(expr)}})
    return ruleset


def test_the_hardened_host_passes_and_says_what_the_proxy_allows():
    result = row_03()
    assert result["passed"], result["evidence"]
    assert "only uid 997 (aicontainers-proxy)" in result["evidence"]
    assert "westus.api.cognitive.microsoft.com" in result["evidence"]


def test_another_user_let_out_fails():
    root = {"match": {"op": "==", "left": {"meta": {"key": "skuid"}}, "right": 0}}
    result = row_03(with_output_rule(root, {"accept": None}))
    assert not result["passed"] and "uid(s) 0 are let out as well" in result["evidence"]


def test_a_proxy_that_splices_without_the_server_name_fails():
    conf = PROXY_CONF.replace("ssl_bump splice aich_names0 aich_names0_sni", "ssl_bump splice aich_names0")
    assert not row_03(conf_text=conf)["passed"]


def test_a_proxy_that_allows_more_than_the_pinned_name_fails():
    conf = PROXY_CONF.replace(
        "dstdomain -n westus.api.cognitive.microsoft.com", "dstdomain -n .cognitiveservices.azure.com"
    )
    result = row_03(conf_text=conf)
    assert not result["passed"] and "expected ['westus.api.cognitive.microsoft.com']" in result["evidence"]


def test_a_proxy_that_lets_unmatched_handshakes_through_fails():
    conf = PROXY_CONF.replace("ssl_bump terminate all", "ssl_bump splice all")
    assert not row_03(conf_text=conf)["passed"]


def test_missing_user_stopped_proxy_or_missing_configuration_fail():
    assert not row_03(uid=None)["passed"]
    assert "not running" in row_03(active=False)["evidence"]
    assert "no proxy configuration" in row_03(conf_text=None)["evidence"]


def test_gather_reads_the_proxy_only_in_names_mode(tmp_path):
    policy, conf = tmp_path / "policy.json", tmp_path / "proxy.conf"
    policy.write_text(json.dumps(POLICY))
    conf.write_text(PROXY_CONF)
    calls = []

    def run(argv):
        calls.append(argv)
        return (0, "997\n", "") if argv[0] == "id" else (1, "", "")

    state = gather(run, str(policy), str(tmp_path / "none.conf"), name_proxy_conf=str(conf))
    assert state["name_proxy"]["uid"] == 997 and not state["name_proxy"]["active"]
    assert ["id", "-u", "aicontainers-proxy"] in calls
    assert proxy_user(PROXY_CONF) == "aicontainers-proxy"
    policy.write_text(json.dumps(dict(POLICY, name_check=None)))
    assert gather(run, str(policy), str(tmp_path / "none.conf"))["name_proxy"] is None
