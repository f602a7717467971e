# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that build and check the egress_firewall role's policy.

This file holds three filters, so each has its documentation in a YAML file
named after it beside this one (egress_policy.yml, egress_name_proxy_conf.yml,
egress_unfiltered_networks.yml), which is how ansible-doc finds the
documentation of filters that share a file.
"""

from __future__ import annotations

from ansible_collections.aicontainers.hardening.plugins.module_utils.container_networks import (
    unfiltered_network_errors,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_name_proxy import squid_conf
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import (
    PolicyError,
    build_policy,
    squid_allowlist,
)


def egress_policy(options, table="aicontainers", links=None, kernel=None):
    try:
        policy = build_policy(dict(options or {}), table=table, links=links, kernel=kernel)
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
