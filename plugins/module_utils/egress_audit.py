# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a host's real egress state against the policy egress_firewall wrote.

Input is what the host shows, never what the role would render: the live
table as ``nft -j`` JSON, the resolver's configuration file, every container
network (``docker network inspect``), the container engine's unit
dependencies, and the results of probes run from a throwaway container on each
network. :func:`audit` returns one row per control, each with a stable ID; a
control that cannot be judged is a failed row, never an exception.
"""

from __future__ import annotations

import re

from ansible_collections.aicontainers.hardening.plugins.module_utils import uplink_guard
from ansible_collections.aicontainers.hardening.plugins.module_utils.container_networks import (
    describe,
    unfilterable,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit_accepts import (
    DEFAULT_BRIDGES,
    open_accepts,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit_frontends import guard_problems
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit_names import names_problems
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_probe import REFUSALS
from ansible_collections.aicontainers.hardening.plugins.module_utils.resolver_probe import ANSWERED

FIREWALL_UNIT = "aicontainers-firewall.service"
GUARD_UNIT = "aicontainers-uplink-guard.service"
# Statements that only act (count, log, mark) and never decide whether a rule applies.
ACTIONS = {"counter", "log", "mangle", "accept", "drop", "reject", "jump", "goto", "return", "queue"}
VERDICTS = ("accept", "drop", "reject")


def row(control_id, control, passed, evidence, remedy):
    return {"id": control_id, "control": control, "passed": bool(passed), "evidence": evidence, "remedy": remedy}


def chains_of(ruleset, family="inet", table="aicontainers"):
    """{chain name: {"hook", "policy", "rules": [statement lists]}} of one table in ``nft -j`` output."""
    chains = {}
    for item in (ruleset or {}).get("nftables", []):
        if "chain" in item:
            chain = item["chain"]
            if chain.get("family") == family and chain.get("table") == table:
                chains[chain["name"]] = {"hook": chain.get("hook"), "policy": chain.get("policy"), "rules": []}
        elif "rule" in item:
            rule = item["rule"]
            if rule.get("family") == family and rule.get("table") == table and rule.get("chain") in chains:
                chains[rule["chain"]]["rules"].append(rule.get("expr", []))
    return chains


def sets_of(ruleset, family="inet", table="aicontainers"):
    return {
        item["set"]["name"]: item["set"]
        for item in (ruleset or {}).get("nftables", [])
        if "set" in item and item["set"].get("family") == family and item["set"].get("table") == table
    }


def conditional(statements):
    """True when a rule only applies to some packets (it has a match or a rate limit)."""
    return any(key not in ACTIONS for statement in statements for key in statement)


def verdict_of(statements):
    for statement in statements:
        for key in ("accept", "drop", "reject", "jump", "goto", "return"):
            if key in statement:
                return key, (statement[key] or {}).get("target") if isinstance(statement[key], dict) else None
    return None, None


def terminal_verdict(chains, name, seen=()):
    """What happens to a packet that no conditional rule of this chain decided: accept, drop or reject.

    Follows unconditional jumps; a regular chain with no unconditional verdict
    returns (None) to its caller, a base chain falls to its policy.
    """
    chain = chains.get(name)
    if chain is None or name in seen:
        return None
    for statements in chain["rules"]:
        if conditional(statements):
            continue
        verdict, target = verdict_of(statements)
        if verdict in VERDICTS:
            return verdict
        if verdict in ("jump", "goto"):
            found = terminal_verdict(chains, target, (*seen, name))
            if found:
                return found
            if verdict == "goto":
                break
        if verdict == "return":
            break
    return chain["policy"] if chain["hook"] else None


def base_chain(chains, hook):
    return next((name for name, chain in chains.items() if chain["hook"] == hook), None)


def _matches(statements, key):
    return [s["match"] for s in statements if "match" in s and key(s["match"].get("left", {}))]


def _only_replies(statements):
    """True when a rule matches only packets of connections started from outside."""
    for match in _matches(statements, lambda left: "ct" in left):
        key, right = match["left"]["ct"].get("key"), match.get("right")
        values = right if isinstance(right, list) else [right]
        if key == "direction" and values == ["reply"]:
            return True
        if key == "state" and "new" not in values and "untracked" not in values:
            return True
    return False


def source_port_accepts(chains, chain_name):
    """Accept rules that let packets out by their source port alone (not as replies)."""
    found = []
    for statements in chains.get(chain_name, {}).get("rules", []):
        if verdict_of(statements)[0] != "accept":
            continue
        by_sport = _matches(statements, lambda left: left.get("payload", {}).get("field") == "sport")
        if by_sport and not _only_replies(statements):
            right = by_sport[0].get("right")
            found.append(str(right.get("set", right) if isinstance(right, dict) else right))
    return found


def resolver_lines(text, option):
    """Values of one dnsmasq option (``server``, ``nftset``...) in a configuration file's text."""
    pattern = re.compile(r"^\s*{0}\s*=\s*(\S+)".format(re.escape(option)))
    return [m.group(1) for m in map(pattern.match, (text or "").splitlines()) if m]


