# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate and normalise the egress_firewall role's variables.

The role passes its variables through the ``egress_policy`` filter, which
calls :func:`build_policy`. Every problem comes back as one sentence that
names the variable and says what to fix, so the role can stop before it
touches the host. The normalised policy is what the templates render: domain
groups with their nftables set names, dnsmasq ``nftset=`` lines, and address
lists split by family.

Every variable whose value (normalised) lands in a rendered file - the
nftables table, dnsmasq's configuration, the name-checking proxy's or the
organisation's Squid allowlist - is listed in :data:`RENDERED` with its
grammar, and checked whole before anything is rendered: a value that is not
one word of its kind is refused with one sentence naming the variable, never
rendered.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.aicontainers.hardening.plugins.module_utils import _metering, uplink_guard
from ansible_collections.aicontainers.hardening.plugins.module_utils import config_grammar as grammar

SCOPES = ("drop", "accept", "off")
METERING_VARIABLE = "egress_firewall_metering_domains"
TRANSLATOR_VARIABLE = "egress_firewall_translator_domain"
# A Linux interface name (at most 15 characters), as nftables' iifname/oifname
# take it in double quotes: a trailing * is its wildcard (nft takes at most 15
# characters with it, and no * alone).
INTERFACE = re.compile(r"[A-Za-z0-9_.:@+-]{1,15}|[A-Za-z0-9_.:@+-]{1,14}\*")
_PORT = re.compile(r"[0-9]{1,5}")
# A conntrack mark as nft and iptables write it: decimal, or hexadecimal after 0x.
_MARK = re.compile(r"0[xX][0-9a-fA-F]{1,8}|[0-9]{1,10}")
# What Ansible's bool filter reads as true or false (the role's YAML reads these
# switches with it). The argument spec's type: bool also takes y, t, n and f,
# which the filter reads as false: refused here, so both readings agree.
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
DOMAIN_RULE = "a domain name (letters, digits and hyphens in dot-separated labels of at most 63 characters, 253 in all)"
NETWORK_RULE = "an IP address or CIDR, without spaces or an IPv6 %zone"

# Every egress_firewall variable the rendered files depend on, and the grammar
# it is checked against (here, by build_policy, before anything is rendered).
# The unit tests feed each one hostile values.
RENDERED = {
    "egress_firewall_host_scope": "drop, accept or off (nft chain policy)",
    "egress_firewall_container_scope": "drop, accept or off (nft chain policy)",
    "egress_firewall_metering_domains": DOMAIN_RULE + ", or *.<name> (nft set comment, dnsmasq, Squid)",
    "egress_firewall_metering_ports": "TCP ports 1-65535 (nft)",
    "egress_firewall_metering_ct_mark": "a 32-bit mark, decimal or 0x hex (nft ct mark)",
    "egress_firewall_translator_domain": DOMAIN_RULE + " (nft set comment, dnsmasq, Squid)",
    "egress_firewall_extra_domains": "{name: <domain name>, ports: [TCP ports]} (nft, dnsmasq, Squid)",
    "egress_firewall_resolvable_domains": DOMAIN_RULE + " (dnsmasq server=)",
    "egress_firewall_static_cidrs": NETWORK_RULE + " (nft set elements)",
    "egress_firewall_static_ports": "TCP ports 1-65535 (nft)",
    "egress_firewall_dns_upstreams": "IP addresses, no %zone (nft set elements, dnsmasq server=)",
    "egress_firewall_ntp_servers": "IP addresses, no %zone (nft set elements)",
    "egress_firewall_internal_cidrs": NETWORK_RULE + " (nft set elements)",
    "egress_firewall_internal_ports": "TCP ports 1-65535 (nft)",
    "egress_firewall_frontend_ports": "TCP ports 1-65535 (nft)",
    "egress_firewall_frontend_sources": NETWORK_RULE + " (nft set elements)",
    "egress_firewall_management_ports": "TCP ports 1-65535 (nft)",
    "egress_firewall_proxy": "{address: <IP address>, port: <TCP port>} (nft)",
    "egress_firewall_name_check_port": "a TCP port 1-65535 (nft, Squid http_port)",
    "egress_firewall_name_check_clients": NETWORK_RULE + " (Squid acl src)",
    "egress_firewall_pinned_names": "exact host names under the metering domains (Squid dstdomain, ssl::server_name)",
    "egress_firewall_container_interfaces": "interface names, at most 15 of A-Za-z0-9_.:@+-, optional trailing * (nft)",
    "egress_firewall_set_timeout": "whole seconds 1-4294967 (nft set timeout, dnsmasq comment)",
    "egress_firewall_dns_max_ttl": "whole seconds 1-2147483647 (dnsmasq max-ttl, max-cache-ttl)",
    "egress_firewall_confirm_timeout": "whole seconds 0-86400 (nft_ruleset's rollback watchdog)",
    "egress_firewall_reject": "a boolean (nft reject or drop)",
    "egress_firewall_log_denied": "a boolean (nft log rule)",
    "egress_firewall_uplink_guard": "a boolean (nft netdev table); the uplinks' names are checked too",
}


