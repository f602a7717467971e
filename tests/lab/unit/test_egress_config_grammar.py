"""egress_firewall and dpi_exemption: every value written into a rendered file fits the grammar of its place.

The rendered files are the nftables table, dnsmasq's configuration, the
systemd units, the name-checking proxy's squid.conf and the Squid allowlist
(egress_firewall, through egress_policy.build_policy), and Squid's splice
block, Suricata's pass rules and the appliance policies (dpi_exemption,
through dpi_policy.config_errors). The property tests feed every variable of
each role's RENDERED hostile text (a newline, quotes, braces, ';', '#', NUL,
spaces, over-long labels and names): each is refused with exactly one
sentence naming the variable. The roles' defaults and the lab's own values
(the Molecule scenarios, .config/molecule/config.yml, the READMEs' examples)
pass.
"""

import pathlib
import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.aicontainers.hardening.plugins.filter.dpi_policy import dpi_config_errors
from ansible_collections.aicontainers.hardening.plugins.module_utils import dpi_policy
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_name_proxy import squid_conf
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import (
    RENDERED as EGRESS_RENDERED,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import (
    PolicyError,
    build_policy,
    squid_allowlist,
)

DPI_RENDERED = dpi_policy.RENDERED
ROOT = pathlib.Path(__file__).resolve().parents[3]
EGRESS_ROLE = ROOT / "roles" / "egress_firewall"
DPI_ROLE = ROOT / "roles" / "dpi_exemption"


def defaults(role):
    """defaults/main.yml as Ansible renders it with nothing else set: the "{{ aicontainers_... | default(none) }}"
    templates become null (Microsoft's metering domains); the appliance directory is not rendered anywhere."""
    values = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    return {name: (None if isinstance(value, str) and "{{" in value else value) for name, value in values.items()}


EGRESS_DEFAULTS = dict(defaults(EGRESS_ROLE), egress_firewall_dns_upstreams=["192.0.2.53"])  # required
# The base every hostile value is set into: the defaults, with the frontend guard on (site.yml fills both
# lists together) and internal ports to go with internal CIDRs, so that a bad port, source or CIDR gives its
# own sentence and no other.
EGRESS_VALID = dict(
    EGRESS_DEFAULTS,
    egress_firewall_frontend_ports=[5000],
    egress_firewall_frontend_sources=["10.213.0.63"],
    egress_firewall_internal_ports=[443],
)
# Every backend and vendor, so that each rendered file is rendered in memory too.
DPI_VALID = dict(defaults(DPI_ROLE), dpi_exemption_backends=["squid", "nfqueue", "appliances"])


def egress_refusals(values):
    try:
        build_policy(values)
    except PolicyError as error:
        return error.errors
    return []


def dpi_refusals(values):
    return dpi_policy.config_errors(values)


def refusals(variable, value):
    if variable in EGRESS_RENDERED:
        return egress_refusals(dict(EGRESS_VALID, **{variable: value}))
    return dpi_refusals(dict(DPI_VALID, **{variable: value}))


# Where a user's text lands in each variable, and which length rule bounds it there.
SLOTS = {
    "egress_firewall_host_scope": [(lambda s: s, "word")],
    "egress_firewall_container_scope": [(lambda s: s, "word")],
    "egress_firewall_metering_domains": [
        (lambda s: [s], "dns"),
        (lambda s: ["*.cognitive.microsoft.com", "*." + s], "dns"),
    ],
    "egress_firewall_metering_ports": [(lambda s: [s], "digits"), (lambda s: [443, s], "digits")],
    "egress_firewall_metering_ct_mark": [(lambda s: s, "digits"), (lambda s: "0x" + s, "digits")],
    "egress_firewall_translator_domain": [(lambda s: s, "dns")],
    "egress_firewall_extra_domains": [
        (lambda s: [{"name": s, "ports": [443]}], "dns"),
        (lambda s: [{"name": "mirror.example.com", "ports": [s]}], "digits"),
    ],
    "egress_firewall_resolvable_domains": [(lambda s: [s], "dns")],
    "egress_firewall_static_cidrs": [(lambda s: [s], "dns"), (lambda s: ["fe80::1%" + s], "dns")],
    "egress_firewall_static_ports": [(lambda s: [s], "digits")],
    "egress_firewall_dns_upstreams": [(lambda s: [s], "dns"), (lambda s: ["192.0.2.53", "fe80::1%" + s], "dns")],
    "egress_firewall_ntp_servers": [(lambda s: [s], "dns")],
    "egress_firewall_internal_cidrs": [(lambda s: [s], "dns"), (lambda s: ["10.0.0.0/8", s + "/24"], "dns")],
    "egress_firewall_internal_ports": [(lambda s: [s], "digits")],
    "egress_firewall_frontend_ports": [(lambda s: [s], "digits")],
    "egress_firewall_frontend_sources": [(lambda s: [s], "dns"), (lambda s: ["2001:db8::1%" + s], "dns")],
    "egress_firewall_management_ports": [(lambda s: [22, s], "digits")],
    "egress_firewall_proxy": [
        (lambda s: {"address": s, "port": 3128}, "dns"),
        (lambda s: {"address": "10.0.0.5", "port": s}, "digits"),
    ],
    "egress_firewall_name_check_port": [(lambda s: s, "digits")],
    "egress_firewall_name_check_clients": [(lambda s: [s], "dns"), (lambda s: ["172.16.0.0/12", s], "dns")],
    "egress_firewall_pinned_names": [(lambda s: [s], "dns")],
    "egress_firewall_container_interfaces": [(lambda s: [s], "iface"), (lambda s: ["docker0", s], "iface")],
    "egress_firewall_set_timeout": [(lambda s: s, "digits")],
    "egress_firewall_dns_max_ttl": [(lambda s: s, "digits")],
    "egress_firewall_confirm_timeout": [(lambda s: s, "digits")],
    "egress_firewall_reject": [(lambda s: s, "word")],
    "egress_firewall_log_denied": [(lambda s: s, "word")],
    "egress_firewall_uplink_guard": [(lambda s: s, "word")],
    "dpi_exemption_domains": [(lambda s: [s], "dns"), (lambda s: ["*.cognitive.microsoft.com", s], "dns")],
    "dpi_exemption_translator_domain": [(lambda s: s, "dns")],
    "dpi_exemption_policy_name": [(lambda s: s, "word")],
    "dpi_exemption_description": [(lambda s: s, "description")],
    "dpi_exemption_fortigate_profile": [(lambda s: s, "word")],
    "dpi_exemption_suricata_sid_base": [(lambda s: s, "digits")],
    "dpi_exemption_squid_allowlist_sources": [(lambda s: [s], "dns"), (lambda s: ["fe80::1%" + s], "dns")],
}
CASES = [(name, index) for name, slots in SLOTS.items() for index in range(len(slots))]

# What ends a word, a quoted string or a line in nft, dnsmasq, Squid, Suricata or an appliance's CLI, or starts
# a comment.
HOSTILE = [";", "\n", "'", '"', "{", "}", "#", "\x00", " ", "$", "\r", "\t", "\\"]
# A description is text in double quotes (and after a '#' on a comment line): these are plain text there.
TEXT = {"dpi_exemption_description": [";", "'", "{", "}", "#", " ", "$"]}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
PLAIN = ["", "cognitive.microsoft.com", "10.0.0.0/8", "fe80::1", "443", "0x10", "docker0", "true", "drop", "aich"]


def hostile(variable):
    fragments = [f for f in HOSTILE if f not in TEXT.get(variable, [])]
    return st.tuples(st.sampled_from(PLAIN), st.sampled_from(fragments), st.text(max_size=12)).map("".join)


def over_long(kind):
    """Longer than the grammar of that kind allows."""
    label = st.integers(64, 90).map(lambda n: "front." + "a" * n + ".lab")
    name = st.integers(254, 400).map(lambda n: ".".join(["b" * 62] * (n // 63 + 1))[:n].rstrip("."))
    return {
        "dns": st.one_of(label, name).filter(lambda text: len(text) > 253 or "a" * 64 in text),
        "digits": st.text("123456789", min_size=20, max_size=30),
        "iface": st.text(LETTERS, min_size=16, max_size=40),
        "word": st.text(LETTERS, min_size=65, max_size=90),
        "description": st.text(LETTERS + " ", min_size=256, max_size=300),
    }[kind]


def assert_refused_once(variable, value):
    errors = refusals(variable, value)
    assert len(errors) == 1, (variable, value, errors)
    # egress_firewall_extra_domains[0].ports: ..., egress_firewall_proxy.address: ...
    assert re.match(re.escape(variable) + r"(\[\d+\])?(\.\w+)?: ", errors[0]), errors


def test_every_rendered_variable_is_covered_by_a_check_and_by_these_tests():
    assert len(EGRESS_RENDERED) == 28
    assert len(DPI_RENDERED) == 7
    assert set(SLOTS) == set(EGRESS_RENDERED) | set(DPI_RENDERED)
    # Each is a variable of its role, with a documented type.
    for role, rendered in ((EGRESS_ROLE, EGRESS_RENDERED), (DPI_ROLE, DPI_RENDERED)):
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
        assert set(rendered) <= set(specs["options"])


def test_the_templates_render_no_egress_firewall_variable_directly():
    """Every user value reaches the table, dnsmasq and the units through the checked policy; the units take
    only the role's own vars/main.yml values."""
    for template in sorted((EGRESS_ROLE / "templates").glob("*.j2")):
        assert not re.findall(r"(?<!_)egress_firewall_[a-z_]+", template.read_text()), template.name


@pytest.mark.parametrize(("variable", "slot"), CASES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_hostile_text_is_refused_with_one_sentence_naming_the_variable(variable, slot, data):
    embed, _kind = SLOTS[variable][slot]
    assert_refused_once(variable, embed(data.draw(hostile(variable))))


@pytest.mark.parametrize(("variable", "slot"), CASES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_over_long_labels_names_and_numbers_are_refused_with_one_sentence(variable, slot, data):
    embed, kind = SLOTS[variable][slot]
    assert_refused_once(variable, embed(data.draw(over_long(kind))))


# Accepted before; each added a directive, a rule, a set element or a broken line to a rendered file.
@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        (
            "egress_firewall_static_cidrs",
            ["fe80::1%x }; chain evil { type filter hook output priority -1; policy accept; }"],
            "egress_firewall_static_cidrs: 'fe80::1%x }; chain evil { type filter hook output priority -1; policy "
            "accept; }' is not an IP address or CIDR such as '20.38.0.0/16'.",
        ),
        (
            "egress_firewall_name_check_clients",
            ["fe80::1%lo\nhttp_access allow all\n#"],
            "egress_firewall_name_check_clients: 'fe80::1%lo\\nhttp_access allow all\\n#' is not an IP address or "
            "CIDR such as '20.38.0.0/16'.",
        ),
        (
            "egress_firewall_set_timeout",
            "3600s; }; chain evil { type filter hook output priority -1; policy accept; }; set x { type ipv4_addr",
            None,
        ),
        ("egress_firewall_dns_max_ttl", "300\nserver=9.9.9.9", None),
        ("egress_firewall_translator_domain", "a;b.example", "egress_firewall_translator_domain: 'a;b.example' is"),
        ("egress_firewall_log_denied", "false", None),  # accepted, and now read as false
        (
            "dpi_exemption_squid_allowlist_sources",
            ["fe80::1%lo\nhttp_access allow all\n#"],
            "dpi_exemption_squid_allowlist_sources: 'fe80::1%lo\\nhttp_access allow all\\n#' is not an IP address or "
            "network; list the AI hosts' addresses, for example 10.0.0.20 or 10.0.0.0/24.",
        ),
        ("dpi_exemption_policy_name", "metering\n", "dpi_exemption_policy_name: 'metering\\n' must be"),
        ("dpi_exemption_suricata_sid_base", "²", "dpi_exemption_suricata_sid_base: give a whole number"),
    ],
)
def test_the_injections_accepted_before_are_refused(variable, value, sentence):
    errors = refusals(variable, value)
    if variable == "egress_firewall_log_denied":
        assert errors == [] and build_policy(dict(EGRESS_VALID, **{variable: value}))["log_denied"] is False
        return
    assert len(errors) == 1 and errors[0].startswith(variable + ": ")
    if sentence:
        assert errors[0].startswith(sentence)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("egress_firewall_metering_domains", ["cognitive.microsoft.com "]),  # checked whole, no longer stripped
        ("egress_firewall_metering_ports", ["+443"]),
        ("egress_firewall_metering_ports", ["4_43"]),
        ("egress_firewall_metering_ct_mark", "0x_10"),
        ("egress_firewall_metering_ct_mark", "0x100000000"),
        ("egress_firewall_metering_ct_mark", True),
        ("egress_firewall_static_cidrs", [" 10.0.0.0/8"]),
        ("egress_firewall_dns_upstreams", ["fe80::1%eth0"]),  # nft set elements take no zone
        ("egress_firewall_set_timeout", 0),
        ("egress_firewall_dns_max_ttl", 0),  # dnsmasq: no cap at all
        ("egress_firewall_confirm_timeout", -1),
        ("egress_firewall_confirm_timeout", 86401),
        ("egress_firewall_reject", "maybe"),
        ("egress_firewall_log_denied", None),
        ("egress_firewall_container_interfaces", ["eth0/1"]),
        # nft refuses a lone * ("All-wildcard strings are not supported") and 15 characters before it.
        ("egress_firewall_container_interfaces", ["*"]),
        ("egress_firewall_container_interfaces", ["a" * 15 + "*"]),
        ("dpi_exemption_domains", []),
        ("dpi_exemption_domains", "*.cognitive.microsoft.com"),
        ("dpi_exemption_policy_name", "-metering"),
        ("dpi_exemption_policy_name", "a" * 32),
        ("dpi_exemption_fortigate_profile", "a" * 48),
        ("dpi_exemption_suricata_sid_base", 0),
        ("dpi_exemption_suricata_sid_base", 2**32),
        ("dpi_exemption_description", ""),
        ("dpi_exemption_description", "do not decrypt \u00e9"),
    ],
)
def test_other_values_outside_the_grammar_are_refused_once(variable, value):
    assert_refused_once(variable, value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("egress_firewall_metering_domains", ["*.cognitive.microsoft.com", "Cognitive.Microsoft.com."]),
        ("egress_firewall_metering_domains", ["*.bücher.example"]),  # IDNA
        ("egress_firewall_metering_ports", ["443", 8443]),  # -e gives strings
        ("egress_firewall_metering_ct_mark", "0x00100000"),
        ("egress_firewall_metering_ct_mark", "1048576"),
        ("egress_firewall_metering_ct_mark", 0xFFFFFFFF),
        ("egress_firewall_static_cidrs", ["20.38.0.0/16", "2001:db8::/32", "192.0.2.7"]),
        ("egress_firewall_dns_upstreams", ["2001:db8::53"]),
        ("egress_firewall_host_scope", "off"),
        ("egress_firewall_container_scope", "accept"),
        ("egress_firewall_proxy", {"address": "2001:db8::5", "port": "3128"}),
        ("egress_firewall_name_check_port", "3129"),
        ("egress_firewall_container_interfaces", ["docker0", "br-*", "podman1", "veth*"]),
        ("egress_firewall_set_timeout", "7200"),
        ("egress_firewall_dns_max_ttl", 60),
        ("egress_firewall_confirm_timeout", 0),
        ("egress_firewall_reject", "no"),
        ("egress_firewall_log_denied", "yes"),
        ("dpi_exemption_translator_domain", ""),
        ("dpi_exemption_policy_name", "ai_meter.v2"),
        ("dpi_exemption_description", "Don't decrypt: metering (see #42; {ticket})"),
        ("dpi_exemption_suricata_sid_base", "1650000"),
        ("dpi_exemption_squid_allowlist_sources", ["10.213.0.21", "2001:db8::/64"]),
    ],
)
def test_values_inside_the_grammar_are_accepted(variable, value):
    assert refusals(variable, value) == []


def test_every_egress_error_is_reported_not_only_the_first():
    errors = egress_refusals(
        dict(EGRESS_VALID, egress_firewall_set_timeout="1;", egress_firewall_log_denied="x", egress_firewall_reject=2)
    )
    assert [error.split(":")[0] for error in errors] == [
        "egress_firewall_set_timeout",
        "egress_firewall_reject",
        "egress_firewall_log_denied",
    ]


@pytest.mark.parametrize(("text", "on"), [("false", False), ("no", False), ("0", False), ("true", True), ("yes", True)])
def test_switches_given_as_text_are_read_as_ansible_reads_them(text, on):
    """-e egress_firewall_translator=false gives the string "false", which Python reads as true."""
    policy = build_policy(dict(EGRESS_VALID, egress_firewall_translator=text, egress_firewall_image_registry=text))
    domains = str(policy["domain_groups"])
    assert ("translatoronprem.blob.core.windows.net" in domains) is on
    assert ("mcr.microsoft.com" in domains) is on


@pytest.mark.parametrize(
    "variable", ["egress_firewall_translator", "egress_firewall_image_registry", "egress_firewall_name_check"]
)
@pytest.mark.parametrize("text", ["maybe", "y", "t", "n", "f"])
def test_a_switch_that_is_not_a_boolean_is_refused_once(variable, text):
    """y, t, n and f pass the argument spec, but the bool filter the YAML uses reads them all as false."""
    errors = egress_refusals(dict(EGRESS_VALID, **{variable: text}))
    assert len(errors) == 1 and errors[0].startswith(variable + ": "), errors


def test_a_limit_of_two_variables_is_met_before_anything_is_written():
    """A FortiGate object name is the policy name and a domain: over 79 characters, refused in validate.yml."""
    domain = "a" * 50 + ".example.com"
    values = dict(DPI_VALID, dpi_exemption_domains=[domain], dpi_exemption_policy_name="p" * 20)
    (error,) = dpi_refusals(values)
    assert error.startswith("dpi_exemption_domains: '{0}' makes the FortiGate object name".format(domain))
    assert dpi_refusals(dict(values, dpi_exemption_appliances=["panos", "cisco"])) == []


def test_the_translator_domain_is_named_as_itself_and_stays_a_metering_domain():
    values = dict(EGRESS_VALID, egress_firewall_translator=True, egress_firewall_translator_domain="t.example.com")
    groups = build_policy(values)["domain_groups"]
    assert "t.example.com" in groups[0]["domains"] and groups[0]["metering"]
    (error,) = egress_refusals(dict(values, egress_firewall_translator_domain="t.example.com;"))
    assert error.startswith("egress_firewall_translator_domain: 't.example.com;'")


def test_the_checked_settings_are_what_the_table_and_dnsmasq_render():
    policy = build_policy(dict(EGRESS_VALID, egress_firewall_set_timeout="7200", egress_firewall_reject="false"))
    assert (policy["set_timeout"], policy["dns_max_ttl"], policy["reject"], policy["log_denied"]) == (
        7200,
        300,
        False,
        True,
    )
    for template in ("aicontainers.nft.j2", "dnsmasq.conf.j2"):
        text = (EGRESS_ROLE / "templates" / template).read_text()
        assert "p.set_timeout" in text


def test_the_defaults_are_accepted():
    assert set(EGRESS_RENDERED) <= set(EGRESS_DEFAULTS) | {
        "egress_firewall_metering_domains",
        "egress_firewall_translator_domain",
    }
    assert egress_refusals(EGRESS_DEFAULTS) == []
    assert set(DPI_RENDERED) <= set(defaults(DPI_ROLE))
    assert dpi_refusals(DPI_VALID) == []
    assert dpi_refusals(defaults(DPI_ROLE)) == []


def _scenario_values(prefix):
    """Every mapping of <prefix>* values in the Molecule scenarios and their shared config, templates left out."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            values = {k: v for k, v in node.items() if str(k).startswith(prefix) and "{{" not in str(v)}
            values = {k: v for k, v in values.items() if "${" not in str(v)}
            if values:
                found.append((where, values))
            for child in node.values():
                walk(child, where)
        elif isinstance(node, list):
            for child in node:
                walk(child, where)

    paths = [*sorted(ROOT.glob("molecule/*/*.yml")), ROOT / ".config" / "molecule" / "config.yml"]
    for path in paths:
        if "bad_input" not in path.name:
            walk(yaml.safe_load(path.read_text()), str(path.relative_to(ROOT)))
    return found


# Templated in the scenarios, with the values they render to, and the READMEs' examples.
LAB_TEMPLATED = [
    {  # molecule/field/templates/inventory.yml.j2 (molecule/field/molecule.yml's addresses)
        "egress_firewall_dns_upstreams": ["10.213.0.10"],
        "egress_firewall_confirm_timeout": 30,
        "egress_firewall_static_cidrs": ["10.213.0.50"],
        "egress_firewall_static_ports": [3142],
        "egress_firewall_image_registry": True,
    },
    {  # molecule/field/verify.yml: the changed static CIDRs it passes with -e
        "egress_firewall_dns_upstreams": ["10.213.0.10"],
        "egress_firewall_static_cidrs": ["10.213.0.50", "192.0.2.99"],
    },
    {  # playbooks/site.yml: the frontend guard, names mode and its pinned Billing host
        "egress_firewall_dns_upstreams": ["10.213.0.10"],
        "egress_firewall_frontend_ports": [5000, 5001],
        "egress_firewall_frontend_sources": ["10.213.0.20", "2001:db8::20"],
        "egress_firewall_name_check": True,
        "egress_firewall_pinned_names": ["westus.api.cognitive.microsoft.com"],
    },
    {  # roles/egress_firewall/README.md and README.md
        "egress_firewall_dns_upstreams": ["10.0.0.2"],
        "egress_firewall_ntp_servers": ["10.0.0.3"],
        "egress_firewall_translator": True,
        "egress_firewall_extra_domains": [{"name": "mirror.example.com", "ports": [443]}],
        "egress_firewall_proxy": {"address": "10.0.0.5", "port": 3128},
        "egress_firewall_proxy_allowlist_path": "/etc/squid/conf.d/aicontainers-allowlist.conf",
    },
]
DPI_TEMPLATED = [
    {  # playbooks/site.yml: the AI hosts' addresses (host_addresses: IPv4 and global IPv6, no zone)
        "dpi_exemption_backends": ["squid"],
        "dpi_exemption_squid_allowlist_sources": ["10.213.0.21", "10.213.0.22"],
    },
    {"dpi_exemption_backends": ["squid", "nfqueue", "appliances"], "dpi_exemption_translator": True},  # READMEs
]


def test_the_lab_values_are_accepted():
    egress = _scenario_values("egress_firewall_")
    dpi = _scenario_values("dpi_exemption_")
    names = {name for _where, values in egress for name in values}
    assert {"egress_firewall_dns_upstreams", "egress_firewall_metering_ct_mark", "egress_firewall_proxy"} <= names
    assert any("dpi_exemption_backends" in values for _where, values in dpi)
    for where, values in egress + [("templated", values) for values in LAB_TEMPLATED]:
        assert egress_refusals(dict(EGRESS_DEFAULTS, **values)) == [], where
    for where, values in dpi + [("templated", values) for values in DPI_TEMPLATED]:
        assert dpi_refusals(dict(defaults(DPI_ROLE), **values)) == [], where


def test_the_rendered_squid_files_of_the_lab_values_hold_only_checked_words():
    policy = build_policy(dict(EGRESS_DEFAULTS, egress_firewall_name_check=True, egress_firewall_image_registry=True))
    conf = squid_conf(
        policy,
        user="aicontainers-proxy",
        certificate="/etc/aicontainers/name-proxy.crt",
        key="/etc/aicontainers/name-proxy.key",
        pid_file="/run/aicontainers-name-proxy/squid.pid",
        access_log="/var/log/aicontainers-name-proxy/access.log",
    )
    for text in (conf, squid_allowlist(policy)):
        for line in text.splitlines():
            assert line.startswith("#") or not re.search(r"[;{}\"'\\\x00]", line), line


def _bad_input_cases(path):
    cases = yaml.safe_load(path.read_text())[0]["vars"]["verify_cases"]
    return [pytest.param(case, id=case["name"]) for case in cases if case["vars"] and "{{" not in str(case["vars"])]


@pytest.mark.parametrize("case", _bad_input_cases(ROOT / "molecule" / "egress_firewall" / "verify_bad_input.yml"))
def test_the_lab_egress_bad_input_cases_still_get_their_sentence(case):
    errors = egress_refusals(dict(EGRESS_DEFAULTS, **case["vars"]))
    assert not errors or case["message"] in " ".join(errors)


@pytest.mark.parametrize("case", _bad_input_cases(ROOT / "molecule" / "site" / "verify_dpi_bad_input.yml"))
def test_the_lab_dpi_bad_input_cases_still_get_their_sentence(case):
    """validate.yml's grammar check runs first: when it stops a case, it gives that case's sentence."""
    values = dict(defaults(DPI_ROLE), **case["vars"])
    if set(values["dpi_exemption_backends"]) - {"squid", "nfqueue", "appliances"}:
        return  # the argument spec's choices stop it before validate.yml
    errors = dpi_refusals(values)
    assert not errors or case["message"] in " ".join(errors)


def test_the_filter_returns_errors_and_wants_a_dictionary():
    assert dpi_config_errors(DPI_VALID) == {"errors": []}
    assert dpi_config_errors({"dpi_exemption_policy_name": "a;b"})["errors"][0].startswith("dpi_exemption_policy_name")
    with pytest.raises(AnsibleFilterError):
        dpi_config_errors(["dpi_exemption_policy_name"])


def test_dpi_validate_yml_checks_every_rendered_variable_first_and_shows_every_error():
    first = yaml.safe_load((DPI_ROLE / "tasks" / "validate.yml").read_text())[0]
    rendered = first["vars"]["__dpi_exemption_rendered"]
    assert set(DPI_RENDERED) <= set(rendered)
    assert all(rendered[name] == "{{ " + name + " }}" for name in DPI_RENDERED)
    assert "dpi_config_errors" in first["vars"]["__dpi_exemption_grammar"]
    assert first["ansible.builtin.assert"]["fail_msg"] == "{{ __dpi_exemption_grammar.errors | join(' ') }}"


def test_egress_validate_yml_hands_every_egress_firewall_variable_to_the_policy():
    build = yaml.safe_load((EGRESS_ROLE / "tasks" / "validate.yml").read_text())[3]
    assert "'^egress_firewall_[a-z]'" in build["vars"]["__egress_firewall_names"]
    assert "egress_policy" in build["ansible.builtin.set_fact"]["__egress_firewall_policy"]
