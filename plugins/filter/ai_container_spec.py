# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that validate the ai_container role's variables.

This file holds more than one filter, so each has its documentation in a YAML file
named after it beside this one (ai_container_spec.yml, ai_container_published_ports.yml), which is how
ansible-doc finds the documentation of filters that share a file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.module_utils.ai_container_spec import (
    SpecError,
    build_spec,
    published_ports,
)


def ai_container_spec(options):
    try:
        spec = build_spec(dict(options or {}))
    except SpecError as error:
        return {"errors": error.errors}
    spec["errors"] = []
    return spec


def ai_container_published_ports(options):
    """Host ports the replicas publish beyond loopback, for a firewall that
    admits only the frontends there (site.yml hands them to egress_firewall).
    Invalid variables stop the play with their sentences, never an empty list."""
    try:
        return published_ports(dict(options or {}))
    except SpecError as error:
        raise AnsibleFilterError(" ".join(error.errors)) from None


class FilterModule:
    def filters(self):
        return {"ai_container_spec": ai_container_spec, "ai_container_published_ports": ai_container_published_ports}