def squid_domains(domains):
    """Squid dstdomain patterns (``.domain``: it and its subdomains) for ``domains``.

    A domain under another listed one is left out: it is covered already, and
    Squid 6 refuses the pair in one ACL ("is a subdomain of", "Bungled").
    """
    names = list(dict.fromkeys(str(domain).lower().rstrip(".") for domain in domains))
    return ["." + name for name in names if not any(name.endswith("." + parent) for parent in names)]


def _container_interfaces(options, errors):
    """The container bridges the host's own processes may reach, checked
    against the interface-name grammar before they land in the nft table."""
    interfaces = options.get("egress_firewall_container_interfaces", ["docker0", "br-*"]) or []
    for name in interfaces:
        if not isinstance(name, str) or not INTERFACE.fullmatch(name):
            errors.append(
                "egress_firewall_container_interfaces: {0!r} is not an interface name (at most 15 letters, digits "
                "and _.:@+-, optionally ending in the wildcard *); give a bridge such as docker0 or br-*.".format(name)
            )
    return [str(name) for name in interfaces]


class PolicyError(ValueError):
    """The variables describe no valid policy; ``errors`` lists every problem."""

    def __init__(self, errors):
        super().__init__(errors[0])
        self.errors = errors


def normalise_domain(variable, value, errors):
    """Return (domain, wildcard) for a valid name, or None after recording an error.

    The metering registry (module_utils/_metering.py) says what an entry
    means: ``*.x`` and ``x`` both cover x and every name under it, which is
    what dnsmasq's nftset= fills the sets with.
    """
    try:
        domain = _metering.parse(value, variable)
    except _metering.MeteringError as error:
        errors.append(str(error))
        return None
    return domain.name, domain.wildcard


def normalise_ports(variable, value, errors):
    if isinstance(value, (int, str)):
        value = [value]
    ports = []
    for port in value or []:
        # An int, or its digits as a string (-e gives strings); int() would also
        # take " 443\n", "4_43" or "+443".
        digits = isinstance(port, str) and _PORT.fullmatch(port) is not None
        number = int(port) if (isinstance(port, int) and not isinstance(port, bool)) or digits else -1
        if not 1 <= number <= 65535:
            errors.append("{0}: port {1!r} is out of range; use a TCP port from 1 to 65535.".format(variable, port))
            continue
        ports.append(number)
    if not ports and not any(error.startswith(variable) for error in errors):
        errors.append("{0}: give at least one TCP port (for example 443).".format(variable))
    return sorted(set(ports))