def _row_default_deny(chains, policy, loaded):
    """The egress hooks end in drop or reject, and no accept rule lets out more than the policy."""
    output, forward = base_chain(chains, "output"), base_chain(chains, "forward")
    parts = {
        "host egress": terminal_verdict(chains, output) if output else None,
        "routed and container egress": terminal_verdict(chains, forward) if forward else None,
    }
    open_parts = [
        "{0} {1}".format(part, verdict or "not filtered")
        for part, verdict in parts.items()
        if verdict not in ("drop", "reject")
    ]
    # Accept rules are judged against the policy; without one nothing was judged.
    open_rules = open_accepts(chains, policy) if policy else []
    problems = open_parts + ["accepted whatever the destination: " + r for r in open_rules]
    if not policy:
        problems.append("unverified: no policy at /etc/aicontainers/policy.json to judge the accept rules by")
    evidence = (
        "table inet aicontainers is not loaded"
        if not loaded
        else "open: " + "; ".join(problems)
        if problems
        else ", ".join("{0}: {1} unless allowed".format(part, verdict) for part, verdict in parts.items())
        + "; every accept rule is bounded by a reply, an interface, a set of the table or the proxy"
    )
    return row(
        "AIC-EGRESS-01",
        "Egress is denied by default (host and containers)",
        loaded and not problems,
        evidence,
        "Run the egress_firewall role; never flush the ruleset or our table by hand (Debian's nftables.service "
        "does on restart), and add destinations through the role's variables, not accept rules.",
    )


def _row_management(chains, loaded):
    leaks = source_port_accepts(chains, base_chain(chains, "output")) if loaded else []
    return row(
        "AIC-EGRESS-02",
        "Only replies leave from the management port",
        loaded and not leaks,
        "new connections from local port(s) {0} are accepted".format(", ".join(leaks))
        if leaks
        else "SSH replies leave as established connections only"
        if loaded
        else "table inet aicontainers is not loaded",
        "Allow the management path as replies only (ct direction reply); run the egress_firewall role.",
    )


def _row_names_mode(policy, chains, name_proxy, loaded):
    """Names mode: only the proxy's user is let out, and the proxy checks the intended names."""
    evidence, problems = names_problems(policy, chains, name_proxy)
    return row(
        "AIC-EGRESS-03",
        "Egress allows exactly the metering destinations",
        loaded and not problems,
        "; ".join([evidence, *problems]) if loaded else "table inet aicontainers is not loaded",
        "Run the egress_firewall role with egress_firewall_name_check: true; do not edit the proxy's configuration.",
    )


def _row_destinations(policy, chains, sets, resolver_text, loaded):
    """The sets the firewall allows, and what fills them, against the intended domain groups."""
    fills = set(resolver_lines(resolver_text, "nftset"))
    referenced = {
        s["match"]["right"].strip("@")
        for chain in chains.values()
        for statements in chain["rules"]
        for s in statements
        if "match" in s
        and isinstance(s["match"].get("right"), str)
        and s["match"]["right"].startswith("@")
        and verdict_of(statements)[0] == "accept"
    }
    seen, problems = [], []
    for group in policy.get("domain_groups", []):
        missing = [name for name in (group["set_v4"], group["set_v6"]) if name not in sets]
        if missing:
            problems.append("set(s) {0} missing".format(", ".join(missing)))
        elif not policy.get("proxy") and group["set_v4"] not in referenced:
            problems.append("no rule allows @{0}".format(group["set_v4"]))
        elif group["dnsmasq_nftset"] not in fills:
            problems.append("the resolver does not fill {0}".format(group["set_v4"]))
        else:
            seen.extend(group["domains"])
    proxy = policy.get("proxy")
    if proxy:
        problems.extend(_proxy_problems(proxy, chains))
    expected = sorted(d for group in policy.get("domain_groups", []) for d in group["domains"])
    evidence = "allowed domains {0} (expected {1})".format(", ".join(sorted(seen)) or "none", ", ".join(expected))
    if proxy:
        # This host hands its policy to the proxy; AIC-EGRESS-08 asks the proxy what it lets through.
        evidence = (
            "only the proxy {0}:{1} (what it lets through: AIC-EGRESS-08); ".format(proxy_address(proxy), proxy["port"])
            + evidence
        )
    if problems:
        evidence += "; " + "; ".join(problems)
    return row(
        "AIC-EGRESS-03",
        "Egress allows exactly the metering destinations",
        loaded and not problems and sorted(seen) == expected,
        evidence if loaded else "table inet aicontainers is not loaded",
        "Run the egress_firewall role with the metering domains; add your own destinations through "
        "egress_firewall_extra_domains.",
    )


