# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mtls_frontend_config_errors
short_description: Check the mTLS frontend's variables against the grammar of NGINX's configuration and certificates
version_added: 0.1.0
description:
  - Takes the C(mtls_frontend_*) variables the role pastes into NGINX's configuration and its certificates (server
    names, addresses, paths, sizes, times, the rate, client names and identities) and checks each value against
    the grammar of the place it goes, so that no value can add an NGINX directive (C(front.lab; return 200 x)) or
    make a certificate that cannot be issued (a CN over 64 characters).
  - Variables not given are not checked; names it does not know are ignored.
  - Returns C(errors), one sentence per bad value naming the variable, instead of raising.
options:
  _input:
    description: The variables, name -> value (C(mtls_frontend_server_names), C(mtls_frontend_port) ...).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Stop on a value that does not fit its place in NGINX's configuration or a certificate
  ansible.builtin.assert:
    that: checked.errors | length == 0
    fail_msg: "{{ checked.errors | join(' ') }}"
  vars:
    checked: >-
      {{ {'mtls_frontend_server_names': mtls_frontend_server_names, 'mtls_frontend_rate': mtls_frontend_rate}
         | aicontainers.hardening.mtls_frontend_config_errors }}
"""

RETURN = r"""
_value:
  description: C(errors), one sentence per bad value (empty when every value fits).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_grammar import config_errors


def mtls_frontend_config_errors(variables):
    if not isinstance(variables, Mapping):
        raise AnsibleFilterError("mtls_frontend_config_errors takes a dictionary of variables.")
    return {"errors": config_errors(variables)}


class FilterModule:
    def filters(self):
        return {"mtls_frontend_config_errors": mtls_frontend_config_errors}
