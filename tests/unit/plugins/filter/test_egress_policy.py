"""egress_policy: validation sentences and the normalised policy the templates render."""

import pytest

from ansible_collections.aicontainers.hardening.plugins.filter.egress_policy import (
    egress_policy,
    egress_unfiltered_networks,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import (
    PolicyError,
    build_policy,
    squid_allowlist,
)

BASE = {"egress_firewall_dns_upstreams": ["192.0.2.53"]}


def policy(**overrides):
    return build_policy(dict(BASE, **overrides))


def errors(**overrides):
    with pytest.raises(PolicyError) as error:
        policy(**overrides)
    return error.value.errors


def test_defaults_allow_the_two_metering_wildcards_on_443():
    (group,) = policy()["domain_groups"]
    assert group["domains"] == ["cognitive.microsoft.com", "cognitiveservices.azure.com"]
    assert group["ports"] == [443]
    assert group["dnsmasq_nftset"] == (
        "/cognitive.microsoft.com/cognitiveservices.azure.com/"
        "4#inet#aicontainers#domains0_v4,6#inet#aicontainers#domains0_v6"
    )


def test_translator_toggle_adds_its_blob_domain():
    domains = policy(egress_firewall_translator=True)["domain_groups"][0]["domains"]
    assert "translatoronprem.blob.core.windows.net" in domains


def test_domains_are_grouped_by_port_and_a_repeated_domain_gets_one_line():
    groups = policy(
        egress_firewall_extra_domains=[
            {"name": "mirror.example.com", "ports": [80, 443]},
            {"name": "*.cognitive.microsoft.com", "ports": [8443]},
        ]
    )["domain_groups"]
    by_domain = {domain: group["ports"] for group in groups for domain in group["domains"]}
    assert by_domain["mirror.example.com"] == [80, 443]
    assert by_domain["cognitive.microsoft.com"] == [443, 8443]
    assert sum(domain == "cognitive.microsoft.com" for group in groups for domain in group["domains"]) == 1


@pytest.mark.parametrize(
    "domain, message",
    [
        ("*cognitive.microsoft.com", "not the whole leftmost label"),
        ("cognitive.*.com", "not the whole leftmost label"),
        ("**.cognitive.microsoft.com", "not the whole leftmost label"),
        ("cognitive..microsoft.com", "is not a valid domain name"),
        ("localhost", "is not a valid domain name"),
        ("-bad.example.com", "is not a valid domain name"),
        ("under_score.example.com", "is not a valid domain name"),
        ("", "every entry must be a domain name"),
    ],
)
def test_bad_domains_are_named_with_the_variable(domain, message):
    (error,) = errors(egress_firewall_metering_domains=[domain])
    assert error.startswith("egress_firewall_metering_domains: ")
    assert message in error


def test_trailing_dot_and_case_are_normalised():
    group = policy(egress_firewall_metering_domains=["*.Cognitive.Microsoft.COM."])["domain_groups"][0]
    assert group["domains"] == ["cognitive.microsoft.com"]


@pytest.mark.parametrize("port", [0, 70000, "https", -1, True])
def test_ports_out_of_range(port):
    (error,) = errors(egress_firewall_extra_domains=[{"name": "mirror.example.com", "ports": [port]}])
    assert error.startswith("egress_firewall_extra_domains[0].ports: port ")
    assert "out of range" in error


def test_cidrs_are_split_by_family_and_sorted():
    result = policy(egress_firewall_static_cidrs=["20.38.0.0/16", "2603:1000::/40", "10.0.0.1", "10.0.0.7/24"])
    assert result["static_v4"] == ["10.0.0.0/24", "10.0.0.1", "20.38.0.0/16"]
    assert result["static_v6"] == ["2603:1000::/40"]


def test_invalid_cidr():
    (error,) = errors(egress_firewall_static_cidrs=["10.0.0.300/8"])
    assert error == "egress_firewall_static_cidrs: '10.0.0.300/8' is not an IP address or CIDR such as '20.38.0.0/16'."


def test_dns_upstreams_are_required_and_must_be_addresses():
    assert any(
        e.startswith("egress_firewall_dns_upstreams: give the IP addresses")
        for e in errors(egress_firewall_dns_upstreams=[])
    )
    (error,) = errors(egress_firewall_dns_upstreams=["10.0.0.0/8"])
    assert error == "egress_firewall_dns_upstreams: '10.0.0.0/8' must be a single IP address, not a network."


def test_unknown_scope():
    (error,) = errors(egress_firewall_host_scope="block")
    assert error.startswith("egress_firewall_host_scope: 'block' is not a scope policy")


def test_every_problem_is_reported_at_once():
    assert len(errors(egress_firewall_static_cidrs=["x"], egress_firewall_metering_domains=["*x"])) == 2


def test_proxy_and_its_squid_allowlist():
    result = policy(egress_firewall_proxy={"address": "10.0.0.5", "port": 3128})
    assert result["proxy"] == {"v4": ["10.0.0.5"], "v6": [], "port": 3128}
    squid = squid_allowlist(result)
    assert "acl aich_domains0 dstdomain .cognitive.microsoft.com .cognitiveservices.azure.com" in squid
    assert "acl aich_domains0_ports port 443" in squid
    assert "http_access allow CONNECT aich_domains0 aich_domains0_ports" in squid
    assert squid.rstrip().endswith("http_access deny all")


def test_filter_returns_errors_instead_of_raising():
    assert egress_policy({"egress_firewall_dns_upstreams": ["nope"]})["errors"] == [
        "egress_firewall_dns_upstreams: 'nope' is not an IP address."
    ]
    assert egress_policy(BASE)["errors"] == []


def test_metering_domains_never_share_a_group_with_extra_domains():
    groups = policy(egress_firewall_extra_domains=[{"name": "mirror.example.com", "ports": [443]}])["domain_groups"]
    assert [(group["domains"], group["metering"]) for group in groups] == [
        (["cognitive.microsoft.com", "cognitiveservices.azure.com"], True),
        (["mirror.example.com"], False),
    ]


@pytest.mark.parametrize("value, expected", [("0x00100000", 0x100000), (16, 16), (None, 0), (0, 0)])
def test_metering_ct_mark_accepts_numbers_and_hex(value, expected):
    assert policy(egress_firewall_metering_ct_mark=value)["metering_ct_mark"] == expected


@pytest.mark.parametrize("value", ["mark", -1, 2**32, True])
def test_bad_metering_ct_mark_names_the_variable(value):
    with pytest.raises(PolicyError) as error:
        policy(egress_firewall_metering_ct_mark=value)
    assert str(error.value).startswith("egress_firewall_metering_ct_mark:")


def test_internal_destinations_need_ports():
    assert errors(egress_firewall_internal_cidrs=["10.0.1.0/24"]) == [
        "egress_firewall_internal_ports: give at least one TCP port (for example 443)."
    ]
    assert policy()["internal_ports"] == []


def test_the_resolver_forwards_the_allowed_domains_and_the_listed_names_normalised():
    resolvable = policy(
        egress_firewall_extra_domains=[{"name": "Mirror.Example.com.", "ports": [443]}],
        egress_firewall_resolvable_domains=["NTP.Example.org."],
    )
    assert resolvable["resolvable_domains"] == [
        "cognitive.microsoft.com",
        "cognitiveservices.azure.com",
        "mirror.example.com",
        "ntp.example.org",
    ]


def test_a_bad_resolvable_domain_names_the_variable():
    (message,) = errors(egress_firewall_resolvable_domains=["bad..name"])
    assert message.startswith("egress_firewall_resolvable_domains: 'bad..name' is not a valid domain name")


def test_unfilterable_networks_are_named_unless_accepted():
    networks = [
        {"Name": "bridge", "Driver": "bridge"},
        {"Name": "lan", "Driver": "macvlan"},
        {"Name": "l3", "Driver": "ipvlan"},
    ]
    (sentence,) = egress_unfiltered_networks(networks)
    assert sentence.startswith("Docker network(s) l3 (ipvlan), lan (macvlan) put their containers straight onto")
    assert "egress_firewall_unfiltered_networks_accepted" in sentence
    assert egress_unfiltered_networks(networks, accepted=["lan", "l3"]) == []
    assert egress_unfiltered_networks([{"Name": "bridge", "Driver": "bridge"}]) == []


def test_frontend_ports_need_the_frontends_addresses():
    with pytest.raises(PolicyError) as error:
        build_policy(dict(BASE, egress_firewall_frontend_ports=[5000]))
    assert error.value.errors == [
        "egress_firewall_frontend_sources: give the frontends' addresses; without them no frontend "
        "could open egress_firewall_frontend_ports 5000."
    ]


def test_frontend_sources_are_split_by_family():
    policy = build_policy(
        dict(
            BASE,
            egress_firewall_frontend_ports=["5001", 5000],
            egress_firewall_frontend_sources=["fd00::1", "10.0.0.20"],
        )
    )
    assert (policy["frontend_ports"], policy["frontend_sources_v4"], policy["frontend_sources_v6"]) == (
        [5000, 5001],
        ["10.0.0.20"],
        ["fd00::1"],
    )


def test_the_image_registry_is_allowed_only_when_asked_and_is_not_metering():
    def registry_groups(**options):
        groups = policy(**options)["domain_groups"]
        return [group for group in groups if "mcr.microsoft.com" in group["domains"]]

    assert registry_groups() == []
    (group,) = registry_groups(egress_firewall_image_registry=True)
    assert group["ports"] == [443] and not group["metering"]
    assert "data.mcr.microsoft.com" in group["domains"]
