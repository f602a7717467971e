# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge the frontend guard: ports published beyond loopback admit only the frontends.

Called by :mod:`egress_audit` for AIC-EGRESS-09 when the policy has
``frontend_ports``. Reads the live table (``nft -j``): a prerouting chain
must drop those ports for every source but loopback and the frontends' sets,
and the sets must hold exactly the intended addresses. The probe from a host
that is not a frontend (verify.yml) shows what actually answers.
"""

from __future__ import annotations

GUARD_SETS = {"ip": "frontends_v4", "ip6": "frontends_v6"}


def set_addresses(declared):
    """The elements of an ``nft -j`` set as strings (``10.0.0.0/16`` for prefixes)."""
    found = []
    for element in (declared or {}).get("elem", []):
        if isinstance(element, dict) and "prefix" in element:
            found.append("{0}/{1}".format(element["prefix"]["addr"], element["prefix"]["len"]))
        elif isinstance(element, str):
            found.append(element)
    return sorted(found)


def _dports(statements):
    for statement in statements:
        match = statement.get("match", {})
        if match.get("left", {}).get("payload", {}).get("field") == "dport":
            right = match.get("right")
            values = right.get("set", []) if isinstance(right, dict) else [right]
            return {value for value in values if isinstance(value, int)}
    return set()


def _admits_only_frontends(statements):
    """True for ``iif "lo" accept`` and ``... ip saddr @frontends_v4 accept`` (or v6)."""
    for statement in statements:
        match = statement.get("match", {})
        left = match.get("left", {})
        if left.get("meta", {}).get("key") == "iif" and match.get("right") == "lo":
            return True
        payload = left.get("payload", {})
        if payload.get("field") == "saddr" and match.get("right") == "@" + GUARD_SETS.get(payload.get("protocol"), ""):
            return True
    return False


def guard_problems(policy, chains, sets, verdict_of):
    """What lets a source other than loopback or the frontends reach the ports, as sentences."""
    ports = set(policy.get("frontend_ports") or [])
    guards = [chain for chain in chains.values() if chain["hook"] == "prerouting"]
    dropped, problems = set(), []
    for chain in guards:
        for statements in chain["rules"]:
            verdict = verdict_of(statements)[0]
            if verdict in ("drop", "reject"):
                dropped |= _dports(statements)
            elif verdict == "accept" and _dports(statements) & ports and not _admits_only_frontends(statements):
                problems.append(
                    "a prerouting rule accepts port(s) {0} for other sources".format(
                        ", ".join(str(port) for port in sorted(_dports(statements) & ports))
                    )
                )
    open_ports = sorted(ports - dropped)
    if open_ports:
        problems.insert(0, "nothing drops port(s) {0} for other sources".format(", ".join(map(str, open_ports))))
    for family, name in (("v4", "frontends_v4"), ("v6", "frontends_v6")):
        expected = sorted(policy.get("frontend_sources_" + family) or [])
        live = set_addresses(sets.get(name)) if name in sets else None
        if live is None:
            problems.append("set {0} missing".format(name))
        elif live != expected:
            problems.append(
                "{0} holds {1} (expected {2})".format(
                    name, ", ".join(live) or "nothing", ", ".join(expected) or "nothing"
                )
            )
    return problems