def _proxy_problems(proxy, chains):
    address = proxy_address(proxy)
    for statements in (rule for chain in chains.values() for rule in chain["rules"]):
        rights = [s["match"].get("right") for s in statements if "match" in s]
        if address in rights and proxy["port"] in rights and verdict_of(statements)[0] == "accept":
            return []
    return ["no rule allows the proxy"]


def _resolver_problems(answers):
    """What the resolver's live answers show wrong (see resolver_probe.resolver_answers)."""
    problems = []
    for answer in answers:
        if answer["expect"] == "answered" and answer["answer"] not in ANSWERED:
            problems.append("{name} (allowed) got {answer}".format(**answer))
        elif answer["expect"] == "refused" and answer["answer"] != "REFUSED":
            problems.append("{name} (not allowed) got {answer}, not REFUSED".format(**answer))
    if not any(answer["expect"] == "answered" for answer in answers):
        problems.append("unverified: no allowed name was asked")
    return problems


def _row_resolver(policy, resolver_text, answers):
    allowed = set(policy.get("resolvable_domains", []))
    servers = resolver_lines(resolver_text, "server")
    open_ended = [s for s in servers if not s.startswith("/")]
    unlisted = sorted({s.split("/")[1] for s in servers if s.startswith("/") and s.split("/")[1] not in allowed})
    problems = []
    if resolver_text is None:
        problems.append("no resolver configuration")
    if open_ended:
        problems.append("forwards every name to {0}".format(", ".join(open_ended)))
    if unlisted:
        problems.append("forwards names outside the list: {0}".format(", ".join(unlisted)))
    problems.extend(_resolver_problems(answers))
    return row(
        "AIC-EGRESS-04",
        "DNS answers only the allowed names",
        not problems,
        "; ".join(problems)
        if problems
        else "the resolver forwards only {0}; asked, it answered {1}".format(
            ", ".join(sorted(allowed)), ", ".join("{name}: {answer}".format(**a) for a in answers)
        ),
        "Run the egress_firewall role (it runs the resolver); list names the host must resolve in "
        "egress_firewall_resolvable_domains.",
    )


def _unguarded(policy, uplinks):
    """Sentences for the uplinks the live guard does not cover (module_utils/uplink_guard.py),
    or [] when it covers each; None when the policy wants no guard."""
    wanted = (policy or {}).get("uplink_guard")
    if not wanted:
        return None
    if uplinks.get("links") is None:
        return ["the host's links could not be read (ip -j -d link show)"]
    found = uplink_guard.uplinks(uplinks["links"], policy.get("container_interfaces") or DEFAULT_BRIDGES)
    guarded = uplink_guard.guarded_devices(uplinks.get("guard", []), uplinks.get("listing", ""))
    return [
        "{0} has no uplink guard (a macvlan or ipvlan child on it reaches any address)".format(name)
        for name in found
        if name not in guarded
    ]


def _row_networks(networks, policy=None, uplinks=None):
    names = unfilterable(networks)
    unguarded = _unguarded(policy, uplinks or {})
    listed = ", ".join("{0} ({1})".format(n.get("Name"), n.get("Driver")) for n in networks) or "none"
    found = ["unfiltered: {0}".format(describe(networks, names))] if names else []
    if unguarded is None:
        guard = "the uplink guard is off by policy"
    else:
        found += unguarded
        guard = "every uplink guarded"
    return row(
        "AIC-EGRESS-05",
        "Every container network is filtered by the host",
        not found,
        "; ".join(found) if found else "container networks: {0}; {1}".format(listed, guard),
        "Remove macvlan and ipvlan networks, and run the egress_firewall role: it guards every uplink, so that "
        "what the host's firewall did not judge never leaves.",
    )


