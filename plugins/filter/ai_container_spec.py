# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ai_container_spec
short_description: Validate the ai_container role's variables and plan its replicas
version_added: 0.1.0
description:
  - Takes a dictionary of C(ai_container_*) variables and returns the replicas to deploy,
    or C(errors), one sentence per problem naming the variable.
options:
  _input:
    description: The C(ai_container_*) variables, as a dictionary.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan the replicas
  ansible.builtin.set_fact:
    plan: "{{ {'ai_container_eula': 'accept'} | aicontainers.hardening.ai_container_spec }}"
"""

RETURN = r"""
_value:
  description:
    - C(replicas), C(billing), C(resources), C(kind), C(network), C(request_limits) (the largest body and the
      longest call one replica takes) and C(errors) (empty when valid).
  type: dict
"""

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
