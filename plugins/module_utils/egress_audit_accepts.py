# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge every accept rule on the egress paths by what it lets out.

A default-deny chain is only as closed as its accept rules: ``ip daddr
0.0.0.0/0 accept`` carries a match, yet lets everything out. Each accept rule
reached from the ``output`` and ``forward`` hooks must be bounded by one of
the shapes egress_firewall writes, in the hook it writes them for: a reply,
loopback or a container bridge (output), a flow Docker DNAT-ed or one between
containers of a network (forward), a set or proxy the policy names together
with the ports the policy opens there, the name-checking proxy's user, IPv6
neighbour discovery. Any other accept rule, verdict map or queue is reported,
written back in nft's own words.
"""

from __future__ import annotations

# Connection states that are never a new connection leaving.
REPLY_STATES = {"established", "related"}
# egress_firewall_container_interfaces' default, for a policy written before it was recorded.
DEFAULT_BRIDGES = ("docker0", "br-*")
NEIGHBOUR_DISCOVERY = {
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
    "nd-router-solicit",
    "mld-listener-report",
    "mld2-listener-report",
}
VERDICT_KEYS = ("accept", "drop", "reject", "jump", "goto", "return", "queue")


def _values(right):
    """A match's right side as a list of plain values (a set's elements, or the one value); None when
    it holds anything else (a range, a prefix, a concatenation), which bounds nothing we can judge."""
    if isinstance(right, dict) and "set" in right:
        values = right["set"]
    else:
        values = right if isinstance(right, list) else [right]
    # bool is an int: fib's "exists" is True.
    return list(values) if all(isinstance(value, (str, int)) for value in values) else None


def _left(left):
    for key in ("payload", "meta", "ct"):
        if key in left:
            part = left[key]
            return "{0} {1}".format(part.get("protocol", key), part.get("field") or part.get("key"))
    if "fib" in left:
        return "fib {0} {1}".format(" . ".join(left["fib"].get("flags", [])), left["fib"].get("result"))
    return str(left)


def _right(right):
    if isinstance(right, dict) and "prefix" in right:
        return "{addr}/{len}".format(**right["prefix"])
    if isinstance(right, dict) and "range" in right:
        return "{0}-{1}".format(*right["range"])
    if isinstance(right, dict) and "set" in right:
        return "{ " + ", ".join(_right(value) for value in right["set"]) + " }"
    if isinstance(right, list):
        return ",".join(str(value) for value in right)
    if right is True:
        return "exists"
    return str(right)


def describe_rule(statements):
    """A rule in nft's words, near enough to find it in ``nft list ruleset``."""
    words = []
    for statement in statements:
        if "match" in statement:
            match = statement["match"]
            op = "" if match.get("op") in ("==", "in", None) else str(match["op"]) + " "
            words.append("{0} {1}{2}".format(_left(match["left"]), op, _right(match.get("right"))))
        if "vmap" in statement:
            words.append("vmap")
        for key in VERDICT_KEYS:
            if key in statement:
                target = (statement[key] or {}).get("target") if isinstance(statement[key], dict) else None
                words.append(key + (" " + target if target else ""))
    return " ".join(words)


def _destination_ports(policy):
    """{destination as nft names it: (the ports the policy opens there, the hooks it may appear in)}."""
    both = ("output", "forward")
    ports = {}
    for group in policy.get("domain_groups", []):
        for name in (group["set_v4"], group["set_v6"]):
            ports["@" + name] = (group["ports"], both)
    for family in ("v4", "v6"):
        ports["@static_" + family] = (policy.get("static_ports", []), both)
        ports["@dns_upstreams_" + family] = ([53], ("output",))
        ports["@ntp_" + family] = ([123], ("output",))
        # The host's own processes only: a frontend's replicas on other AI hosts, for example.
        ports["@internal_" + family] = (policy.get("internal_ports", []), ("output",))
    proxy = policy.get("proxy") or {}
    for address in proxy.get("v4", []) + proxy.get("v6", []):
        ports[address] = ([proxy.get("port")], both)
    return ports


def _dports(statements):
    """The destination ports a rule matches, or None when it matches none (or ones we cannot judge)."""
    for statement in statements:
        match = statement.get("match", {})
        if match.get("op") in ("==", "in") and match.get("left", {}).get("payload", {}).get("field") == "dport":
            return _values(match.get("right"))
    return None


