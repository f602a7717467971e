# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render "do not decrypt / do not inspect" policies for the Azure AI metering channels.

An Azure AI container reports its usage to Azure over TLS. A middlebox that
decrypts that channel (TLS interception, "SSL bump", deep inspection) replaces
the server certificate, the container refuses it, cannot meter and stops
answering. The network team therefore needs an exemption on whatever appliance
sits on the path. This module turns one list of domain patterns into the text
each kind of appliance takes, for the team to review and apply.

What an entry means is the metering registry's (module_utils/_metering.py):
``x`` and ``*.x`` both cover the domain itself and every name under it, on
label boundaries, as the firewall lets them out. Each vendor matches names
its own way, so each renderer translates that meaning:

* PAN-OS URL lists: ``*.x/`` needs at least one label in front of ``x`` (it
  matches ``a.b.x`` too) and never matches ``x`` itself, so an entry becomes
  ``x/`` and ``*.x/``. The trailing slash stops ``x.attacker.example`` from
  matching, which an entry without it would.
* FortiGate: wildcard FQDN objects for ``*.x`` and FQDN addresses for the
  apex ``x``.
* Cisco Secure Firewall: Subject DN ``CN=*.x`` skips the apex, so it gets its own CN.
* Suricata: ``tls.sni; dotprefix; content:".x"; endswith;`` matches ``x`` and
  every name under it.
* Squid: ``.x`` already means ``x`` and every name under it.

Every problem with the input raises :class:`DpiPolicyError` with one sentence
that names the role variable and says what to fix. :func:`config_errors`
checks every dpi_exemption variable that lands in a rendered file
(:data:`RENDERED`) against the grammar of its place, then renders the chosen
backends' files without writing them: the role stops on any sentence before
it changes anything (tasks/validate.yml).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.aicontainers.hardening.plugins.module_utils import _metering

DEFAULT_NAME = "aicontainers-metering"
DEFAULT_DESCRIPTION = "Azure AI container metering: do not decrypt (aicontainers.hardening)"
# The predefined "deep-inspection" profile is read-only on current FortiOS;
# "custom-deep-inspection" is the editable one most sites use.
DEFAULT_FORTIGATE_PROFILE = "custom-deep-inspection"
# Suricata keeps sids 1000000-1999999 for local rules.
DEFAULT_SID_BASE = 1_650_000

DOMAINS_VARIABLE = "dpi_exemption_domains"
NAME_VARIABLE = "dpi_exemption_policy_name"
DESCRIPTION_VARIABLE = "dpi_exemption_description"
PROFILE_VARIABLE = "dpi_exemption_fortigate_profile"
SID_BASE_VARIABLE = "dpi_exemption_suricata_sid_base"
APPLIANCE_VARIABLE = "dpi_exemption_appliances"
SOURCES_VARIABLE = "dpi_exemption_squid_allowlist_sources"
TRANSLATOR_VARIABLE = "dpi_exemption_translator_domain"

# Object names that every appliance here accepts unquoted and unescaped.
# Matched whole (fullmatch): "$" also matches before a final newline.
OBJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DIGITS = re.compile(r"[0-9]{1,10}")
MAX_NAME = 31  # PAN-OS custom URL categories take at most 31 characters
MAX_FORTIGATE_PROFILE = 47
MAX_FORTIGATE_OBJECT = 79
MAX_DESCRIPTION = 255  # FortiOS comments and PAN-OS category descriptions
MAX_SID = 2**32 - 1
HTTPS_PORT = 443


class DpiPolicyError(ValueError):
    """The variables describe no valid policy; the message says which and how to fix it."""


# ---------------------------------------------------------------------------
# Validation


def normalise_domain(value):
    """Return the registry's Domain for one entry of dpi_exemption_domains, or raise."""
    try:
        return _metering.parse(value, DOMAINS_VARIABLE)
    except _metering.MeteringError as error:
        raise DpiPolicyError(str(error)) from None


