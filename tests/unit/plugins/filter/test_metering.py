"""One metering registry: the firewall, the DPI exemption and the container's check agree on every name."""

import re

import pytest

from ansible_collections.aicontainers.hardening.plugins.filter.metering_domains import metering_domains
from ansible_collections.aicontainers.hardening.plugins.module_utils import _metering
from ansible_collections.aicontainers.hardening.plugins.module_utils.ai_container_spec import build_spec
from ansible_collections.aicontainers.hardening.plugins.module_utils.dpi_policy import (
    render_suricata_pass_rules,
    squid_server_names,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import PolicyError, build_policy

ENTRIES = ["*.cognitive.microsoft.com", "cognitiveservices.azure.com", "translatoronprem.blob.core.windows.net"]
# name -> covered by ENTRIES
NAMES = {
    "westus.api.cognitive.microsoft.com": True,
    "cognitive.microsoft.com": True,
    "COGNITIVE.Microsoft.com.": True,
    "myres.cognitiveservices.azure.com": True,
    "cognitiveservices.azure.com": True,
    "translatoronprem.blob.core.windows.net": True,
    "x.translatoronprem.blob.core.windows.net": True,
    "evilcognitive.microsoft.com": False,
    "cognitive.microsoft.com.evil.net": False,
    "microsoft.com": False,
    "blob.core.windows.net": False,
    "other.blob.core.windows.net": False,
}
AI_CONTAINER = {
    "ai_container_name": "language",
    "ai_container_kind": "language",
    "ai_container_eula": "accept",
    "ai_container_api_key": "k",
    "ai_container_image": "mcr.microsoft.com/azure-cognitive-services/textanalytics/language:latest",
}


def firewall_allows(name):
    """The firewall's view: dnsmasq's nftset= lines fill the allowed sets for a domain and everything under it."""
    policy = build_policy(
        {"egress_firewall_metering_domains": ENTRIES, "egress_firewall_dns_upstreams": ["192.0.2.53"]}
    )
    domains = [
        name
        for group in policy["domain_groups"]
        for name in group["dnsmasq_nftset"].split("#")[0].strip("/").split("/")[:-1]
    ]
    host = _metering.normalise_name(name)
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def dpi_exempts(name):
    """The DPI exemption's view: Suricata's SNI pass rules and Squid's dstdomain-style server names."""
    host = _metering.normalise_name(name)
    rules = render_suricata_pass_rules(ENTRIES)
    suffixes = re.findall(r'dotprefix; content:"([^"]+)"; endswith', rules)
    by_suricata = any(("." + host).endswith(suffix) for suffix in suffixes)
    by_squid = any(
        host == server[1:] or host.endswith(server)
        for server in squid_server_names(ENTRIES)
        if not server.endswith(".")
    )
    assert by_suricata == by_squid, name
    return by_suricata


def container_accepts(name):
    options = dict(
        AI_CONTAINER, ai_container_billing_endpoint=f"https://{name}/", ai_container_egress_allowed_domains=ENTRIES
    )
    try:
        build_spec(options)
    except ValueError as error:
        assert "is not covered by the egress allowlist" in str(error)
        return False
    return True


@pytest.mark.parametrize(("name", "covered"), sorted(NAMES.items()))
def test_the_three_roles_agree_on_every_name(name, covered):
    assert _metering.covers(ENTRIES, name, "v") is covered
    assert firewall_allows(name) is covered
    assert dpi_exempts(name) is covered
    assert container_accepts(name) is covered


def test_unset_means_microsofts_list_and_translator_is_added_on_request():
    assert metering_domains(None) == list(_metering.DEFAULT_DOMAINS)
    assert metering_domains(None, True) == [*_metering.DEFAULT_DOMAINS, _metering.TRANSLATOR_DOMAIN]
    assert metering_domains(["a.example.com"], True, "t.example.com") == ["a.example.com", "t.example.com"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("*cognitive.microsoft.com", "whole leftmost label"),
        ("cognitive..microsoft.com", "not a valid domain name"),
        ("localhost", "not a valid domain name"),
        ("cognitive microsoft.com", "whitespace"),
        (42, "every entry must be a domain name"),
    ],
)
def test_every_role_refuses_the_same_bad_entries_naming_its_variable(value, words):
    with pytest.raises(_metering.MeteringError, match="^my_var: .*" + words):
        _metering.parse(value, "my_var")
    with pytest.raises(PolicyError, match="egress_firewall_metering_domains: .*" + words):
        build_policy({"egress_firewall_metering_domains": [value], "egress_firewall_dns_upstreams": ["192.0.2.53"]})


def test_international_names_are_compared_as_idna():
    assert _metering.parse("*.bücher.example", "v").name == "xn--bcher-kva.example"
    assert _metering.covers(["*.bücher.example"], "shop.xn--bcher-kva.example", "v")