def _bounds_ct(ct, values, hook):
    key = ct.get("key")
    return (
        (key == "state" and set(values) <= REPLY_STATES)
        or (key == "direction" and values == ["reply"])
        # Ports Docker published: a flow it DNAT-ed to a container, in forward only.
        or (key == "status" and values == ["dnat"] and hook == "forward")
    )


def _bounds_meta(meta, values, policy, hook):
    if meta.get("key") in ("oif", "oifname"):
        # The host's own processes to loopback and its container bridges.
        return hook == "output" and set(values) <= {"lo", *policy.get("container_interfaces", DEFAULT_BRIDGES)}
    # Names mode: a socket owner, which AIC-EGRESS-03 (egress_audit_names) holds to the name-checking
    # proxy's user alone; the proxy connects only where an allowed name resolves.
    return meta.get("key") == "skuid" and bool(policy.get("name_check")) and hook == "output"


def _bounds_destination(values, statements, policy, hook):
    """Every destination is one the policy names, in a hook it belongs to, on no other port."""
    allowed, ports = _destination_ports(policy), _dports(statements)
    return ports is not None and all(
        value in allowed and hook in allowed[value][1] and set(ports) <= set(allowed[value][0]) for value in values
    )


def _bounds(match, statements, policy, hook):
    """True when this match limits its rule (``statements``) to traffic the policy lets out."""
    left, values = match.get("left", {}), _values(match.get("right"))
    if match.get("op") not in ("==", "in") or values is None:
        return False
    if "ct" in left:
        return _bounds_ct(left["ct"], values, hook)
    if "meta" in left:
        return _bounds_meta(left["meta"], values, policy, hook)
    if "fib" in left:
        # Another container of the same network: the destination lies behind the incoming interface.
        fib = left["fib"]
        return (
            hook == "forward"
            and values == [True]
            and fib.get("result") == "oif"
            and set(fib.get("flags", [])) == {"daddr", "iif"}
        )
    payload = left.get("payload", {})
    if payload.get("protocol") == "icmpv6" and payload.get("field") == "type":
        return set(values) <= NEIGHBOUR_DISCOVERY
    return payload.get("field") == "daddr" and _bounds_destination(values, statements, policy, hook)


def _verdicts(statement):
    """(verdict, jump target) pairs a statement can take: its own, a verdict map's, or a queue's
    (with no reader, ``queue flags bypass`` accepts)."""
    for key in ("accept", "jump", "goto"):
        if key in statement:
            yield key, (statement[key] or {}).get("target") if isinstance(statement[key], dict) else None
    if "queue" in statement:
        yield "accept", None
    if "vmap" in statement:
        data = statement["vmap"].get("data")
        entries = data.get("set", []) if isinstance(data, dict) else []
        if not isinstance(data, dict):
            yield "accept", None  # a named map: what it holds is not in this rule
        for entry in entries:
            verdict = entry[1] if isinstance(entry, list) and len(entry) == 2 else {}
            yield from _verdicts(verdict if isinstance(verdict, dict) else {})


def open_accepts(chains, policy):
    """Accept rules on the egress paths that no match bounds, as ``chain: rule`` sentences.

    ``chains`` is :func:`egress_audit.chains_of`'s reading, ``policy`` the
    policy egress_firewall wrote. The chains are followed from every output
    and forward hook; a jump under a bounding match bounds the chain it
    enters. A verdict map's accept and a queue count as accepts.
    """
    policy = policy or {}
    found = []

    def walk(name, hook, bounded, seen):
        chain = chains.get(name)
        if chain is None or name in seen:
            return
        for statements in chain["rules"]:
            rule_bounded = bounded or any(
                _bounds(s["match"], statements, policy, hook) for s in statements if "match" in s
            )
            for statement in statements:
                for verdict, target in _verdicts(statement):
                    if verdict == "accept" and not rule_bounded:
                        found.append("{0}: {1}".format(name, describe_rule(statements)))
                    elif target:
                        walk(target, hook, rule_bounded, (*seen, name))

    for name, chain in chains.items():
        if chain["hook"] in ("output", "forward"):
            walk(name, chain["hook"], False, ())
    return list(dict.fromkeys(found))
