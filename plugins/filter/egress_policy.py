# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: egress_policy
short_description: Validate and normalise the egress_firewall role's variables
version_added: 0.1.0
description:
  - Takes a dictionary of C(egress_firewall_*) variables and returns the policy the
    role's templates render, or C(errors), one sentence per problem naming the variable.
options:
  _input:
    description: The C(egress_firewall_*) variables, as a dictionary.
    type: dict
    required: true
  table:
    description: Name of the nftables table the policy's sets live in.
    type: str
    default: aicontainers
"""

EXAMPLES = r"""
- name: Stop on the first bad variable
  vars:
    policy: "{{ {'egress_firewall_dns_upstreams': ['192.0.2.53']} | aicontainers.hardening.egress_policy }}"
  ansible.builtin.assert:
    that: policy.errors | length == 0
    fail_msg: "{{ policy.errors | first | default('') }}"
"""

RETURN = r"""
_value:
  description: The normalised policy, with C(errors) empty when the variables are valid.
  type: dict
"""

from ansible_collections.aicontainers.hardening.plugins.module_utils.container_networks import (
    unfiltered_network_errors,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_name_proxy import squid_conf
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import (
    PolicyError,
    build_policy,
    squid_allowlist,
)


def egress_policy(options, table="aicontainers"):
    try:
        policy = build_policy(dict(options or {}), table=table)
    except PolicyError as error:
        return {"errors": error.errors}
    policy["errors"] = []
    policy["squid_allowlist"] = squid_allowlist(policy)
    return policy


def egress_unfiltered_networks(networks, accepted=None):
    """The sentence naming macvlan/ipvlan networks the user has not accepted, as a list (empty when none)."""
    return unfiltered_network_errors(networks, accepted)


def egress_name_proxy_conf(policy, *, user, certificate, key, pid_file, access_log):
    """The name-checking proxy's squid.conf for a policy in names mode."""
    return squid_conf(policy, user=user, certificate=certificate, key=key, pid_file=pid_file, access_log=access_log)


class FilterModule:
    def filters(self):
        return {
            "egress_policy": egress_policy,
            "egress_unfiltered_networks": egress_unfiltered_networks,
            "egress_name_proxy_conf": egress_name_proxy_conf,
        }
