"""The egress_firewall table template, rendered from real policies and checked by nft."""

import pathlib
import shutil
import subprocess

import jinja2
import pytest
import yaml

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import build_policy
from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import (
    check_structure,
    replacement,
    scratch_command,
    with_fingerprint,
)

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "egress_firewall"


def render(template="aicontainers.nft.j2", links=None, **overrides):
    variables = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    # Two defaults are templates, which Ansible would render to these here: the mark (it follows
    # dpi_exemption) to 0, the metering domains (aicontainers_metering_domains, unset) to null.
    variables.update(
        {
            "egress_firewall_dns_upstreams": ["192.0.2.53"],
            "egress_firewall_metering_ct_mark": 0,
            "egress_firewall_metering_domains": None,
        },
        **overrides,
    )
    variables["__egress_firewall_name_proxy_user"] = "aicontainers-proxy"
    variables["__egress_firewall_policy"] = build_policy(variables, links=links, kernel="6.1.0-18-amd64")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), trim_blocks=True)
    return environment.get_template(template).render(**variables)


def test_default_table_is_only_our_table_with_both_scopes_dropping():
    table = render()
    check_structure(table, "inet", "aicontainers")
    assert "chain output {" in table and "hook output priority filter; policy drop;" in table
    assert "chain forward {" in table and "chain container_egress {" in table
    assert "ip daddr @domains0_v4 tcp dport { 443 } accept" in table
    # Routed traffic is filtered whatever the interface is called: no name in the forward chain.
    forward = table.split("chain forward {")[1].split("}")[0]
    assert "policy drop;" in forward and "iifname" not in forward and "oifname" not in forward
    assert "ct status dnat accept" in forward and "fib daddr . iif oif exists accept" in forward
    assert forward.rstrip().endswith("jump container_egress")
    # Replies of inbound SSH only: a new connection from local port 22 is denied.
    assert "tcp sport { 22 } ct direction reply accept" in table
    assert 'iif != "lo" ip daddr 127.0.0.0/8 counter drop' in table
    assert "reject with tcp reset" in table


def test_scopes_off_leave_the_chains_out():
    table = render(egress_firewall_host_scope="off", egress_firewall_container_scope="off")
    assert "chain output" not in table and "chain forward" not in table


def test_accept_scope_keeps_rules_but_rejects_nothing():
    table = render(egress_firewall_host_scope="accept", egress_firewall_container_scope="accept")
    assert "policy accept;" in table and "reject" not in table


def test_proxy_mode_allows_only_the_proxy():
    table = render(egress_firewall_proxy={"address": "10.0.0.5", "port": 3128})
    assert "ip daddr 10.0.0.5 tcp dport 3128 accept" in table
    assert "@domains0_v4 tcp dport" not in table


def test_names_mode_lets_only_the_proxy_user_out_and_guards_its_port():
    table = render(egress_firewall_name_check=True, egress_firewall_metering_ct_mark=16)
    output = table.split("chain output {")[1].split("\n\t}")[0]
    assert 'meta skuid "aicontainers-proxy" tcp dport { 443 } ct mark set ct mark or 0x00000010 accept' in output
    # No address set is allowed directly: a name is checked for every flow.
    assert "@domains0" not in table.split("chain output {")[1]
    guard = table.split("chain name_proxy_guard {")[1].split("}")[0]
    assert "hook input" in guard
    assert 'tcp dport 3128 iif "lo" accept' in guard and 'tcp dport 3128 meta iifkind "bridge" accept' in guard
    assert guard.rstrip().endswith("tcp dport 3128 counter reject with tcp reset")
    assert "name_proxy_guard" not in render()


def test_bypass_mark_is_set_on_metering_flows_only():
    table = render(
        egress_firewall_metering_ct_mark="0x00100000",
        egress_firewall_extra_domains=[{"name": "mirror.example.com", "ports": [443]}],
    )
    assert "ip daddr @domains0_v4 tcp dport { 443 } ct mark set ct mark or 0x00100000 accept" in table
    assert "ip daddr @domains1_v4 tcp dport { 443 } accept" in table
    assert "ct mark set" not in render()


