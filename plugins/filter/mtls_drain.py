# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mtls_drain
short_description: Drain one AI host's servers from the mTLS frontend's upstream group, or put them back
version_added: 0.1.0
description:
  - Takes the frontend's upstream state (the group's servers, each with the host it reaches, and the drained hosts)
    and returns the new state, the group's server lines rendered from it (NGINX's C(down) on the drained hosts'
    servers), whether it differs from the state given, and whether a drain was refused because it would leave no
    server up.
options:
  _input:
    description: The state the role keeps on the frontend (C(servers), C(drained)).
    type: dict
    required: true
  host:
    description: The AI host's address, as its replicas are listed in C(mtls_frontend_upstreams).
    type: str
    required: true
  wanted:
    description: C(down) to drain, C(up) to put back.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Drain 10.0.0.21
  ansible.builtin.set_fact:
    drained: "{{ state | aicontainers.hardening.mtls_drain('10.0.0.21', 'down') }}"
"""

RETURN = r"""
_value:
  description: C(state), C(conf) (the server lines), C(different) (from the state given) and C(refused).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_upstreams import UpstreamError, drain


def mtls_drain(state, host, wanted):
    try:
        return drain(dict(state or {}), str(host), wanted)
    except UpstreamError as error:
        raise AnsibleFilterError(" ".join(error.errors)) from None


class FilterModule:
    def filters(self):
        return {"mtls_drain": mtls_drain}
