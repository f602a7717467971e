"""host_addresses: a frontend's addresses, without loopback or container bridges."""

from ansible_collections.aicontainers.hardening.plugins.filter.host_addresses import host_addresses

FACTS = {
    "interfaces": ["lo", "eth0", "docker0", "br-1a2b", "vethab12", "eth1"],
    "lo": {"type": "loopback", "ipv4": {"address": "127.0.0.1"}},
    "eth0": {
        "type": "ether",
        "ipv4": {"address": "10.213.0.20"},
        "ipv4_secondaries": [{"address": "10.213.0.25"}],
        "ipv6": [{"address": "fe80::1", "scope": "link"}, {"address": "fd00::20", "scope": "global"}],
    },
    "docker0": {"type": "bridge", "ipv4": {"address": "172.17.0.1"}},
    "br_1a2b": {"type": "bridge", "ipv4": {"address": "172.18.0.1"}},
    "vethab12": {"type": "ether"},
    "eth1": {"type": "ether", "ipv4": {"address": "192.168.5.2"}},
}


def test_addresses_leave_out_loopback_bridges_and_link_local():
    assert host_addresses(FACTS) == ["10.213.0.20", "10.213.0.25", "192.168.5.2", "fd00::20"]


def test_no_facts_no_addresses():
    assert host_addresses({}) == []
