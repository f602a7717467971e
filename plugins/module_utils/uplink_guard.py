# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The uplink guard: what leaves the host's uplinks was judged by the host's firewall.

A macvlan or ipvlan child (a container on such a Docker network) sends its
frames straight to its parent interface: they never cross the host's output
or forward hooks, so the ``inet`` table cannot see them. Every frame leaves
through the parent's transmit path, though, where the ``netdev`` family's
egress hook (Linux 5.16+) sees it.

The ``inet`` table marks every packet the host sends from one of its own
addresses (chain uplink_mark, hook postrouting: after its output and forward
chains accepted it, and after Docker's masquerade). The guard on each uplink
lets marked packets out, and ARP and a DHCP client's broadcast (a packet
socket skips the IP hooks; both stay on the link). Everything else is
dropped: a child reaches no address beyond the link.

Forging the mark takes CAP_NET_ADMIN in the child's namespace (SO_MARK),
which Docker does not grant by default.
"""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import clause_devices

# One bit of the packet mark, left alone by Docker, Kubernetes' kube-proxy
# (0x4000, 0x8000) and Tailscale (0xff0000).
HOST_STACK_MARK = 0x02000000
EGRESS_HOOK_SINCE = (5, 16)
# Links that are themselves children: their frames reach the parent's guard.
CHILD_KINDS = ("macvlan", "ipvlan", "macvtap", "ipvtap")
# Names nft takes in double quotes (a Linux name may hold characters it does not).
_DEVICE = re.compile(r"[A-Za-z0-9_.:@+-]{1,15}")
# What the guard lets out besides marked packets, as nft -j writes each match:
# ARP, ARP in a VLAN, and a DHCP client's broadcast before it has an address.
_LINK_LOCAL = (
    {(("payload", "ether", "type"), "==", "arp")},
    {(("payload", "ether", "type"), "==", "8021q"), (("payload", "vlan", "type"), "==", "arp")},
    {
        (("payload", "ether", "daddr"), "==", "ff:ff:ff:ff:ff:ff"),
        (("payload", "ip", "saddr"), "==", "0.0.0.0"),
        (("payload", "ip", "daddr"), "==", "255.255.255.255"),
        (("payload", "udp", "sport"), "==", 68),
        (("payload", "udp", "dport"), "==", 67),
    },
)
_MARKED = {(("meta", "mark", "&", HOST_STACK_MARK), "==", HOST_STACK_MARK)}
# Statements a rule may hold besides its matches and its verdict.
_QUIET = ("counter", "log", "limit")


def is_container_bridge(name, container_interfaces):
    """Whether ``name`` matches one of the container bridges' nft patterns (docker0, br-*)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in container_interfaces)


def uplinks(links, container_interfaces):
    """The host's uplinks in ``ip -j -d link show`` output: the names of every
    Ethernet link a macvlan or ipvlan child could sit on, sorted.

    Left out: loopback and non-Ethernet links (macvlan and ipvlan need an
    Ethernet parent), ports of a bridge or bond (their master is the uplink),
    children themselves, and bridges whose frames stay on the host: the
    container bridges, and any bridge with no port but veths (a Docker bridge
    the user named; its ports lead to containers only).
    """
    links = links or []
    found = []
    for link in links:
        name = str(link.get("ifname", ""))
        kind = (link.get("linkinfo") or {}).get("info_kind")
        if link.get("link_type") != "ether" or link.get("master") or kind in CHILD_KINDS:
            continue
        if is_container_bridge(name, container_interfaces):
            continue
        ports = [port for port in links if port.get("master") == name]
        if kind == "bridge" and all((port.get("linkinfo") or {}).get("info_kind") == "veth" for port in ports):
            continue
        found.append(name)
    return sorted(found)


def guard_errors(found):
    """Sentences for uplinks the nft table cannot name safely (checked before rendering)."""
    return [
        "egress_firewall_uplink_guard: the uplink {0!r} cannot be named in an nftables rule (at most 15 of "
        "A-Za-z0-9_.:@+-); rename the interface, or set egress_firewall_uplink_guard: false and accept that "
        "macvlan and ipvlan children are not filtered.".format(name)
        for name in found
        if not _DEVICE.fullmatch(name)
    ]