def normalise_domains(domains):
    """Validate dpi_exemption_domains and return its Domains in the order given.

    A name that another one already covers (a repeat, ``x`` next to ``*.x``,
    or ``a.x`` next to ``x``) is dropped: Squid warns about such overlaps and
    the other appliances would only match the same names twice.
    """
    if isinstance(domains, (str, bytes)) or not isinstance(domains, (list, tuple)):
        raise DpiPolicyError(
            f"{DOMAINS_VARIABLE}: give a list of domain names such as ['*.cognitive.microsoft.com'], got {domains!r}."
        )
    if not domains:
        raise DpiPolicyError(
            f"{DOMAINS_VARIABLE}: list at least one domain, or leave it unset for Microsoft's "
            f"({', '.join(_metering.DEFAULT_DOMAINS)})."
        )
    patterns = [normalise_domain(value) for value in domains]
    kept = []
    for pattern in patterns:
        covered_by_wider = any(other.name != pattern.name and other.covers(pattern) for other in patterns)
        if not covered_by_wider and pattern.name not in [k.name for k in kept]:
            kept.append(pattern)
    return kept


def check_object_name(variable, value, max_length):
    if not isinstance(value, str) or len(value) > max_length or not OBJECT_NAME.fullmatch(value):
        raise DpiPolicyError(
            f"{variable}: {value!r} must be 1 to {max_length} letters, digits, '-', '_' or '.', "
            "starting with a letter or digit."
        )
    return value


def check_description(value):
    """Descriptions go inside double quotes on every appliance, so keep them plain."""
    printable = isinstance(value, str) and all(" " <= character <= "~" for character in value)
    if not printable or '"' in value or "\\" in value or not 0 < len(value) <= MAX_DESCRIPTION:
        raise DpiPolicyError(
            f"{DESCRIPTION_VARIABLE}: give 1 to {MAX_DESCRIPTION} printable ASCII characters "
            "without double quotes or backslashes."
        )
    return value


def check_sid_base(value, rule_count):
    """A whole number; digits in a string are fine too (extra vars arrive as strings)."""
    top = MAX_SID - rule_count + 1
    if isinstance(value, str) and _DIGITS.fullmatch(value):  # not isdigit(): it takes "²", which int() refuses
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise DpiPolicyError(
            f"{SID_BASE_VARIABLE}: give a whole number from 1 to {top} (local rules usually use 1000000-1999999)."
        )
    return value


# ---------------------------------------------------------------------------
# Shared pieces


def names(patterns):
    """The domain ``x`` of every entry (which also covers every name under it)."""
    return [pattern.name for pattern in patterns]


def header(title, description, how_to_apply):
    """The ``#`` comment block that opens every rendered file."""
    lines = [title, description, f"Generated by aicontainers.hardening (dpi_exemption) from {DOMAINS_VARIABLE}."]
    lines += how_to_apply
    return [f"# {line}" if line else "#" for line in lines]


def text(lines):
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# PAN-OS


def panos_patterns(domains):
    """URL-list entries for a PAN-OS custom URL category, in the order given.

    ``*.x/`` matches any number of labels in front of ``x`` but not ``x`` itself,
    so an entry needs ``x/`` too. The trailing slash keeps ``x`` from
    matching ``x.attacker.example`` (PAN-OS adds an implicit ``*`` otherwise).
    """
    return [entry for name in names(normalise_domains(domains)) for entry in (name + "/", "*." + name + "/")]


def panos_exclusion_hosts(domains):
    """Host names for the SSL Decryption Exclusion list, whose ``*`` matches one label only.

    So an entry needs the apex, ``*.x`` and ``*.*.x`` (regional names such as
    ``westus.api.cognitive.microsoft.com`` sit two labels under the domain).
    """
    return [host for name in names(normalise_domains(domains)) for host in (name, "*." + name, "*.*." + name)]