def normalise_networks(variable, values, errors, hosts_only=False):
    """Split addresses or CIDRs into sorted IPv4 and IPv6 lists of strings."""
    v4, v6 = set(), set()
    for value in values or []:
        # Whole: no spaces around it, and no IPv6 %zone, which Python accepts
        # with any text after the % and renders back ("fe80::1%x }; ...").
        text = value if isinstance(value, str) else str(value)
        try:
            if isinstance(value, bool) or text != text.strip() or "%" in text:
                raise ValueError(text)
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            kind = "an IP address" if hosts_only else "an IP address or CIDR such as '20.38.0.0/16'"
            errors.append("{0}: {1!r} is not {2}.".format(variable, value, kind))
            continue
        if hosts_only and network.num_addresses != 1:
            errors.append("{0}: {1!r} must be a single IP address, not a network.".format(variable, value))
            continue
        text = str(network.network_address) if network.num_addresses == 1 else str(network)
        (v4 if network.version == 4 else v6).add(text)
    return sorted(v4, key=ipaddress.ip_network), sorted(v6, key=ipaddress.ip_network)


def _domain_entries(options, errors):
    """Yield (variable, domain-name, ports, metering) for every domain the policy allows."""
    metering_ports = normalise_ports(
        "egress_firewall_metering_ports", options.get("egress_firewall_metering_ports", [443]), errors
    )
    configured = options.get(METERING_VARIABLE)
    if configured is not None and not list(configured):
        errors.append(
            "{0}: list the metering domains, or leave it unset for Microsoft's ({1}).".format(
                METERING_VARIABLE, ", ".join(_metering.DEFAULT_DOMAINS)
            )
        )
    for domain in _metering.domains(configured):
        yield METERING_VARIABLE, domain, metering_ports, True
    # Translator's endpoint is a metering domain too, but a bad one is its own
    # variable's fault; it is checked when set, even while Translator is off.
    translator_domain = options.get(TRANSLATOR_VARIABLE)
    if _boolean("egress_firewall_translator", options.get("egress_firewall_translator", False), errors):
        yield TRANSLATOR_VARIABLE, translator_domain or _metering.TRANSLATOR_DOMAIN, metering_ports, True
    elif translator_domain not in (None, ""):
        normalise_domain(TRANSLATOR_VARIABLE, translator_domain, errors)
    if _boolean("egress_firewall_image_registry", options.get("egress_firewall_image_registry", False), errors):
        for domain in _metering.IMAGE_REGISTRY_DOMAINS:
            yield "egress_firewall_image_registry", domain, [443], False
    for index, extra in enumerate(options.get("egress_firewall_extra_domains") or []):
        variable = "egress_firewall_extra_domains[{0}]".format(index)
        if not isinstance(extra, dict) or "name" not in extra:
            errors.append(
                "{0}: each entry needs 'name' and 'ports', as in {{name: mirror.example.com, ports: [443]}}.".format(
                    variable
                )
            )
            continue
        yield variable, extra["name"], normalise_ports(variable + ".ports", extra.get("ports", [443]), errors), False


def _group_domains(entries, table, errors):
    """Group domains by their port list; each group gets one IPv4 and one IPv6 set.

    dnsmasq honours one ``nftset=`` line per domain, so a domain listed twice
    gets the union of its ports in a single group. Metering domains never share
    a group with other domains, so their flows can be marked apart (the DPI
    bypass mark of ``egress_firewall_metering_ct_mark``).
    """
    ports_by_domain, metering = {}, set()
    for variable, raw, ports, is_metering in entries:
        parsed = normalise_domain(variable, raw, errors)
        if parsed and ports:
            ports_by_domain.setdefault(parsed[0], set()).update(ports)
            if is_metering:
                metering.add(parsed[0])
    groups = {}
    for domain in sorted(ports_by_domain):
        key = (domain in metering, tuple(sorted(ports_by_domain[domain])))
        groups.setdefault(key, []).append(domain)
    result = []
    # Metering groups first: they are the ones every policy has.
    for index, ((is_metering, ports), domains) in enumerate(
        sorted(groups.items(), key=lambda item: (not item[0][0], item[0][1]))
    ):
        set_v4, set_v6 = "domains{0}_v4".format(index), "domains{0}_v6".format(index)
        result.append(
            {
                "domains": domains,
                "ports": list(ports),
                "metering": is_metering,
                "set_v4": set_v4,
                "set_v6": set_v6,
                "dnsmasq_nftset": "/{0}/4#inet#{1}#{2},6#inet#{1}#{3}".format("/".join(domains), table, set_v4, set_v6),
            }
        )
    return result


