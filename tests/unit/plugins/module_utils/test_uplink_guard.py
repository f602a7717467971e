"""The uplink guard: which links are uplinks, and how the audit reads the live guard."""

import json

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit import _row_boot, _row_networks
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import PolicyError, build_policy
from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import hook_devices as content_devices
from ansible_collections.aicontainers.hardening.plugins.module_utils.uplink_guard import (
    HOST_STACK_MARK,
    guard_errors,
    guarded_devices,
    hook_devices,
    kernel_errors,
    uplinks,
)

BRIDGES = ["docker0", "br-*"]
MAC = "02:42:0a:d5:00:14"


def link(name, kind=None, master=None, link_type="ether", address=MAC):
    item = {"ifname": name, "link_type": link_type, "address": address}
    if kind:
        item["linkinfo"] = {"info_kind": kind}
    if master:
        item["master"] = master
    return item


LINKS = [
    link("lo", link_type="loopback", address="00:00:00:00:00:00"),
    link("eth0", "veth", address="02:42:0A:D5:00:14"),
    link("docker0", "bridge", address="02:42:c0:ae:97:1d"),
    link("br-5f0a1c2b3d4e", "bridge", address="02:42:c0:ae:97:1e"),
    link("veth5db556e", "veth", master="docker0", address="0a:71:64:4a:ef:50"),
    link("bond0", "bond", address="52:54:00:00:00:01"),
    link("enp1s0", master="bond0", address="52:54:00:00:00:01"),
    link("br0", "bridge", address="52:54:00:00:00:02"),
    link("enp2s0", master="br0", address="52:54:00:00:00:03"),
    # A Docker bridge the user named: veth ports only, or none yet.
    link("aichany", "bridge", address="02:42:c0:ae:97:1f"),
    link("veth1a2b3c4", "veth", master="aichany", address="0a:71:64:4a:ef:51"),
    link("aichempty", "bridge", address="02:42:c0:ae:97:20"),
    link("enp3s0", address="52:54:00:00:00:04"),
    link("mv0", "macvlan", address="52:54:00:00:00:05"),
    link("wg0", "wireguard", link_type="none", address=""),
]


def test_uplinks_are_the_ethernet_links_a_child_could_sit_on():
    assert uplinks(LINKS, BRIDGES) == ["bond0", "br0", "enp3s0", "eth0"]


def test_a_name_nft_cannot_take_is_refused_before_rendering():
    (sentence,) = guard_errors(['e"th0'])
    assert sentence.startswith("egress_firewall_uplink_guard: the uplink 'e\"th0'")
    assert guard_errors(uplinks(LINKS, BRIDGES)) == []


BASE = {"egress_firewall_dns_upstreams": ["192.0.2.53"]}
KERNEL = "6.1.0-18-amd64"


def test_an_old_kernel_has_no_egress_hook_and_says_so():
    (sentence,) = kernel_errors("5.15.0-91-generic")
    assert sentence.startswith("egress_firewall_uplink_guard: Linux 5.15.0-91-generic has no netdev egress hook")
    assert kernel_errors("") and kernel_errors("6.1.0-18-amd64") == [] and kernel_errors("5.16.0") == []
    with pytest.raises(PolicyError):
        build_policy(BASE, links=LINKS, kernel="5.14.0-362.el9.x86_64")
    assert (
        build_policy({**BASE, "egress_firewall_uplink_guard": False}, links=LINKS, kernel="5.14.0")["uplink_guard"]
        is None
    )


def test_the_policy_guards_the_uplinks_when_containers_are_filtered():
    policy = build_policy(BASE, links=LINKS, kernel=KERNEL)
    assert policy["host_stack_mark"] == HOST_STACK_MARK
    assert policy["uplink_guard"] == {"uplinks": ["bond0", "br0", "enp3s0", "eth0"]}


@pytest.mark.parametrize(
    "options, links",
    [
        ({"egress_firewall_uplink_guard": False}, LINKS),
        ({"egress_firewall_uplink_guard": "false"}, LINKS),
        ({"egress_firewall_container_scope": "accept"}, LINKS),
        ({"egress_firewall_unfiltered_networks_accepted": ["lan"]}, LINKS),
        ({}, None),
        ({}, [link("lo", link_type="loopback")]),
    ],
)
def test_the_guard_is_off_when_switched_off_or_nothing_to_guard(options, links):
    assert build_policy({**BASE, **options}, links=links, kernel=KERNEL)["uplink_guard"] is None


