# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mtls_client_plan
short_description: Plan where the mTLS frontend's client credentials are made
version_added: 0.1.0
description:
  - Takes C(mtls_frontend_clients) and returns, per client, where its key, certificate and the CA certificate
    live (on the inventory host that uses them, or on the controller) and the CA's record of its certificate;
    and the records of C(mtls_frontend_revoked_clients).
  - Returns C(errors), one sentence per problem naming the variable, instead of raising.
options:
  _input:
    description: C(mtls_frontend_clients), names or dictionaries with C(name), C(host) and C(dir).
    type: list
    elements: raw
    required: true
  revoked:
    description: C(mtls_frontend_revoked_clients).
    type: list
    elements: str
    required: true
  ca_dir:
    description: C(mtls_frontend_ca_dir), on the controller.
    type: str
    required: true
  client_dir:
    description: C(mtls_frontend_client_dir), the default directory on client hosts.
    type: str
    required: true
  inventory_hosts:
    description: Every host of the inventory (C(groups.all)).
    type: list
    elements: str
    required: true
  audit_client:
    description:
      - C(mtls_frontend_audit_client). The audit's client joins the clients, issued on the controller; with
        O(revocable), so does C(<audit_client>-revoked), which also joins the revoked clients. Both names are
        reserved.
    type: str
    default: ""
  revocable:
    description: Whether this CA revokes (not when your own CA signs through C(mtls_frontend_ca_sign_command)).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Plan the client credentials
  ansible.builtin.set_fact:
    plan: >-
      {{ [{'name': 'app1', 'host': 'client1'}, 'partner-app']
         | aicontainers.hardening.mtls_client_plan([], '/srv/pki', '/etc/aicontainers/mtls-client', groups.all) }}
"""

RETURN = r"""
_value:
  description: C(clients) (name, host, dir, key, cert, ca, record), C(revoked) (name, record) and C(errors).
  type: dict
"""

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_pki import PlanError, client_plan


def mtls_client_plan(clients, revoked, ca_dir, client_dir, inventory_hosts, *, audit_client="", revocable=True):
    try:
        plan = client_plan(
            clients,
            revoked,
            ca_dir,
            client_dir,
            list(inventory_hosts or []),
            audit_client=audit_client or None,
            revocable=revocable,
        )
    except PlanError as error:
        return {"clients": [], "revoked": [], "errors": error.errors}
    plan["errors"] = []
    return plan


class FilterModule:
    def filters(self):
        return {"mtls_client_plan": mtls_client_plan}