def render_panos(domains, name=DEFAULT_NAME, description=DEFAULT_DESCRIPTION):
    """PAN-OS configure-mode ``set`` commands: a custom URL category and a no-decrypt rule."""
    check_object_name(NAME_VARIABLE, name, MAX_NAME)
    check_description(description)
    category = f"set profiles custom-url-category {name}"
    rule = f"set rulebase decryption rules {name}"
    lines = header(
        f"PAN-OS: do not decrypt the Azure AI metering channels ({name}).",
        description,
        [
            "Review, then paste the set lines in configure mode and commit (the # lines are notes, not commands).",
            "This is for a single-vsys firewall; on Panorama, write 'device-group <group> profiles' for 'profiles'",
            "and 'device-group <group> pre-rulebase' for 'rulebase'.",
            "A decryption rule matches the URL category against the TLS SNI (or the certificate name).",
            "The exemption lives in the decryption rulebase, where policy reviews look; the SSL Decryption",
            "Exclusion list at the end is the alternative (its '*' matches one label, hence '*.*.' too).",
            "",
        ],
    )
    lines += [
        f'{category} type "URL List"',
        f'{category} description "{description}"',
        f"{category} list [ {' '.join(panos_patterns(domains))} ]",
        f'{rule} description "{description}"',
        f"{rule} from any",
        f"{rule} to any",
        f"{rule} source any",
        f"{rule} destination any",
        f"{rule} source-user any",
        f"{rule} service service-https",
        f"{rule} category {name}",
        f"{rule} type ssl-forward-proxy",
        f"{rule} action no-decrypt",
        "# Best practice: attach a no-decryption profile that blocks expired and untrusted",
        "# certificates (not possible for TLS 1.3, whose certificate is encrypted):",
        f"# {rule} profile <no-decryption-profile>",
        "# The first matching decryption rule wins, so this one goes above every decrypt rule.",
        f"move rulebase decryption rules {name} top",
        "# Alternative to the rule above: the SSL Decryption Exclusion list.",
    ]
    lines += [
        f'# set shared ssl-decrypt ssl-exclude-cert "{host}" exclude yes' for host in panos_exclusion_hosts(domains)
    ]
    return text(lines)


# ---------------------------------------------------------------------------
# FortiGate


def fortigate_object_name(prefix, kind, domain):
    """A readable object name such as ``aicontainers-metering-wildcard.cognitive.microsoft.com``."""
    name = f"{prefix}-{kind}.{domain}" if kind else f"{prefix}-{domain}"
    if len(name) > MAX_FORTIGATE_OBJECT:
        raise DpiPolicyError(
            f"{DOMAINS_VARIABLE}: {domain!r} makes the FortiGate object name {name!r} longer than "
            f"{MAX_FORTIGATE_OBJECT} characters; shorten {NAME_VARIABLE}."
        )
    return name


def fortigate_table(table, entries):
    """``config <table>`` with one ``edit`` block per (name, [set lines]) entry."""
    lines = [f"config {table}"]
    for name, settings in entries:
        lines.append(f'    edit "{name}"')
        lines += [f"        {setting}" for setting in settings]
        lines.append("    next")
    lines.append("end")
    return lines


def fortigate_members(names):
    return "set member " + " ".join(f'"{name}"' for name in names)


def fortigate_wildcard_objects(prefix, domains, comment):
    """A wildcard FQDN object per ``*.x`` and a group of them; returns (group name, lines)."""
    group = f"{prefix}-wildcards"
    objects = [(fortigate_object_name(prefix, "wildcard", domain), domain) for domain in domains]
    lines = fortigate_table(
        "firewall wildcard-fqdn custom",
        [(obj, [f'set wildcard-fqdn "*.{domain}"', comment]) for obj, domain in objects],
    )
    lines += fortigate_table(
        "firewall wildcard-fqdn group", [(group, [fortigate_members(obj for obj, _domain in objects), comment])]
    )
    return group, lines


def fortigate_fqdn_addresses(prefix, domains, comment):
    """An FQDN address per exact name and an address group of them; returns (group name, lines)."""
    group = f"{prefix}-names"
    objects = [(fortigate_object_name(prefix, "", domain), domain) for domain in domains]
    lines = fortigate_table(
        "firewall address",
        [(obj, ["set type fqdn", f'set fqdn "{domain}"', comment]) for obj, domain in objects],
    )
    lines += fortigate_table(
        "firewall addrgrp", [(group, [fortigate_members(obj for obj, _domain in objects), comment])]
    )
    return group, lines


def fortigate_ssl_exempt(profile, exemptions):
    """Append each exemption (a list of set lines) to the profile's ssl-exempt table."""
    lines = ["config firewall ssl-ssh-profile", f'    edit "{profile}"', "        config ssl-exempt"]
    for settings in exemptions:
        lines.append("            edit 0")
        lines += [f"                {setting}" for setting in settings]
        lines.append("            next")
    return [*lines, "        end", "    next", "end"]