def test_an_unrenderable_uplink_stops_the_policy():
    with pytest.raises(PolicyError) as error:
        build_policy(BASE, links=[link("eth 0")], kernel=KERNEL)
    assert error.value.errors[0].startswith("egress_firewall_uplink_guard:")


def test_a_word_that_is_no_boolean_is_refused():
    with pytest.raises(PolicyError) as error:
        build_policy({**BASE, "egress_firewall_uplink_guard": "y"}, links=LINKS, kernel=KERNEL)
    assert "egress_firewall_uplink_guard" in error.value.errors[0]


LISTING = (
    "table netdev aicontainers {\n"
    '\tcomment "aicontainers.hardening sha256:0123456789abcdef"\n'
    "\tchain uplink_egress {\n"
    "\t\ttype filter hook egress devices = { enp3s0, eth0 } priority filter; policy drop;\n"
    "\t}\n"
    "}\n"
    "table inet other {\n"
    "\tchain output {\n"
    "\t\ttype filter hook output priority filter; policy accept;\n"
    "\t}\n"
    "}\n"
    "\n"
)


def rule(*expressions):
    return {"rule": {"family": "netdev", "table": "aicontainers", "chain": "uplink_egress", "expr": list(expressions)}}


def match(protocol, field, right, op="=="):
    return {"match": {"op": op, "left": {"payload": {"protocol": protocol, "field": field}}, "right": right}}


TABLE = {"table": {"family": "netdev", "name": "aicontainers"}}
CHAIN = {
    "chain": {"family": "netdev", "table": "aicontainers", "name": "uplink_egress", "hook": "egress", "policy": "drop"}
}
MARK_MATCH = {
    "match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, HOST_STACK_MARK]}, "right": HOST_STACK_MARK}
}
MARKED = rule(MARK_MATCH, {"accept": None})
ARP = rule(match("ether", "type", "arp"), {"accept": None})
VLAN_ARP = rule(match("ether", "type", "8021q"), match("vlan", "type", "arp"), {"accept": None})
DHCP = rule(
    match("ether", "daddr", "ff:ff:ff:ff:ff:ff"),
    match("ip", "saddr", "0.0.0.0"),
    match("ip", "daddr", "255.255.255.255"),
    match("udp", "sport", 68),
    match("udp", "dport", 67),
    {"accept": None},
)
LOG = rule({"limit": {"rate": 10, "burst": 20, "per": "minute"}}, {"log": {"prefix": "aicontainers uplink deny: "}})
DROP = rule({"counter": {"packets": 0, "bytes": 0}}, {"drop": None})
GUARD = [TABLE, CHAIN, MARKED, ARP, VLAN_ARP, DHCP, LOG, DROP]


def test_the_devices_come_from_the_text_listing():
    assert hook_devices(LISTING) == {("aicontainers", "uplink_egress"): ["enp3s0", "eth0"]}
    quoted = LISTING.replace("{ enp3s0, eth0 }", '{ "enp3s0", "eth0" }')
    assert hook_devices(quoted) == {("aicontainers", "uplink_egress"): ["enp3s0", "eth0"]}
    single = LISTING.replace("devices = { enp3s0, eth0 }", 'device "eth0"')
    assert hook_devices(single) == {("aicontainers", "uplink_egress"): ["eth0"]}
    assert content_devices('type filter hook egress devices = { "eth0", "enp3s0" } priority') == ["eth0", "enp3s0"]
    assert content_devices('type filter hook egress device "eth0" priority filter;') == ["eth0"]


def test_the_role_s_guard_guards_its_devices():
    assert guarded_devices(GUARD, LISTING) == {"eth0", "enp3s0"}
    # A chain with policy accept that ends in an unconditional drop guards as well.
    accepting = {"chain": dict(CHAIN["chain"], policy="accept")}
    assert guarded_devices([TABLE, accepting, MARKED, ARP, DROP], LISTING) == {"eth0", "enp3s0"}


def _without_drop_policy(items):
    return [{"chain": dict(item["chain"], policy="accept")} if "chain" in item else item for item in items]