def kernel_errors(release):
    """A sentence when the kernel (``uname -r``) has no netdev egress hook (before Linux 5.16)."""
    found = re.match(r"(\d+)\.(\d+)", str(release or ""))
    if found and (int(found.group(1)), int(found.group(2))) >= EGRESS_HOOK_SINCE:
        return []
    return [
        "egress_firewall_uplink_guard: Linux {0} has no netdev egress hook (5.16 or later has it); upgrade the "
        "kernel, or set egress_firewall_uplink_guard: false and accept that macvlan and ipvlan children are not "
        "filtered.".format(release or "(version unknown)")
    ]


def _left(left):
    """A match's left side as a tuple: ("payload", protocol, field), ("meta", key), with ("&", mask) after it."""
    if isinstance(left, dict) and "&" in left:
        return (*_left(left["&"][0]), "&", left["&"][1])
    if isinstance(left, dict) and isinstance(left.get("payload"), dict):
        return ("payload", left["payload"].get("protocol"), left["payload"].get("field"))
    if isinstance(left, dict) and isinstance(left.get("meta"), dict):
        return ("meta", left["meta"].get("key"))
    return ("?", repr(left))


def _rule(expressions):
    """(matches as a set of (left, op, right), other statements, verdicts) of one rule in nft -j."""
    matches, statements, verdicts = set(), [], []
    for expression in expressions:
        for key, value in expression.items() if isinstance(expression, dict) else []:
            if key == "match":
                right = value.get("right")
                matches.add(
                    (
                        _left(value.get("left")),
                        value.get("op"),
                        right if not isinstance(right, (dict, list)) else repr(right),
                    )
                )
            elif key in ("accept", "drop", "jump", "goto", "return", "vmap", "queue", "continue"):
                verdicts.append(key)
            else:
                statements.append(key)
    return matches, statements, verdicts


def _judged(matches):
    """Whether an accept is bounded the way the role writes it: marked packets, or link-local frames."""
    return matches in (_MARKED, *_LINK_LOCAL)


def hook_devices(listing):
    """{(table, chain): [device]} for the netdev chains in ``nft -s list ruleset``'s text.

    nft 1.0.6 leaves a netdev chain's devices out of its JSON; its text has them.
    """
    devices, table, chain = {}, None, None
    for line in (listing or "").splitlines():
        words = line.split()
        if words[:2] == ["table", "netdev"] and len(words) > 2:
            table, chain = words[2], None
        elif words[:1] == ["table"]:
            table = None
        elif table and words[:1] == ["chain"] and len(words) > 1:
            chain = words[1]
        elif table and chain and "hook" in words:
            devices[(table, chain)] = clause_devices(line)
    return devices


def guarded_devices(ruleset_items, listing, family="netdev"):
    """The devices an egress-hook chain guards, from ``nft -j list table`` items and the text
    listing (its devices): in a table that is not dormant, a chain whose policy is drop (or
    whose last rule drops whatever comes) and whose only other verdicts are accepts the role
    writes (_judged). A jump, goto, return or verdict map guards nothing."""
    devices_by_chain = hook_devices(listing)
    dormant = {
        item["table"]["name"]
        for item in ruleset_items
        if "table" in item and "dormant" in (item["table"].get("flags") or [])
    }
    rules_by_chain = {}
    for item in ruleset_items:
        rule = item.get("rule")
        if rule and rule.get("family") == family:
            rules_by_chain.setdefault((rule["table"], rule["chain"]), []).append(_rule(rule.get("expr", [])))
    guarded = set()
    for item in ruleset_items:
        chain = item.get("chain")
        if not chain or chain.get("family") != family or chain.get("hook") != "egress" or chain["table"] in dormant:
            continue
        rules = rules_by_chain.get((chain["table"], chain["name"]), [])
        final_drop = bool(rules) and rules[-1][0] == set() and rules[-1][2] == ["drop"]
        if chain.get("policy") != "drop" and not final_drop:
            continue
        if any(verdicts not in ([], ["drop"], ["accept"]) for _matches, _statements, verdicts in rules):
            continue
        if any(verdicts == ["accept"] and not _judged(matches) for matches, _statements, verdicts in rules):
            continue
        if any(set(statements) - set(_QUIET) for _matches, statements, _verdicts in rules):
            continue
        guarded.update(devices_by_chain.get((chain["table"], chain["name"]), []))
    return guarded
