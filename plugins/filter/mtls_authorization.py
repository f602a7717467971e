# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mtls_authorization
short_description: Resolve the mTLS frontend's client allowlist against the certificates its CA issued
version_added: 0.1.0
description:
  - Takes C(mtls_frontend_authorized_clients) (identities CN=, DNS:, URI:, email:, each with optional path
    prefixes) and the PEM certificates the fleet's CA issued, and returns, per certificate, the serial as NGINX
    prints it, the identity to log and the NGINX map patterns of the paths it may call.
  - Returns C(errors), one sentence per problem naming the variable, instead of raising.
options:
  _input:
    description: C(mtls_frontend_authorized_clients); null means every certificate of the CA is authorised.
    type: list
    elements: raw
    required: true
  issued:
    description: The PEM certificates in the CA's C(issued/) directory.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Resolve the allowlist
  ansible.builtin.set_fact:
    authz: >-
      {{ [{'identity': 'URI:spiffe://example.org/ns/apps/sa/app3', 'paths': ['/text/analytics/']}, 'CN=app1']
         | aicontainers.hardening.mtls_authorization(
             query('ansible.builtin.file', *query('ansible.builtin.fileglob', '/srv/pki/issued/*.crt'))) }}
"""

RETURN = r"""
_value:
  description: >-
    C(enabled), C(certificates) (serial, identity, patterns), C(unmatched) (allowlist identities no issued
    certificate holds) and C(errors).
  type: dict
"""

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_authz import AuthzError, authorization


def mtls_authorization(allowlist, issued):
    try:
        result = authorization(allowlist, list(issued or []))
    except AuthzError as error:
        return {"enabled": False, "certificates": [], "unmatched": [], "errors": error.errors}
    result["errors"] = []
    return result


class FilterModule:
    def filters(self):
        return {"mtls_authorization": mtls_authorization}