def render_fortigate(
    domains, name=DEFAULT_NAME, description=DEFAULT_DESCRIPTION, ssl_ssh_profile=DEFAULT_FORTIGATE_PROFILE
):
    """FortiOS 6.2+ CLI: wildcard FQDN objects, FQDN addresses and SSL/SSH inspection exemptions."""
    check_object_name(NAME_VARIABLE, name, MAX_NAME)
    check_description(description)
    check_object_name(PROFILE_VARIABLE, ssl_ssh_profile, MAX_FORTIGATE_PROFILE)
    patterns = normalise_domains(domains)
    comment = f'set comment "{description}"'
    lines = header(
        f"FortiGate (FortiOS 6.2 or later): do not inspect the Azure AI metering channels ({name}).",
        description,
        [
            "Review, then paste into the CLI of the VDOM whose firewall policy carries the containers' traffic.",
            "Each entry x covers x and every name under it: *.x is a wildcard FQDN object, matched by server",
            "name, which does not match x itself, so x is an FQDN address; an exemption by address matches the IPs",
            "that name resolves to, which can be shared (for example by every storage account on a",
            "*.blob.core.windows.net front end).",
            f'The exemptions go into the SSL/SSH inspection profile "{ssl_ssh_profile}"; "edit 0" adds each',
            "one with the next free ID, so existing exemptions are kept.",
            "",
        ],
    )
    wildcard_group, wildcard_lines = fortigate_wildcard_objects(name, names(patterns), comment)
    address_group, address_lines = fortigate_fqdn_addresses(name, names(patterns), comment)
    lines += wildcard_lines + address_lines
    exemptions = [
        ["set type wildcard-fqdn", f'set wildcard-fqdn "{wildcard_group}"'],
        ["set type address", f'set address "{address_group}"'],
    ]
    lines += fortigate_ssl_exempt(ssl_ssh_profile, exemptions)
    return text(lines)


# ---------------------------------------------------------------------------
# Cisco Secure Firewall (FMC-managed FTD)


def cisco_subject_dns(domains):
    """Subject DN conditions: ``CN=*.x`` skips ``x`` itself, so each entry also gets ``CN=x``."""
    return [dn for name in names(normalise_domains(domains)) for dn in ("CN=" + name, "CN=*." + name)]


def render_cisco(domains, name=DEFAULT_NAME, description=DEFAULT_DESCRIPTION):
    """A reviewable YAML description of an FMC "Do Not Decrypt" rule (FMC has no CLI for it)."""
    check_object_name(NAME_VARIABLE, name, MAX_NAME)
    check_description(description)
    lines = ["---"]
    lines += header(
        f"Cisco Secure Firewall (FTD managed by FMC): do not decrypt the Azure AI metering channels ({name}).",
        description,
        [
            "FMC has no configuration CLI for decryption rules: review this, then create the rule in FMC:",
            "  Policies > Access Control > Decryption (before FMC 7.3: Policies > Access Control > SSL),",
            "  edit the decryption policy your access control policy uses, Add Rule, fill in the fields",
            "  below (type each subject DN at the 'Enter DN or CN' prompt of the DN tab), save and deploy.",
            "The device compares the TLS SNI with the subject DNs when the SNI matches the server",
            "certificate, and the certificate's CN otherwise. CN=*.x matches every name under x but not x.",
            "",
        ],
    )
    lines += [
        "decryption_rule:",
        f"  name: {name}",
        "  action: Do Not Decrypt",
        "  position: above every Decrypt - Resign and Decrypt - Known Key rule",
        "  conditions:",
        "    ports:",
        f'      - "HTTPS (TCP {HTTPS_PORT})"',
        "    subject_dns:",
    ]
    lines += [f'      - "{dn}"' for dn in cisco_subject_dns(domains)]
    lines += [
        "  logging: Log at End of Connection",
        f'  comment: "{description}"',
    ]
    return text(lines)


# ---------------------------------------------------------------------------
# Suricata


def suricata_sni_match(pattern):
    """The detection part of a pass rule for one pattern."""
    # dotprefix turns "a.x" into ".a.x" and "x" into ".x": both end with ".x",
    # "evilx" does not.
    return f'tls.sni; dotprefix; content:".{pattern.name}"; endswith; nocase;'


