# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge names mode: the live table lets only the proxy's user out, and the
proxy's configuration file checks the names the policy allows.

Called by :mod:`egress_audit` for AIC-EGRESS-03 when the policy has
``name_check``. ``name_proxy`` is what :func:`egress_probe.gather` read:
``conf_text`` (the proxy's squid.conf), ``uid`` (its user's uid, None when
the user is missing) and ``active`` (the unit runs).
"""

from __future__ import annotations

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_name_proxy import names_for


def proxy_user(conf_text):
    """The user a squid.conf runs as (``cache_effective_user``), or None."""
    for line in (conf_text or "").splitlines():
        words = line.split()
        if words[:1] == ["cache_effective_user"] and len(words) == 2:
            return words[1]
    return None


def _acl_names(lines, acl, kind):
    """The names of ``acl NAME KIND [options] names...`` in a squid.conf, or None when absent."""
    for words in (line.split() for line in lines):
        if words[:3] == ["acl", acl, kind]:
            return sorted(word for word in words[3:] if not word.startswith("-"))
    return None


def _conf_problems(policy, lines):
    problems = []
    bump = [line for line in lines if line.startswith("ssl_bump ")]
    for index, group in enumerate(policy.get("domain_groups", [])):
        acl = "aich_names{0}".format(index)
        expected = sorted(names_for(group, policy["name_check"].get("pinned_names", [])))
        connect, sni = _acl_names(lines, acl, "dstdomain"), _acl_names(lines, acl + "_sni", "ssl::server_name")
        if connect != expected or sni != expected:
            problems.append("the proxy allows {0} / server names {1} (expected {2})".format(connect, sni, expected))
        if "ssl_bump splice {0} {0}_sni".format(acl) not in bump:
            problems.append("the proxy splices {0} without checking the handshake's server name".format(acl))
    if bump[-1:] != ["ssl_bump terminate all"]:
        problems.append("the proxy's last ssl_bump rule is not 'terminate all'")
    return problems


def _uid_rules(chains):
    """(uid, accepted) for every output rule that matches a socket's owner."""
    found = []
    for chain in chains.values():
        for statements in chain["rules"]:
            for s in statements:
                match = s.get("match", {})
                if match.get("left", {}).get("meta", {}).get("key") == "skuid":
                    found.append((match.get("right"), any("accept" in t for t in statements)))
    return found


def names_problems(policy, chains, name_proxy):
    """(evidence, problems) for AIC-EGRESS-03 in names mode."""
    name_proxy = name_proxy or {}
    lines = [line.strip() for line in (name_proxy.get("conf_text") or "").splitlines()]
    uid = name_proxy.get("uid")
    problems = []
    if not name_proxy.get("active"):
        problems.append("the name-checking proxy is not running")
    if not lines:
        problems.append("no proxy configuration")
    else:
        problems.extend(_conf_problems(policy, lines))
    accepted = [rule_uid for rule_uid, accepts in _uid_rules(chains) if accepts]
    if uid is None or uid not in accepted:
        problems.append("no rule lets the proxy's user out")
    strangers = sorted({str(rule_uid) for rule_uid in accepted if rule_uid != uid})
    if strangers:
        problems.append("uid(s) {0} are let out as well".format(", ".join(strangers)))
    names = sorted(
        name
        for group in policy.get("domain_groups", [])
        for name in names_for(group, policy["name_check"].get("pinned_names", []))
    )
    evidence = (
        "names mode: only uid {0} ({1}) is let out to the allowed ports; the proxy tunnels {2} "
        "when the handshake names them too".format(uid, proxy_user(name_proxy.get("conf_text")), ", ".join(names))
    )
    return evidence, problems
