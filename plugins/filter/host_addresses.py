# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: host_addresses
short_description: The addresses a host reaches other hosts from
version_added: 0.1.0
description:
  - Takes a host's gathered facts (C(ansible_facts), with the C(network) subset) and returns the IPv4
    addresses and global IPv6 addresses of its interfaces, leaving out loopback and bridges (C(docker0),
    C(br-*), whatever their names), since container bridges carry the same private addresses on many
    hosts and trusting them would trust every host's containers.
  - C(playbooks/site.yml) uses it to admit only the frontends to the replicas' published ports.
options:
  _input:
    description: The host's facts.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Admit the frontends
  ansible.builtin.set_fact:
    egress_firewall_frontend_sources: >-
      {{ groups['frontends'] | map('extract', hostvars, 'ansible_facts')
         | map('aicontainers.hardening.host_addresses') | flatten }}
"""

RETURN = r"""
_value:
  description: Addresses, sorted, without prefix lengths.
  type: list
  elements: str
"""


def host_addresses(facts):
    addresses = set()
    for name in (facts or {}).get("interfaces", []):
        interface = facts.get(name.replace("-", "_")) or facts.get(name) or {}
        if interface.get("type") in ("loopback", "bridge") or name == "lo":
            continue
        ipv4 = interface.get("ipv4") or {}
        for entry in [ipv4, *(interface.get("ipv4_secondaries") or [])]:
            if entry.get("address"):
                addresses.add(entry["address"])
        for entry in interface.get("ipv6") or []:
            if entry.get("scope") == "global" and entry.get("address"):
                addresses.add(entry["address"])
    return sorted(addresses)


class FilterModule:
    def filters(self):
        return {"host_addresses": host_addresses}