@pytest.mark.parametrize(
    "items",
    [
        _without_drop_policy([TABLE, CHAIN, MARKED, ARP]),  # nothing dropped
        _without_drop_policy([TABLE, CHAIN, MARKED, rule(match("ether", "type", "ip6"), {"drop": None})]),
        [TABLE, CHAIN, rule({"accept": None}), DROP],  # everything accepted first
        [TABLE, CHAIN, rule(match("ether", "type", "8021q"), {"accept": None}), DROP],  # any VLAN frame
        [TABLE, CHAIN, rule(match("udp", "dport", 67), {"accept": None}), DROP],  # DHCP to anywhere
        [TABLE, CHAIN, rule({"match": dict(MARK_MATCH["match"], op="!=")}, {"accept": None}), DROP],
        [TABLE, CHAIN, rule({"jump": {"target": "elsewhere"}}), DROP],
        [TABLE, CHAIN, rule({"return": None}), DROP],
        [TABLE, CHAIN, rule({"mangle": {"key": {"meta": {"key": "mark"}}, "value": HOST_STACK_MARK}}), DROP],
        [{"table": dict(TABLE["table"], flags=["dormant"])}, CHAIN, MARKED, DROP],
        [TABLE, MARKED, ARP, DROP],  # no chain on the egress hook
    ],
)
def test_a_guard_that_lets_unjudged_frames_out_guards_nothing(items):
    assert guarded_devices(items, LISTING) == set()


def test_the_live_listing_of_nft_1_0_6_parses():
    """JSON as nft 1.0.6 prints it for the role's guard (no devices in it)."""
    items = json.loads(
        '[{"chain": {"family": "netdev", "table": "aicontainers", "name": "uplink_egress", "handle": 1, '
        '"type": "filter", "hook": "egress", "prio": 0, "policy": "drop"}}]'
    )
    assert guarded_devices([TABLE, *items, MARKED, ARP, VLAN_ARP, DHCP, LOG, DROP], LISTING) == {"eth0", "enp3s0"}


GUARD_POLICY = {"uplink_guard": {"uplinks": ["eth0"]}, "container_interfaces": BRIDGES}
ETH0_ONLY = [
    link("lo", link_type="loopback"),
    link("eth0", "veth"),
    link("docker0", "bridge", address="02:42:c0:ae:97:1d"),
]
ETH0_LISTING = LISTING.replace("{ enp3s0, eth0 }", '"eth0"').replace("devices =", "device")


def test_the_audit_row_passes_only_while_every_live_uplink_is_guarded():
    guard = {"links": ETH0_ONLY, "guard": GUARD, "listing": ETH0_LISTING}
    assert _row_networks([], GUARD_POLICY, guard)["passed"]
    # The table deleted by hand, or a link that appeared after the role ran.
    missing = _row_networks([], GUARD_POLICY, {"links": ETH0_ONLY, "guard": [], "listing": ""})
    assert not missing["passed"] and missing["evidence"].startswith("eth0 has no uplink guard")
    added = _row_networks([], GUARD_POLICY, dict(guard, links=[*ETH0_ONLY, link("eth1", address="52:54:00:00:00:09")]))
    assert not added["passed"] and "eth1 has no uplink guard" in added["evidence"]
    unread = _row_networks([], GUARD_POLICY, {"links": None, "guard": [], "listing": ""})
    assert not unread["passed"] and "could not be read" in unread["evidence"]


def test_a_policy_without_the_guard_judges_the_networks_alone():
    assert "off by policy" in _row_networks([], {"uplink_guard": None}, {})["evidence"]
    assert not _row_networks([{"Name": "lan", "Driver": "macvlan"}], GUARD_POLICY, {"links": []})["passed"]


BOOT_OK = {"checksum_ok": True, "drift": [], "error": ""}
REQUIRES = "aicontainers-firewall.service aicontainers-uplink-guard.service"


def test_the_boot_row_wants_docker_to_require_the_guard_and_the_persisted_guard_to_load_what_is_live():
    assert _row_boot(REQUIRES, True, BOOT_OK, BOOT_OK)["passed"]
    assert not _row_boot("aicontainers-firewall.service", True, BOOT_OK, BOOT_OK)["passed"]
    drifted = _row_boot(
        REQUIRES, True, BOOT_OK, {"checksum_ok": True, "drift": ["the table is not loaded"], "error": ""}
    )
    assert not drifted["passed"] and "the persisted guard differs from the live one" in drifted["evidence"]
    # No guard in the policy: the firewall unit alone.
    assert _row_boot("aicontainers-firewall.service", True, BOOT_OK, None)["passed"]
