# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: nfqueue_feeds
short_description: List the rules that queue packets to an inline IPS (NFQUEUE)
version_added: 0.1.0
description:
  - Reads the output of C(nft -j list ruleset) and returns every rule that sends packets
    to a netfilter queue (native C(queue) or iptables-nft's C(NFQUEUE) target), with
    C(bypassed) telling whether an earlier rule of the same chain accepts flows carrying
    the given mark, so that marked flows never reach the IPS.
options:
  _input:
    description: The JSON text C(nft -j list ruleset) prints.
    type: str
    required: true
  mark:
    description: The mark bit(s) the metering flows carry.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Every IPS feed must skip the metering flows
  vars:
    feeds: "{{ ruleset.stdout | aicontainers.hardening.nfqueue_feeds(0x00100000) }}"
  ansible.builtin.assert:
    that: feeds | rejectattr('bypassed') | list | length == 0
"""

RETURN = r"""
_value:
  description: One entry per queue rule, in ruleset order.
  type: list
  elements: dict
  contains:
    family: {description: Table family, type: str}
    table: {description: Table name, type: str}
    chain: {description: Chain name, type: str}
    handle: {description: Rule handle, type: int}
    bypassed: {description: Whether marked flows are accepted before this rule, type: bool}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.module_utils.nfqueue_feeds import queue_feeds


def nfqueue_feeds(ruleset_json, mark):
    try:
        return queue_feeds(ruleset_json, int(mark))
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("nfqueue_feeds: cannot read the ruleset JSON ({0}).".format(error)) from error


class FilterModule:
    def filters(self):
        return {"nfqueue_feeds": nfqueue_feeds}