def render_suricata_pass_rules(domains, sid_base=DEFAULT_SID_BASE, name=DEFAULT_NAME, description=DEFAULT_DESCRIPTION):
    """Suricata 6+ pass rules on the TLS SNI, one per pattern, numbered from sid_base."""
    check_object_name(NAME_VARIABLE, name, MAX_NAME)
    check_description(description)
    patterns = normalise_domains(domains)
    sid_base = check_sid_base(sid_base, len(patterns))
    lines = header(
        f"Suricata 6 or later: do not inspect the Azure AI metering channels ({name}).",
        description,
        [
            "Review, then add this file to rule-files in suricata.yaml (or to your local rules).",
            "A matching pass rule passes the rest of the flow, and pass comes first in the default",
            "action-order (pass, drop, reject, alert), so no drop or alert rule acts on these connections.",
            "",
        ],
    )
    for offset, pattern in enumerate(patterns):
        lines.append(
            f'pass tls any any -> any {HTTPS_PORT} (msg:"{name}: do not inspect {pattern.pattern}"; '
            f"flow:established,to_server; {suricata_sni_match(pattern)} sid:{sid_base + offset}; rev:1;)"
        )
    lines += [
        "",
        "# Wider alternative: stop inspecting every TLS flow once the handshake is done",
        "# (suricata.yaml; not just these names):",
        "#   app-layer:",
        "#     protocols:",
        "#       tls:",
        "#         encryption-handling: bypass",
    ]
    return text(lines)


# ---------------------------------------------------------------------------
# Squid


def squid_server_names(domains):
    """ssl::server_name values: ``.x``, the domain and every name under it.

    Each name also in its absolute form (a trailing dot): Squid compares the
    names as the client wrote them, and a TLS name or CONNECT target ending in
    a dot would otherwise miss the ACL and be bumped (measured on Squid 5.7).
    """
    return [form for name in names(normalise_domains(domains)) for form in ("." + name, "." + name + ".")]


SQUID_MARKER = "# {0} aicontainers.hardening dpi_exemption: never bump the metering channels"


def squid_conf_with_splice(conf_text, splice):
    """squid.conf's text with our splice block first, wherever it was before.

    Squid applies the first ssl_bump rule that matches, so the block must come
    before every bump rule of the file, including ones the organisation added
    above it after an earlier run. Any earlier copy of the block is removed.
    """
    begin, end = SQUID_MARKER.format("BEGIN"), SQUID_MARKER.format("END")
    kept, inside = [], False
    for line in (conf_text or "").splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end and inside:
            inside = False
        elif not inside:
            kept.append(line)
    block = [begin, *splice.rstrip("\n").splitlines(), end]
    return "\n".join(block + kept) + "\n"


def squid_sources(sources):
    """The source addresses or networks, normalised; a sentence naming the variable when one is not."""
    normalised = []
    for source in [sources] if isinstance(sources, str) else sources or ():
        # Whole: no spaces around it, and no IPv6 %zone, which Python accepts with any
        # text after the % and renders back ("fe80::1%lo\nhttp_access allow all").
        text = source if isinstance(source, str) else str(source)
        try:
            if isinstance(source, bool) or text != text.strip() or "%" in text:
                raise ValueError(text)
            normalised.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise DpiPolicyError(
                f"{SOURCES_VARIABLE}: {source!r} is not an IP address or network; list the AI hosts' addresses, "
                "for example 10.0.0.20 or 10.0.0.0/24."
            ) from None
    return sorted(set(normalised))


def suffixed(name, suffix):
    """An ACL name derived from ``name``, in the name's own style (``a_b`` -> ``a_b_x``, else ``a-x``)."""
    return name + ("_" if "_" in name else "-") + suffix


def squid_pair_lines(patterns, name):
    """ACL lines that make ``name`` match a tunnel whose CONNECT name and TLS server name fall under
    the same metering pattern.

    The CONNECT line's name is matched with ``dstdomain -n`` (an IP address
    never matches) and the handshake's with ``ssl::server_name
    --client-requested``; each pattern is one ``all-of`` pair and ``name`` is
    ``any-of`` the pairs. A server name alone is what a client chooses: with
    it, ``CONNECT blocked.example.net:443`` (or an address) and a metering SNI
    would be spliced, an uninspected tunnel to any host (measured on Squid
    5.7). On an intercepting port there is no CONNECT name, so nothing is
    spliced there.
    """
    lines, pairs = [], []
    for index, pattern in enumerate(patterns):
        forms = " ".join(squid_server_names([pattern.pattern]))
        tunnel, sni, pair = (suffixed(name, f"{part}{index}") for part in ("tunnel", "sni", "pair"))
        lines += [
            f"acl {tunnel} dstdomain -n {forms}",
            f"acl {sni} ssl::server_name --client-requested {forms}",
            f"acl {pair} all-of {tunnel} {sni}",
        ]
        pairs.append(pair)
    return [*lines, f"acl {name} any-of {' '.join(pairs)}"]