def _scope(options, variable, errors):
    value = str(options.get(variable, "drop")).lower()
    if value not in SCOPES:
        errors.append(
            "{0}: {1!r} is not a scope policy; use one of drop, accept or off.".format(variable, options.get(variable))
        )
    return value


def _proxy(options, errors):
    proxy = options.get("egress_firewall_proxy")
    if not proxy:
        return None
    if not isinstance(proxy, dict) or "address" not in proxy or "port" not in proxy:
        errors.append("egress_firewall_proxy: give the proxy as {address: 10.0.0.5, port: 3128}.")
        return None
    v4, v6 = normalise_networks("egress_firewall_proxy.address", [proxy["address"]], errors, hosts_only=True)
    ports = normalise_ports("egress_firewall_proxy.port", proxy["port"], errors)
    return {"v4": v4, "v6": v6, "port": ports[0] if ports else None}


def _pinned_names(options, domain_groups, errors):
    """Exact host names the metering allowlist narrows to (tenant pinning)."""
    pinned = []
    metering = [domain for group in domain_groups if group["metering"] for domain in group["domains"]]
    for value in options.get("egress_firewall_pinned_names") or []:
        parsed = normalise_domain("egress_firewall_pinned_names", value, errors)
        if not parsed:
            continue
        name = parsed[0]
        if parsed[1] or not any(name == domain or name.endswith("." + domain) for domain in metering):
            errors.append(
                "egress_firewall_pinned_names: {0!r} must be one exact host name under the metering domains "
                "({1}), such as your resource's Billing host.".format(value, ", ".join(metering))
            )
            continue
        pinned.append(name)
    return sorted(set(pinned))


def _name_check(options, domain_groups, errors):
    """The local name-checking proxy of names mode, or None in address mode."""
    pinned = _pinned_names(options, domain_groups, errors)
    # Checked in address mode too: a value that names mode would render is never accepted.
    ports = normalise_ports(
        "egress_firewall_name_check_port", options.get("egress_firewall_name_check_port", 3128), errors
    )
    v4, v6 = normalise_networks(
        "egress_firewall_name_check_clients", options.get("egress_firewall_name_check_clients"), errors
    )
    if not _boolean("egress_firewall_name_check", options.get("egress_firewall_name_check", False), errors):
        if pinned:
            errors.append(
                "egress_firewall_pinned_names: pinning holds only where names are checked; "
                "set egress_firewall_name_check: true as well."
            )
        return None
    if options.get("egress_firewall_proxy"):
        errors.append(
            "egress_firewall_name_check: names mode runs its own proxy on the host; "
            "leave egress_firewall_proxy empty or set egress_firewall_name_check: false."
        )
    return {"port": ports[0] if ports else None, "client_networks": v4 + v6, "pinned_names": pinned}


def _ct_mark(options, errors):
    """The conntrack mark bit(s) set on metering flows, or 0 for none."""
    value = options.get("egress_firewall_metering_ct_mark") or 0
    mark = -1
    if isinstance(value, int) and not isinstance(value, bool):
        mark = value
    elif isinstance(value, str) and _MARK.fullmatch(value):  # not int(value, 0): it takes " 0x10\n" and "0x_10"
        mark = int(value, 16) if value[:2] in ("0x", "0X") else int(value)
    if not 0 <= mark <= 0xFFFFFFFF:
        errors.append(
            "egress_firewall_metering_ct_mark: {0!r} is not a 32-bit mark; give a number such as 0x00100000, "
            "or 0 for no mark.".format(value)
        )
        return 0
    return mark


