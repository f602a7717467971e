"""Names mode: the policy's validation sentences and the proxy's squid.conf."""

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_name_proxy import squid_conf
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import (
    PolicyError,
    build_policy,
    squid_allowlist,
)

BASE = {"egress_firewall_dns_upstreams": ["192.0.2.53"], "egress_firewall_name_check": True}
PINNED = "westus.api.cognitive.microsoft.com"


def conf(**overrides):
    policy = build_policy(dict(BASE, **overrides))
    return squid_conf(
        policy, user="aicontainers-proxy", certificate="/c.crt", key="/c.key", pid_file="/p.pid", access_log="/p.log"
    ).splitlines()


def errors(**overrides):
    with pytest.raises(PolicyError) as error:
        build_policy(dict(BASE, **overrides))
    return error.value.errors


def test_connect_names_never_match_an_address_and_the_handshake_name_is_checked_too():
    lines = conf()
    names = ".cognitive.microsoft.com .cognitiveservices.azure.com"
    assert "acl aich_names0 dstdomain -n " + names in lines
    assert "acl aich_names0_sni ssl::server_name --client-requested " + names in lines
    assert "http_access allow aich_names0 aich_names0_ports" in lines
    # Peek at the ClientHello, splice only when CONNECT and SNI both match, end everything else.
    assert lines[-3:] == [
        "ssl_bump peek aich_step1",
        "ssl_bump splice aich_names0 aich_names0_sni",
        "ssl_bump terminate all",
    ]
    assert "generate-host-certificates=off" in lines[2] and "ssl-bump" in lines[2]
    assert "cache_effective_user aicontainers-proxy" in lines
    assert "dns_nameservers 127.0.0.1" in lines


def test_a_restart_waits_seconds_not_squids_default_half_minute_for_open_tunnels():
    # dnsmasq restarted under the proxy (Requires=) restarts it too: twice in a first run.
    assert "shutdown_lifetime 2 seconds" in conf()


def test_refusals_are_resets_and_strangers_are_refused_first():
    lines = conf()
    assert lines.index("http_access deny !aich_clients") < lines.index(
        "http_access allow aich_names0 aich_names0_ports"
    )
    assert "deny_info TCP_RESET aich_refused" in lines and "deny_info TCP_RESET aich_clients" in lines
    assert "http_access deny aich_refused" in lines
    assert "acl aich_clients src 127.0.0.0/8 ::1 172.16.0.0/12" in conf(
        egress_firewall_name_check_clients=["172.16.0.0/12"]
    )


def test_pinning_narrows_the_metering_group_to_exact_names_only():
    lines = conf(
        egress_firewall_pinned_names=[PINNED.upper() + "."],
        egress_firewall_extra_domains=[{"name": "mirror.example.com", "ports": [443]}],
    )
    assert "acl aich_names0 dstdomain -n " + PINNED in lines
    assert "acl aich_names0_sni ssl::server_name --client-requested " + PINNED in lines
    # Other groups keep their domains.
    assert "acl aich_names1 dstdomain -n .mirror.example.com" in lines


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"egress_firewall_pinned_names": ["other.example.com"]}, "must be one exact host name under the metering"),
        ({"egress_firewall_pinned_names": ["*.cognitive.microsoft.com"]}, "must be one exact host name"),
        (
            {"egress_firewall_name_check": False, "egress_firewall_pinned_names": [PINNED]},
            "set egress_firewall_name_check: true",
        ),
        ({"egress_firewall_proxy": {"address": "10.0.0.5", "port": 3128}}, "leave egress_firewall_proxy empty"),
        ({"egress_firewall_name_check_port": 0}, "egress_firewall_name_check_port"),
        ({"egress_firewall_name_check_clients": ["nonsense"]}, "egress_firewall_name_check_clients"),
    ],
)
def test_bad_names_mode_input_is_one_sentence_naming_the_variable(overrides, message):
    problems = errors(**overrides)
    assert any(message in problem for problem in problems), problems


def test_address_mode_has_no_proxy():
    assert build_policy({"egress_firewall_dns_upstreams": ["192.0.2.53"]})["name_check"] is None


def test_a_domain_under_another_listed_one_is_left_out_for_squid_6():
    # Squid 6 refuses ".data.mcr.microsoft.com .mcr.microsoft.com" in one ACL ("Bungled").
    acls = [line for line in conf(egress_firewall_image_registry=True) if " dstdomain -n " in line]
    assert any(".mcr.microsoft.com" in acl.split() for acl in acls)
    assert not any(".data.mcr.microsoft.com" in acl.split() for acl in acls)
    for acl in acls:
        names = acl.split()[4:]
        assert len(names) == len(set(names))
        assert not [name for name in names if any(name != other and name.endswith(other) for other in names)]


def test_container_interfaces_are_interface_names_before_they_reach_the_table():
    assert build_policy(dict(BASE, egress_firewall_container_interfaces=["docker0", "br-*", "aich.any"]))[
        "container_interfaces"
    ] == ["docker0", "br-*", "aich.any"]
    for bad in ['docker0" accept', "docker0\naccept", "a" * 16, "br-*x", ""]:
        found = errors(egress_firewall_container_interfaces=[bad])
        assert len(found) == 1 and found[0].startswith("egress_firewall_container_interfaces: ")


def test_the_proxy_allowlist_leaves_out_a_domain_under_a_listed_one():
    policy = build_policy(
        {
            "egress_firewall_dns_upstreams": ["192.0.2.53"],
            "egress_firewall_proxy": {"address": "10.0.0.5", "port": 3128},
            "egress_firewall_image_registry": True,
        }
    )
    allowlist = squid_allowlist(policy)
    assert ".mcr.microsoft.com" in allowlist.split()
    for line in allowlist.splitlines():
        names = line.split()[3:] if " dstdomain " in line else []
        assert not [name for name in names if any(name != other and name.endswith(other) for other in names)]