def squid_allowlist_lines(patterns, name, sources):
    """Lines limiting what ``sources`` may do through this Squid to the metering channels.

    Only CONNECT, only to port 443, only to a metering *name* (``dstdomain -n``:
    an IP address never matches); a tunnel the general splice does not take
    (its handshake names a host under another pattern) is terminated. Deny
    rules only: what the organisation's own rules refuse stays refused.
    Refusals are TCP resets, so an ssl-bump port does not answer them with
    its own certificate.
    """
    acl_sources, acl_connect, acl_https, acl_names = (
        suffixed(name, suffix) for suffix in ("sources", "connect", "https", "names")
    )
    forms = [form for pattern in patterns for form in squid_server_names([pattern.pattern])]
    lines = [
        f"acl {acl_sources} src {' '.join(sources)}",
        f"acl {acl_connect} method CONNECT",
        f"acl {acl_https} port {HTTPS_PORT}",
        f"acl {acl_names} dstdomain -n {' '.join(forms)}",
        f"deny_info TCP_RESET {acl_sources}",
        # The source ACL comes last on each line: its deny_info (the reset) applies.
        f"http_access deny !{acl_connect} {acl_sources}",
        f"http_access deny !{acl_https} {acl_sources}",
        f"http_access deny !{acl_names} {acl_sources}",
    ]
    return lines, [f"ssl_bump terminate {acl_sources} !{name}"]


def render_squid_splice(domains, name=DEFAULT_NAME, description=DEFAULT_DESCRIPTION, sources=()):
    """Squid 5+ ``acl`` and ``ssl_bump`` lines that splice (never bump) these names; ``name`` is the ACL.

    A tunnel is spliced only when its CONNECT name and its TLS server name fall
    under the same metering pattern (squid_pair_lines), for every client. With
    ``sources`` (the AI hosts' addresses), the block also applies the egress
    allowlist to their traffic through this proxy (see squid_allowlist_lines).
    """
    check_object_name(NAME_VARIABLE, name, MAX_NAME)
    check_description(description)
    sources = squid_sources(sources)
    patterns = normalise_domains(domains)
    step1 = suffixed(name, "step1")
    lines = header(
        f"Squid 5 or later with SslBump: splice (do not decrypt) the Azure AI metering channels ({name}).",
        description,
        [
            "ssl::server_name needs a Squid built with OpenSSL (Debian and Ubuntu: the squid-openssl package).",
            "These lines must come before every other ssl_bump line: Squid applies the first matching action.",
            "Peeking at step 1 reads the TLS SNI and still allows bumping other traffic later.",
            "A tunnel is spliced only when its CONNECT name and its TLS server name are under the same",
            "metering domain: a client cannot choose the SNI alone to get an uninspected tunnel.",
            "",
        ],
    )
    lines += squid_pair_lines(patterns, name)
    allowlist, allowlist_bump = ([], [])
    if sources:
        allowlist, allowlist_bump = squid_allowlist_lines(patterns, name, sources)
    lines += allowlist
    lines += [f"acl {step1} at_step SslBump1", f"ssl_bump peek {step1}", *allowlist_bump, f"ssl_bump splice {name}"]
    return text(lines)


# ---------------------------------------------------------------------------

RENDERERS = {
    "panos": render_panos,
    "fortigate": render_fortigate,
    "cisco": render_cisco,
    "suricata": render_suricata_pass_rules,
    "squid": render_squid_splice,
}


def render(appliance, domains, **options):
    """Render the policy for one appliance named in RENDERERS."""
    renderer = RENDERERS.get(appliance)
    if renderer is None:
        raise DpiPolicyError(f"{APPLIANCE_VARIABLE}: {appliance!r} is not one of {', '.join(RENDERERS)}.")
    if appliance != "fortigate":
        # Only FortiGate has an SSL/SSH inspection profile to name.
        options.pop("ssl_ssh_profile", None)
    return renderer(domains, **options)


