# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mtls_upstream_servers
short_description: The mTLS frontend's upstream servers, some reached over TLS with the frontend's certificate
version_added: 0.1.0
description:
  - Takes C(mtls_frontend_upstreams) and returns the server lines of the NGINX upstream group and the TLS hops
    of the upstreams named in C(mtls_frontend_upstream_tls), with the client certificate the frontend presents.
  - Raises an error with one sentence per problem, naming the variable.
options:
  _input:
    description: C(mtls_frontend_upstreams), C(host:port) of each replica or gate.
    type: list
    elements: str
    required: true
  tls_names:
    description: C(mtls_frontend_upstream_tls), upstream address -> DNS name on its gate's certificate.
    type: dict
    required: true
  client:
    description: C(mtls_frontend_upstream_client), the client whose certificate the frontend presents.
    type: str
    required: true
  clients:
    description: The planned clients (C(mtls_client_plan)'s C(clients)).
    type: list
    elements: dict
    required: true
  host:
    description: This frontend's inventory name.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Plan the upstream servers
  ansible.builtin.set_fact:
    servers: >-
      {{ ['127.0.0.1:5000', '10.0.0.21:8443']
         | aicontainers.hardening.mtls_upstream_servers({'10.0.0.21:8443': 'ai2.example.net'}, 'frontend-1',
                                                        plan.clients, inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: C(servers) (the group's server lines), C(hops) (address, name, socket) and C(client) (cert, key, ca).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_upstreams import (
    UpstreamError,
    upstream_servers,
)


def mtls_upstream_servers(upstreams, tls_names, client, clients, host):
    try:
        return upstream_servers(list(upstreams or []), dict(tls_names or {}), client, list(clients or []), host)
    except UpstreamError as error:
        raise AnsibleFilterError(" ".join(error.errors)) from None


class FilterModule:
    def filters(self):
        return {"mtls_upstream_servers": mtls_upstream_servers}