def _resolvable_domains(options, domain_groups, errors):
    """The names the local resolver forwards upstream; it refuses every other.

    Every allowed domain, plus names the host must resolve without reaching
    them through this firewall (``egress_firewall_resolvable_domains``). A
    query outside this list never leaves the host, so DNS cannot carry data out.
    """
    names = {domain for group in domain_groups for domain in group["domains"]}
    for value in options.get("egress_firewall_resolvable_domains") or []:
        parsed = normalise_domain("egress_firewall_resolvable_domains", value, errors)
        if parsed:
            names.add(parsed[0])
    return sorted(names)


def _frontends(options, errors):
    """Ports this host publishes beyond loopback (the replicas' API, which has no
    authentication) and the only sources the network may open them from."""
    ports = options.get("egress_firewall_frontend_ports") or []
    sources = options.get("egress_firewall_frontend_sources") or []
    result = {"frontend_ports": [], "frontend_sources_v4": [], "frontend_sources_v6": []}
    v4, v6 = normalise_networks("egress_firewall_frontend_sources", sources, errors)
    if not ports:
        return result
    result["frontend_ports"] = normalise_ports("egress_firewall_frontend_ports", ports, errors)
    result["frontend_sources_v4"], result["frontend_sources_v6"] = v4, v6
    if not sources:
        errors.append(
            "egress_firewall_frontend_sources: give the frontends' addresses; without them no frontend "
            "could open egress_firewall_frontend_ports {0}.".format(", ".join(str(port) for port in ports))
        )
    return result


def _boolean(variable, value, errors):
    """True or False, as Ansible reads it (the argument spec leaves "false" from -e a string, which is truthy)."""
    if isinstance(value, bool):
        return value
    text = str(value).lower() if isinstance(value, (str, int)) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    errors.append(grammar.sentence(variable, value, "a boolean", "write true or false"))
    return False


def _rendered_settings(options, errors):
    """The settings the templates paste as they are, checked against their grammar: the nftables set
    timeout, dnsmasq's TTL cap, the rollback timeout (nft_ruleset), and whether to reject and log."""
    checks = (
        # nft: "timeout <n>s", kept within 2^32 ms (49 days, a conservative bound); at least 1 s.
        ("egress_firewall_set_timeout", 3600, 1, 4294967, "give the seconds a DNS-filled set entry lives"),
        # dnsmasq: max-ttl=<n> takes a non-negative int, where 0 lifts the cap this variable is for.
        ("egress_firewall_dns_max_ttl", 300, 1, 2147483647, "give the longest TTL in seconds, below the set timeout"),
        # nft_ruleset: the rollback watchdog's sleep; 0 turns commit-confirm off.
        ("egress_firewall_confirm_timeout", 60, 0, 86400, "give seconds, or 0 to turn commit-confirm off"),
    )
    settings = {}
    for variable, default, minimum, maximum, fix in checks:
        value = options.get(variable, default)
        error = grammar.number(variable, value, fix, minimum=minimum, maximum=maximum)
        if error:
            errors.append(error)
        if variable != "egress_firewall_confirm_timeout":  # a module argument, not part of the table
            settings[variable[len("egress_firewall_") :]] = default if error else int(value)
    for variable in ("egress_firewall_reject", "egress_firewall_log_denied"):
        settings[variable[len("egress_firewall_") :]] = _boolean(variable, options.get(variable, True), errors)
    return settings


def _uplink_guard(options, policy, links, kernel, errors):
    """The uplinks to guard and the mark of the host's own packets (module_utils/uplink_guard.py),
    or None: switched off, containers not filtered, a macvlan/ipvlan network accepted as
    unfiltered, or no links read (``links`` None)."""
    wanted = _boolean("egress_firewall_uplink_guard", options.get("egress_firewall_uplink_guard", True), errors)
    if not wanted or links is None or policy["container_scope"] != "drop" or policy["unfiltered_networks_accepted"]:
        return None
    errors.extend(uplink_guard.kernel_errors(kernel))
    found = uplink_guard.uplinks(links, policy["container_interfaces"])
    errors.extend(uplink_guard.guard_errors(found))
    return {"uplinks": found} if found else None