# ---------------------------------------------------------------------------
# The role's variables against the grammar of the files they land in


def _domains(variable, value):
    """dpi_exemption_domains: null (Microsoft's), else a non-empty list of entries the registry reads."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        return [f"{variable}: give a list of domain names such as ['*.cognitive.microsoft.com'], got {value!r}."]
    if not value:
        return [
            f"{variable}: list at least one domain, or leave it unset for Microsoft's "
            f"({', '.join(_metering.DEFAULT_DOMAINS)})."
        ]
    errors = []
    for entry in value:
        try:
            _metering.parse(entry, variable)
        except _metering.MeteringError as error:
            errors.append(str(error))
    return errors


def _translator_domain(variable, value):
    """Null or '' for the registry's endpoint; checked when set, even while Translator is off."""
    if value in (None, ""):
        return []
    try:
        _metering.parse(value, variable)
    except _metering.MeteringError as error:
        return [str(error)]
    return []


def _raising(check, *before, after=()):
    """A (variable, value) check from a validator that raises DpiPolicyError with its sentence."""

    def run(_variable, value):
        try:
            check(*before, value, *after)
        except DpiPolicyError as error:
            return [str(error)]
        return []

    return run


# Every variable whose text lands in a rendered file - Squid's splice block
# (squid.conf), Suricata's pass rules, the appliance policies (PAN-OS set
# commands, FortiOS CLI, Cisco FMC YAML) - with its check ((variable, value) ->
# sentences). The unit tests feed each one hostile values.
RENDERED = {
    # Squid ssl::server_name and dstdomain, Suricata tls.sni content, every appliance's names.
    DOMAINS_VARIABLE: _domains,
    TRANSLATOR_VARIABLE: _translator_domain,
    # Squid ACL names, Suricata msg, appliance object and rule names, the rules file's name.
    NAME_VARIABLE: _raising(check_object_name, NAME_VARIABLE, after=(MAX_NAME,)),
    # In double quotes on every appliance, and a # comment line in every file.
    DESCRIPTION_VARIABLE: _raising(check_description),
    # FortiOS: edit "<profile>".
    PROFILE_VARIABLE: _raising(check_object_name, PROFILE_VARIABLE, after=(MAX_FORTIGATE_PROFILE,)),
    # Suricata sid:<n>; its top depends on how many rules there are (checked again when rendered).
    SID_BASE_VARIABLE: _raising(check_sid_base, after=(1,)),
    # Squid acl ... src.
    SOURCES_VARIABLE: _raising(squid_sources),
}


def _render_backends(variables):
    """Render what the chosen backends would write, without writing it: the limits that depend on more than
    one variable (a FortiGate object name from the policy name and a domain, the top sid) are met too."""
    domains = _metering.domains(
        variables.get(DOMAINS_VARIABLE),
        variables.get("dpi_exemption_translator"),
        variables.get(TRANSLATOR_VARIABLE),
    )
    backends = variables.get("dpi_exemption_backends") or []
    name = variables.get(NAME_VARIABLE, DEFAULT_NAME)
    try:
        if "squid" in backends:
            render_squid_splice(domains, name=name, sources=variables.get(SOURCES_VARIABLE) or ())
        if "nfqueue" in backends:
            render_suricata_pass_rules(domains, sid_base=variables.get(SID_BASE_VARIABLE, DEFAULT_SID_BASE), name=name)
        if "appliances" in backends:
            for appliance in variables.get(APPLIANCE_VARIABLE) or []:
                render(
                    appliance,
                    domains,
                    name=name,
                    description=variables.get(DESCRIPTION_VARIABLE, DEFAULT_DESCRIPTION),
                    ssl_ssh_profile=variables.get(PROFILE_VARIABLE, DEFAULT_FORTIGATE_PROFILE),
                )
    except DpiPolicyError as error:
        return [str(error)]
    return []


def config_errors(variables):
    """One sentence per bad value among ``variables`` (name -> value), in RENDERED's order; others are not read.

    When every value fits, the files of ``dpi_exemption_backends`` (and ``dpi_exemption_appliances``) are
    rendered in memory, so that nothing the role writes later can fail on its variables.
    """
    errors = [
        error
        for name, check in RENDERED.items()
        if name in variables
        for error in check(name, variables[name])
        if error is not None
    ]
    return errors or _render_backends(variables)