def _boot_sentence(boot, what):
    if boot["drift"] is None:
        return "the persisted {0} does not load ({1})".format(what, boot["error"])
    if boot["drift"]:
        return "the persisted {0} differs from the live one: {1}".format(what, "; ".join(boot["drift"]))
    return "the persisted {0} loads what is live".format(what)


def _boot_ok(boot):
    return boot["checksum_ok"] and boot["drift"] == []


def _row_boot(engine_requires, firewall_active, boot, boot_uplinks=None):
    """The engine needs the firewall unit, which runs, and what that unit
    loads at boot (``boot``, and ``boot_uplinks`` for the uplink guard when the
    policy has one: see egress_probe.boot_state) is what is live."""
    requires = FIREWALL_UNIT in (engine_requires or "").split()
    boot = boot or {"checksum_ok": False, "drift": None, "error": "not checked"}
    evidence = "docker.service {0} {1}; {1} is {2}; {3}; {4}".format(
        "requires" if requires else "does not require",
        FIREWALL_UNIT,
        "active" if firewall_active else "not active",
        "its checksum matches" if boot["checksum_ok"] else "its checksum does not match (the unit refuses it)",
        _boot_sentence(boot, "table"),
    )
    passed = requires and firewall_active and _boot_ok(boot)
    if boot_uplinks is not None:
        guard_required = GUARD_UNIT in (engine_requires or "").split()
        evidence += "; docker.service {0} {1}: {2}, {3}".format(
            "requires" if guard_required else "does not require",
            GUARD_UNIT,
            "its checksum matches" if boot_uplinks["checksum_ok"] else "its checksum does not match",
            _boot_sentence(boot_uplinks, "guard"),
        )
        passed = passed and guard_required and _boot_ok(boot_uplinks)
    return row(
        "AIC-EGRESS-06",
        "No container engine starts without the firewall",
        passed,
        evidence,
        "Run the egress_firewall role: it makes docker.service require aicontainers-firewall.service (and the uplink "
        "guard's unit) and writes the table (and the guard) those units load at boot, with their checksums.",
    )


def _probe_problems(probes):
    """What the probes show wrong: an allowed target that did not answer, a
    denied one that answered or was not seen refused (REFUSALS), and a
    vantage point whose negatives have no positive control beside them."""
    problems = []
    for p in probes:
        if p["expect"] == "allowed" and p["result"] != "ok":
            problems.append("{network}: {target} {result} (expected to answer)".format(**p))
        elif p["expect"] == "denied" and p["result"] == "ok":
            problems.append("{network}: {target} ok (expected a refusal)".format(**p))
        elif p["expect"] == "denied" and p["result"] not in REFUSALS:
            problems.append("{network}: {target} {result} (unverified: no refusal observed)".format(**p))
    for vantage in dict.fromkeys(p["network"] for p in probes):
        mine = [p for p in probes if p["network"] == vantage]
        if not any(p["expect"] == "denied" for p in mine):
            problems.append("{0}: unverified, no denied destination was tried from there".format(vantage))
        # An internal network reaches nothing outside by design: its negatives need no positive.
        if not any(p["expect"] == "allowed" for p in mine) and not any(p.get("internal") for p in mine):
            problems.append("{0}: unverified, no allowed destination was tried from there".format(vantage))
    return problems


def _row_probes(probes):
    """probes: [{network, target, expect: allowed|denied, result}] from the host's users and throwaway containers."""
    probes = probes or []
    problems = _probe_problems(probes)
    refusals = sorted({p["result"] for p in probes if p["expect"] == "denied"})
    return row(
        "AIC-EGRESS-07",
        "The host and a container on every network reach only the allowed destinations",
        probes and not problems,
        "; ".join(problems)
        if problems
        else "{0} probe(s) from {1}: every allowed destination answered, every denied one was refused ({2})".format(
            len(probes), ", ".join(dict.fromkeys(p["network"] for p in probes)), ", ".join(refusals) or "none tried"
        )
        if probes
        else "no probe ran",
        "Run the egress_firewall role; a vantage point where a denied destination answers bypasses the policy.",
    )


