"""mtls_frontend: every value pasted into NGINX's configuration or a certificate fits the grammar of its place.

The property tests feed every variable of RENDERED hostile text (NGINX
punctuation, a newline, quotes, NUL, over-long labels and names): each is
refused with exactly one sentence naming the variable. The lab's own values
(the role's defaults, the Molecule scenarios, the READMEs' examples) pass.
"""

import pathlib
import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.aicontainers.hardening.plugins.filter.mtls_frontend_config_errors import (
    mtls_frontend_config_errors,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_grammar import RENDERED, config_errors

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "mtls_frontend"


def resolved_defaults(inventory_hostname="aich-aihost"):
    """defaults/main.yml with its "{{ var }}" references filled in, as Ansible would."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    context = dict(defaults, inventory_hostname=inventory_hostname)

    def fill(value):
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, str):
            return re.sub(r"\{\{ (\w+) \}\}", lambda m: fill(context[m.group(1)]), value)
        return value

    return {name: fill(value) for name, value in defaults.items()}


VALID = {name: value for name, value in resolved_defaults().items() if name in RENDERED}

# Where a user's text lands in each variable, and which length rule bounds it
# there (None: none does, e.g. an allowlist path prefix; its identity slot has one).
SLOTS = {
    "mtls_frontend_listen_address": [(lambda s: s, "dns")],
    "mtls_frontend_port": [(lambda s: s, "digits")],
    "mtls_frontend_server_names": [(lambda s: [s], "dns"), (lambda s: ["front.lab", s], "dns")],
    "mtls_frontend_upstreams": [(lambda s: [s + ":5000"], "dns"), (lambda s: ["127.0.0.1:" + s], "digits")],
    "mtls_frontend_upstream_keepalive": [(lambda s: s, "digits")],
    "mtls_frontend_upstream_tls": [(lambda s: {s + ":443": "gate.lab"}, "dns"), (lambda s: {"10.0.0.1:443": s}, "dns")],
    "mtls_frontend_upstream_client": [(lambda s: s, "cn")],
    "mtls_frontend_hsts_max_age": [(lambda s: s, "digits")],
    "mtls_frontend_ca_name": [(lambda s: s, "cn")],
    "mtls_frontend_pki_dir": [(lambda s: s, "path")],
    "mtls_frontend_clients": [
        (lambda s: [s], "cn"),
        (lambda s: [{"name": "app1", "host": "client1", "dir": s}], "path"),
        (lambda s: [{"name": "app1", "san": ["DNS:" + s]}], "dns"),
    ],
    "mtls_frontend_client_dir": [(lambda s: s, "path")],
    "mtls_frontend_authorized_clients": [
        (lambda s: ["CN=" + s], "cn"),
        (lambda s: [{"identity": "DNS:" + s, "paths": ["/text"]}], "dns"),
        (lambda s: [{"identity": "CN=app1", "paths": ["/" + s]}], None),
    ],
    "mtls_frontend_server_cert": [(lambda s: s, "path")],
    "mtls_frontend_server_key": [(lambda s: s, "path")],
    "mtls_frontend_client_ca": [(lambda s: s, "path")],
    "mtls_frontend_crl": [(lambda s: s, "path")],
    "mtls_frontend_verify_depth": [(lambda s: s, "digits")],
    "mtls_frontend_rate": [(lambda s: s + "r/s", "digits")],
    "mtls_frontend_burst": [(lambda s: s, "digits")],
    "mtls_frontend_client_max_body_size": [(lambda s: s + "m", "digits")],
    "mtls_frontend_proxy_read_timeout": [(lambda s: s + "s", "digits")],
    "mtls_frontend_proxy_send_timeout": [(lambda s: s + "s", "digits")],
    "mtls_frontend_proxy_connect_timeout": [(lambda s: s + "s", "digits")],
}
CASES = [(name, index) for name, slots in SLOTS.items() for index in range(len(slots))]

# What ends an NGINX word, quoted string or line, starts a comment or a variable.
HOSTILE = [";", "\n", "'", '"', "{", "}", "#", "\x00", " ", "$", "\r", "\t", "\\"]
# Inside a certificate's CN a space is plain text (the default CA name has two).
CN_TEXT = {"mtls_frontend_ca_name": [" "]}
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def hostile(variable):
    fragments = [f for f in HOSTILE if f not in CN_TEXT.get(variable, [])]
    plain = st.sampled_from(["", "front.lab", "/etc/aicontainers/pki", "20", "app1", "127.0.0.1:5000"])
    return st.tuples(plain, st.sampled_from(fragments), st.text(max_size=12)).map("".join)


def over_long(kind):
    """Longer than the grammar of that kind allows."""
    label = st.integers(64, 90).map(lambda n: "front." + "a" * n + ".lab")
    name = st.integers(254, 400).map(lambda n: ".".join(["b" * 62] * (n // 63 + 1))[:n].rstrip("."))
    return {
        "dns": st.one_of(label, name).filter(lambda text: len(text) > 253 or "a" * 64 in text),
        "cn": st.text(LETTERS, min_size=65, max_size=90),
        "path": st.integers(4096, 4200).map(lambda n: "/" + "p" * (n - 1)),
        "digits": st.text("123456789", min_size=20, max_size=30),
    }[kind]


def refusals(variable, value):
    return config_errors(dict(VALID, **{variable: value}))


def assert_refused_once(variable, value):
    errors = refusals(variable, value)
    assert len(errors) == 1, (variable, value, errors)
    assert errors[0].startswith(variable + ": "), errors


def test_every_rendered_variable_is_covered_by_a_check_and_by_these_tests():
    assert len(RENDERED) == 24
    assert set(SLOTS) == set(RENDERED)


@pytest.mark.parametrize(("variable", "slot"), CASES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_nginx_punctuation_is_refused_with_one_sentence_naming_the_variable(variable, slot, data):
    embed, _kind = SLOTS[variable][slot]
    assert_refused_once(variable, embed(data.draw(hostile(variable))))


@pytest.mark.parametrize(("variable", "slot"), [case for case in CASES if SLOTS[case[0]][case[1]][1]])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_over_long_labels_and_names_are_refused_with_one_sentence(variable, slot, data):
    embed, kind = SLOTS[variable][slot]
    assert_refused_once(variable, embed(data.draw(over_long(kind))))


def test_every_variable_has_a_slot_with_a_length_rule():
    assert all(any(kind for _embed, kind in slots) for slots in SLOTS.values())


@settings(max_examples=200, deadline=None)
@given(
    labels=st.lists(st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?", fullmatch=True), min_size=2, max_size=3),
    wildcard=st.booleans(),
)
def test_dns_names_are_accepted_as_server_names(labels, wildcard):
    """At most 64 characters, with the wildcard: the first name is also the CN."""
    name = ".".join(labels)
    if re.fullmatch(r"[0-9.]+", name):  # digits and dots are an IPv4 address or nothing
        return
    assert refusals("mtls_frontend_server_names", [("*." if wildcard else "") + name]) == []


def test_the_injection_from_the_report_is_refused():
    assert refusals("mtls_frontend_server_names", ["front.lab; return 200 pwned"]) == [
        "mtls_frontend_server_names: 'front.lab; return 200 pwned' is not a DNS name or *.<DNS name> (letters, "
        "digits and hyphens in dot-separated labels of at most 63 characters, 253 in all); give a name clients use "
        "to reach the frontend, or its IPv4 address."
    ]


def test_a_first_server_name_too_long_for_the_certificate_cn_is_refused_before_issuance():
    long_name = ".".join(["a" * 20] * 3) + ".lab.example"  # 73 characters: a DNS name, not a CN
    assert refusals("mtls_frontend_server_names", [long_name]) == [
        "mtls_frontend_server_names: {0!r} is not a certificate CN (64 characters at most); put a shorter name "
        "first.".format(long_name)
    ]
    assert refusals("mtls_frontend_server_names", ["front.lab", long_name]) == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("mtls_frontend_server_names", []),
        ("mtls_frontend_server_names", ["::1"]),  # would become a DNS: SAN
        ("mtls_frontend_server_names", ["10.0.0.256"]),
        ("mtls_frontend_server_names", ["-front.lab"]),
        ("mtls_frontend_server_names", ["front.lab."]),
        ("mtls_frontend_upstream_tls", {"10.0.0.1:443": "10.0.0.1"}),  # proxy_ssl_name checks DNS names
        ("mtls_frontend_upstream_tls", {"10.0.0.1:443": "*.gate.lab"}),
        ("mtls_frontend_upstreams", [":5000"]),
        ("mtls_frontend_upstreams", ["127.0.0.1:65536"]),
        ("mtls_frontend_listen_address", "::"),  # listen [::]:443, in brackets
        ("mtls_frontend_port", True),
        ("mtls_frontend_port", 0),
        ("mtls_frontend_upstream_keepalive", -1),
        ("mtls_frontend_server_cert", "etc/server.crt"),
        ("mtls_frontend_crl", None),
        ("mtls_frontend_rate", "0r/s"),
        ("mtls_frontend_rate", "20r/h"),
        ("mtls_frontend_client_max_body_size", "50 parsecs"),
        ("mtls_frontend_client_max_body_size", "1t"),
        ("mtls_frontend_proxy_read_timeout", "5 m"),
        ("mtls_frontend_proxy_read_timeout", "s"),
        ("mtls_frontend_ca_name", " CA"),
        ("mtls_frontend_ca_name", "C" * 65),
        ("mtls_frontend_clients", [{"name": "app1", "san": ["CN=app1"]}]),
        ("mtls_frontend_clients", [{"name": "app1", "san": ["email:x@-bad"]}]),
        ("mtls_frontend_authorized_clients", ["URI:https://x.example/$ssl_client_s_dn"]),
        ("mtls_frontend_authorized_clients", [{"identity": "CN=app1", "paths": ["/text/../speech"]}]),
    ],
)
def test_other_values_outside_the_grammar_are_refused_once(variable, value):
    assert_refused_once(variable, value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("mtls_frontend_server_names", ["*.front.lab", "front.lab", "10.213.0.20"]),
        ("mtls_frontend_listen_address", "[::]"),
        ("mtls_frontend_listen_address", "10.0.0.5"),
        ("mtls_frontend_upstreams", ["[::1]:5000", "ai1.example.net:8080"]),
        ("mtls_frontend_port", "8443"),  # -e gives strings
        ("mtls_frontend_crl", ""),
        ("mtls_frontend_upstream_client", ""),
        ("mtls_frontend_proxy_read_timeout", "1h30m"),
        ("mtls_frontend_proxy_connect_timeout", "500ms"),
        ("mtls_frontend_client_max_body_size", "1048576"),
        ("mtls_frontend_rate", "600r/m"),
        ("mtls_frontend_clients", [{"name": "svc@example", "san": ["email:svc@example.org", "DNS:svc.example.org"]}]),
        ("mtls_frontend_authorized_clients", None),
        ("mtls_frontend_authorized_clients", ["email:Svc@Example.org", {"identity": "DNS:svc.example.org"}]),
    ],
)
def test_values_inside_the_grammar_are_accepted(variable, value):
    assert refusals(variable, value) == []


def test_every_error_is_reported_not_only_the_first():
    errors = config_errors(dict(VALID, mtls_frontend_rate="1;", mtls_frontend_burst="x", mtls_frontend_crl="a b"))
    assert [error.split(":")[0] for error in errors] == [
        "mtls_frontend_crl",
        "mtls_frontend_rate",
        "mtls_frontend_burst",
    ]


def test_the_defaults_are_accepted():
    assert set(VALID) == set(RENDERED)
    assert config_errors(VALID) == []


def _scenario_values():
    """Every mapping of mtls_frontend_* values in the Molecule scenarios, templates left out."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            values = {k: v for k, v in node.items() if k in RENDERED and "{{" not in str(v)}
            if values:
                found.append((where, values))
            for child in node.values():
                walk(child, where)
        elif isinstance(node, list):
            for child in node:
                walk(child, where)

    for path in sorted(ROOT.glob("molecule/*/*.yml")):
        if path.name != "verify_bad_input.yml":
            walk(yaml.safe_load(path.read_text()), str(path.relative_to(ROOT)))
    return found


# Templated in the scenarios, with the values they render to.
LAB_TEMPLATED = [
    {  # molecule/field/templates/inventory.yml.j2
        "mtls_frontend_server_names": ["front.lab", "10.213.0.63"],
        "mtls_frontend_upstreams": ["10.213.0.61:5000", "10.213.0.62:5000"],
        "mtls_frontend_clients": ["app1"],
    },
    {  # molecule/mtls_frontend/verify_upstream_tls.yml
        "mtls_frontend_upstreams": ["10.213.0.21:443"],
        "mtls_frontend_upstream_tls": {"10.213.0.21:443": "aihost2.lab"},
        "mtls_frontend_upstream_client": "hop-aihost",
        "mtls_frontend_clients": [{"name": "hop-aihost", "host": "aich-aihost", "dir": "/etc/aicontainers/hop"}],
    },
    {  # playbooks/site.yml: the request limits of the AI hosts' container kind
        "mtls_frontend_client_max_body_size": "1024k",
        "mtls_frontend_proxy_read_timeout": "300s",
    },
    {  # README.md and roles/mtls_frontend/README.md
        "mtls_frontend_server_names": ["ai.example.com"],
        "mtls_frontend_upstreams": ["10.0.1.11:5000", "10.0.1.11:5001", "10.0.1.12:5000", "10.0.1.12:5001"],
        "mtls_frontend_clients": [
            {"name": "app1", "host": "web1"},
            "partner-app",
            "billing-app",
            {"name": "search-app", "host": "search1", "san": ["URI:spiffe://example.org/ns/search/sa/api"]},
        ],
        "mtls_frontend_authorized_clients": [
            "CN=billing-app",
            {"identity": "URI:spiffe://example.org/ns/search/sa/api", "paths": ["/text/analytics"]},
        ],
    },
]


def test_the_lab_values_are_accepted():
    found = _scenario_values()
    names = {name for _where, values in found for name in values}
    assert {"mtls_frontend_server_names", "mtls_frontend_clients", "mtls_frontend_authorized_clients"} <= names
    for where, values in found + [("templated", values) for values in LAB_TEMPLATED]:
        assert config_errors(dict(VALID, **values)) == [], where
    for hostname in ("aich-aihost", "aich-aihost2", "aich-ffront", "front1"):  # the default server name
        assert config_errors(resolved_defaults(hostname)) == []


BAD_INPUT = yaml.safe_load((ROOT / "molecule" / "mtls_frontend" / "verify_bad_input.yml").read_text())[0]["vars"]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case["name"],
        )
        for case in BAD_INPUT["verify_cases"]
        if isinstance(case["vars"], dict)
    ],
)
def test_the_lab_bad_input_cases_still_get_their_sentence(case):
    """verify_bad_input.yml expects its sentence; when this check stops the case first, it gives that sentence."""
    errors = config_errors(dict(VALID, **case["vars"]))
    assert not errors or case["message"] in " ".join(errors)


def test_the_overflowing_size_passes_the_grammar_for_nginx_to_refuse():
    assert refusals("mtls_frontend_client_max_body_size", "999999999999999999g") == []


def test_the_filter_returns_errors_and_wants_a_dictionary():
    assert mtls_frontend_config_errors(VALID) == {"errors": []}
    assert mtls_frontend_config_errors({"mtls_frontend_rate": "20r/s;"})["errors"][0].startswith("mtls_frontend_rate")
    with pytest.raises(AnsibleFilterError):
        mtls_frontend_config_errors(["mtls_frontend_rate"])


def test_validate_yml_checks_every_rendered_variable_first_and_shows_every_error():
    first = yaml.safe_load((ROLE / "tasks" / "validate.yml").read_text())[0]
    rendered = first["vars"]["__mtls_frontend_rendered"]
    assert rendered == {name: "{{ " + name + " }}" for name in RENDERED}
    assert "mtls_frontend_config_errors" in first["vars"]["__mtls_frontend_grammar"]
    assert first["ansible.builtin.assert"]["fail_msg"] == "{{ __mtls_frontend_grammar.errors | join(' ') }}"
