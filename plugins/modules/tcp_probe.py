#!/usr/bin/python
# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tcp_probe
short_description: Try TCP connections and report how each ended
version_added: 0.1.0
description:
  - Opens a TCP connection to each target at once (3 seconds each) and reports whether it
    connected (V(ok)) or how it was refused - V(refused) (a TCP reset), V(unreachable) (an ICMP
    host-unreachable), V(timeout) (dropped on the way) - or why it proved nothing (V(no-route) from
    here, V(dropped-locally) by this host's own firewall, V(dns-error), V(error...)).
  - The audit runs it where an attacker would stand (the controller, another host) to show that a
    port is refused beside a port that answers from the same place.
  - Read-only; safe in check mode.
options:
  targets:
    description: C(HOST:PORT) targets; IPv6 addresses in brackets (C([fd00::1]:5000)).
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - aicontainers.hardening.attributes
"""

EXAMPLES = r"""
- name: Try the replica port and the SSH port of an AI host from the controller
  aicontainers.hardening.tcp_probe:
    targets: [10.0.0.21:5000, 10.0.0.21:22]
  delegate_to: localhost
  register: reach

- name: The replica port is refused, the SSH port answers
  ansible.builtin.assert:
    that:
      - reach.probes[0].refusal
      - reach.probes[1].result == 'ok'
"""

RETURN = r"""
probes:
  description: One result per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    target: {description: The target as given., type: str}
    result:
      description:
        - V(ok), V(refused), V(unreachable), V(timeout), V(no-route), V(dropped-locally), V(dns-error) or V(error...).
      type: str
    refusal:
      description: Whether the other end or the path refused (V(refused), V(unreachable), V(timeout)).
      type: bool
  sample:
    - {target: "10.0.0.21:5000", result: timeout, refusal: true}
    - {target: "10.0.0.21:22", result: ok, refusal: false}
"""

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_probe import probe_here


def main():
    module = AnsibleModule(
        argument_spec={"targets": {"type": "list", "elements": "str", "required": True}},
        supports_check_mode=True,
    )
    probes = probe_here(module.run_command, sys.executable, module.params["targets"])
    module.exit_json(changed=False, probes=probes)


if __name__ == "__main__":
    main()