def _row_frontends(policy, chains, sets, loaded):
    ports = ", ".join(str(port) for port in policy["frontend_ports"])
    sources = policy.get("frontend_sources_v4", []) + policy.get("frontend_sources_v6", [])
    problems = guard_problems(policy, chains, sets, verdict_of) if loaded else ["table inet aicontainers is not loaded"]
    return row(
        "AIC-EGRESS-09",
        "Published replica ports admit only the frontends",
        not problems,
        "; ".join(problems)
        if problems
        else "port(s) {0}: only loopback and {1} pass, every other source is dropped before Docker's DNAT".format(
            ports, ", ".join(sources)
        ),
        "Run the egress_firewall role with egress_firewall_frontend_ports and _frontend_sources (site.yml sets "
        "them); until then any host of the network calls the replicas' API, which has no authentication.",
    )


def proxy_address(proxy):
    """The first address of the policy's explicit proxy."""
    return (proxy["v4"] + proxy["v6"])[0]


def _row_proxy(proxy, proxy_probes):
    """proxy_probes: [{target, sni, expect, result}] asked of the proxy from this host (egress_proxy_probe)."""
    where = "{0}:{1}".format(proxy_address(proxy), proxy["port"])
    probes = proxy_probes or []
    wrong = [p for p in probes if (p["result"] == "ok") != (p["expect"] == "allowed")]
    tried_denied = any(p["expect"] == "denied" for p in probes)
    if not tried_denied:
        evidence = (
            "the proxy {0} carries this host's egress and its own policy is unverified: no destination it "
            "must refuse was tried".format(where)
        )
    elif wrong:
        evidence = "; ".join("{target} (TLS name {sni}) {result} (expected {expect})".format(**p) for p in wrong)
    else:
        evidence = "the proxy {0} answered {1} probe(s) as the allowlist says: {2}".format(
            where, len(probes), "; ".join("{target} (TLS name {sni}): {result}".format(**p) for p in probes)
        )
    return row(
        "AIC-EGRESS-08",
        "The proxy lets this host reach only the allowed destinations",
        tried_denied and not wrong,
        evidence,
        "Apply the allowlist on the proxy (dpi_exemption_squid_allowlist_sources with this host's addresses), and "
        "name a destination it must refuse in verify_egress_proxy_probe_denied.",
    )


def audit(state, probes=None, proxy_probes=None):
    """Rows for the egress controls.

    ``state`` is what :func:`egress_probe.gather` read: ``policy`` (the artefact
    egress_firewall wrote, None when missing), ``ruleset`` (``nft -j``),
    ``resolver_text``, ``networks``, ``engine_requires``, ``firewall_active``,
    ``boot`` (what the boot would load), ``resolver_answers`` (what the resolver
    answered, see :mod:`resolver_probe`) and, in names mode, ``name_proxy`` (see :mod:`egress_audit_names`).
    ``proxy_probes`` are what the explicit proxy answered (proxy mode only).
    """
    chains = chains_of(state["ruleset"])
    loaded = bool(chains)
    policy, resolver_text = state["policy"], state["resolver_text"]
    rows = [_row_default_deny(chains, policy, loaded), _row_management(chains, loaded)]
    if policy and policy.get("name_check"):
        rows.append(_row_names_mode(policy, chains, state.get("name_proxy"), loaded))
        rows.append(_row_resolver(policy, resolver_text, state.get("resolver_answers") or []))
    elif policy:
        rows.append(_row_destinations(policy, chains, sets_of(state["ruleset"]), resolver_text, loaded))
        rows.append(_row_resolver(policy, resolver_text, state.get("resolver_answers") or []))
    else:
        for control_id, control in (
            ("AIC-EGRESS-03", "Egress allows exactly the metering destinations"),
            ("AIC-EGRESS-04", "DNS answers only the allowed names"),
        ):
            rows.append(
                row(
                    control_id,
                    control,
                    False,
                    "no policy at /etc/aicontainers/policy.json",
                    "Run the egress_firewall role; it writes the intended policy there.",
                )
            )
    rows.append(_row_networks(state["networks"], policy, state.get("uplinks")))
    rows.append(
        _row_boot(state["engine_requires"], state["firewall_active"], state.get("boot"), state.get("boot_uplinks"))
    )
    if probes is not None:
        rows.append(_row_probes(probes))
    if policy and policy.get("proxy") and not policy.get("name_check"):
        rows.append(_row_proxy(policy["proxy"], proxy_probes))
    if policy and policy.get("frontend_ports"):
        rows.append(_row_frontends(policy, chains, sets_of(state["ruleset"]), loaded))
    return rows