def test_proxy_flows_carry_the_bypass_mark():
    table = render(egress_firewall_metering_ct_mark=16, egress_firewall_proxy={"address": "10.0.0.5", "port": 3128})
    assert "ip daddr 10.0.0.5 tcp dport 3128 ct mark set ct mark or 0x00000010 accept" in table


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "egress_firewall_static_cidrs": ["20.38.0.0/16", "2603:1000::/40"],
            "egress_firewall_ntp_servers": ["192.0.2.123"],
        },
        {"egress_firewall_proxy": {"address": "10.0.0.5", "port": 3128}},
        {"egress_firewall_host_scope": "off"},
        {
            "egress_firewall_metering_ct_mark": "0x00100000",
            "egress_firewall_extra_domains": [{"name": "mirror.example.com", "ports": [443]}],
        },
        {"egress_firewall_metering_ct_mark": 16, "egress_firewall_proxy": {"address": "10.0.0.5", "port": 3128}},
        {"egress_firewall_internal_cidrs": ["10.0.1.0/24", "fd00::/64"], "egress_firewall_internal_ports": [5000]},
        {"egress_firewall_frontend_ports": [5000, 5001], "egress_firewall_frontend_sources": ["10.0.0.20", "fd00::20"]},
    ],
)
def test_nft_accepts_the_rendered_table(overrides):
    """`nft -c` checks the whole transaction against the kernel without applying it."""
    marked, _print = with_fingerprint(render(**overrides), "inet", "aicontainers")
    result = subprocess.run(
        ["nft", "-c", "-f", "-"],
        input=replacement(marked, "inet", "aicontainers"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_internal_destinations_are_allowed_for_the_host_also_in_proxy_mode():
    table = render(
        egress_firewall_proxy={"address": "10.0.0.5", "port": 3128},
        egress_firewall_internal_cidrs=["10.0.1.0/24"],
        egress_firewall_internal_ports=[5000, 5001],
    )
    output_chain = table[table.index("chain output") : table.index("chain forward")]
    assert "ip daddr @internal_v4 tcp dport { 5000, 5001 } accept" in output_chain
    assert "elements = { 10.0.1.0/24 }" in table
    assert "@internal_v4" not in table[table.index("chain container_egress") :]


def test_frontend_ports_admit_only_the_frontends_before_docker_dnat():
    table = render(egress_firewall_frontend_ports=[5001, 5000], egress_firewall_frontend_sources=["10.0.0.20"])
    guard = table[table.index("chain frontend_guard") :]
    guard = guard[: guard.index("}\n")]
    assert "hook prerouting priority raw" in guard
    assert 'iif "lo" accept' in guard
    assert "tcp dport { 5000, 5001 } fib daddr type local ip saddr @frontends_v4 accept" in guard
    assert guard.rstrip().endswith("tcp dport { 5000, 5001 } fib daddr type local counter drop")
    assert "set frontends_v4 { type ipv4_addr; flags interval; auto-merge; elements = { 10.0.0.20 }; }" in table


def test_no_frontend_ports_no_guard():
    assert "frontend_guard" not in render()


UPLINK = {"ifname": "eth0", "link_type": "ether", "address": "02:42:0a:d5:00:14", "linkinfo": {"info_kind": "veth"}}


def test_the_host_marks_what_it_sends_from_its_own_addresses_for_the_uplink_guard():
    table = render()
    mark = table.split("chain uplink_mark {")[1].split("}")[0]
    assert "hook postrouting priority 300; policy accept;" in mark
    assert "fib saddr type local meta mark set meta mark or 0x02000000" in mark
    assert "ip6 saddr :: meta mark set meta mark or 0x02000000" in mark


def test_uplink_guard_lets_out_marked_packets_and_link_local_frames_only():
    guard = render("aicontainers-uplinks.nft.j2", links=[UPLINK])
    check_structure(guard, "netdev", "aicontainers")
    assert 'type filter hook egress devices = { "eth0" } priority filter; policy drop;' in guard
    rules = [line.strip() for line in guard.split("policy drop;")[1].splitlines() if line.strip()]
    rules = [rule for rule in rules if not rule.startswith("#")]
    assert rules == [
        "meta mark & 0x02000000 == 0x02000000 accept",
        "ether type arp accept",
        "ether type 8021q vlan type arp accept",
        "ether daddr ff:ff:ff:ff:ff:ff ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept",
        'limit rate 10/minute burst 20 packets log prefix "aicontainers uplink deny: " level warn',
        "counter drop",
        "}",
        "}",
    ]


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")
def test_nft_accepts_the_rendered_uplink_guard():
    """In a scratch namespace with the uplink (before Linux 6.16 a netdev chain needs its devices)."""
    marked, _print = with_fingerprint(render("aicontainers-uplinks.nft.j2", links=[UPLINK]), "netdev", "aicontainers")
    result = subprocess.run(
        scratch_command("nft", "netdev", "aicontainers", devices=["eth0"]),
        input=replacement(marked, "netdev", "aicontainers"),
        capture_output=True,
        text=True,
        check=False,
    )
    if "Operation not permitted" in result.stderr:
        pytest.skip("no network namespace for this user")
    assert result.returncode == 0, result.stderr
    assert 'device "eth0"' in result.stdout