def build_policy(options, table="aicontainers", links=None, kernel=None):
    """Return the normalised policy, or raise PolicyError listing every problem.

    ``links`` is the host's ``ip -j -d link show``, from which the uplink guard takes its uplinks,
    and ``kernel`` its ``uname -r`` (the guard needs Linux 5.16 or later).
    """
    errors = []
    policy = {
        "table": table,
        "host_scope": _scope(options, "egress_firewall_host_scope", errors),
        "container_scope": _scope(options, "egress_firewall_container_scope", errors),
        "domain_groups": _group_domains(_domain_entries(options, errors), table, errors),
        "proxy": _proxy(options, errors),
        "metering_ct_mark": _ct_mark(options, errors),
    }
    policy["static_ports"] = normalise_ports(
        "egress_firewall_static_ports", options.get("egress_firewall_static_ports", [443]), errors
    )
    policy["static_v4"], policy["static_v6"] = normalise_networks(
        "egress_firewall_static_cidrs", options.get("egress_firewall_static_cidrs"), errors
    )
    policy["dns_upstreams_v4"], policy["dns_upstreams_v6"] = normalise_networks(
        "egress_firewall_dns_upstreams", options.get("egress_firewall_dns_upstreams"), errors, hosts_only=True
    )
    if not options.get("egress_firewall_dns_upstreams"):
        errors.append(
            "egress_firewall_dns_upstreams: give the IP addresses of the DNS servers the local "
            "resolver may ask; they are the only DNS servers allowed out."
        )
    policy["ntp_v4"], policy["ntp_v6"] = normalise_networks(
        "egress_firewall_ntp_servers", options.get("egress_firewall_ntp_servers"), errors, hosts_only=True
    )
    # Private destinations of the host's own processes, allowed in proxy mode
    # too: a frontend's replicas on other AI hosts, for example.
    policy["internal_v4"], policy["internal_v6"] = normalise_networks(
        "egress_firewall_internal_cidrs", options.get("egress_firewall_internal_cidrs"), errors
    )
    internal_ports = options.get("egress_firewall_internal_ports")
    policy["internal_ports"] = (
        normalise_ports("egress_firewall_internal_ports", internal_ports, errors)
        if policy["internal_v4"] or policy["internal_v6"] or internal_ports
        else []
    )
    if not (policy["internal_v4"] or policy["internal_v6"]):
        policy["internal_ports"] = []
    policy.update(_frontends(options, errors))
    policy["name_check"] = _name_check(options, policy["domain_groups"], errors)
    policy["resolvable_domains"] = _resolvable_domains(options, policy["domain_groups"], errors)
    policy["unfiltered_networks_accepted"] = sorted(
        str(name) for name in options.get("egress_firewall_unfiltered_networks_accepted") or []
    )
    policy["management_ports"] = normalise_ports(
        "egress_firewall_management_ports", options.get("egress_firewall_management_ports", [22]), errors
    )
    policy["container_interfaces"] = _container_interfaces(options, errors)
    policy.update(_rendered_settings(options, errors))
    policy["host_stack_mark"] = uplink_guard.HOST_STACK_MARK
    policy["uplink_guard"] = _uplink_guard(options, policy, links, kernel, errors)
    if errors:
        raise PolicyError(errors)
    return policy


def squid_allowlist(policy):
    """Squid ACL lines enforcing the same domains and ports as the firewall.

    Allowing an explicit proxy in the firewall hands the policy to the proxy, so
    the proxy must refuse everything the firewall would.
    """
    lines = ["# Rendered by aicontainers.hardening egress_firewall: the proxy enforces the egress allowlist."]
    for index, group in enumerate(policy["domain_groups"]):
        acl = "aich_domains{0}".format(index)
        lines.append("acl {0} dstdomain {1}".format(acl, " ".join(squid_domains(group["domains"]))))
        lines.append("acl {0}_ports port {1}".format(acl, " ".join(str(port) for port in group["ports"])))
        lines.append("http_access allow CONNECT {0} {0}_ports".format(acl))
    lines.append("http_access deny all")
    return "\n".join(lines) + "\n"
