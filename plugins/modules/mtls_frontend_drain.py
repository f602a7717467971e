#!/usr/bin/python
# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mtls_frontend_drain
short_description: Drain one AI host's replicas from an mTLS frontend, or put them back, in one step
version_added: 0.1.0
description:
  - Reads the upstream state that the P(aicontainers.hardening.mtls_frontend#role) role keeps beside NGINX's
    configuration, marks the AI host's servers C(down) (O(state=down)) or puts them back (O(state=up)), and when that
    changes anything writes the state and the upstream group's server lines, tests the whole configuration with
    C(nginx -t) and reloads NGINX gracefully. When the test fails the previous files are put back and the module
    fails with NGINX's error; the old configuration keeps serving.
  - After a drain it waits until the workers from before the reload have finished the requests they had sent (at
    most O(grace_seconds)), so the host's replicas can be changed without cutting a request.
  - A drain that would leave no server up is refused with a warning (a slower answer beats a certain 502).
  - Before the role's first run there is no state, and nothing to drain.
  - The role's C(drain) entry point calls it; use that (it knows the role's paths).
options:
  address:
    description: The AI host's address, as its replicas are listed in C(mtls_frontend_upstreams).
    type: str
    required: true
  state:
    description: V(down) to drain, V(up) to put back.
    type: str
    choices: [down, up]
    required: true
  state_path:
    description: The upstream state (JSON) the role keeps.
    type: path
    required: true
  conf_path:
    description: The file with the upstream group's server lines, which NGINX's configuration includes.
    type: path
    required: true
  header:
    description: The comment written as the first line of O(conf_path).
    type: str
    default: Managed by Ansible
  grace_seconds:
    description: The longest wait for the old workers after a drain.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The upstream state before and after.
extends_documentation_fragment:
  - aicontainers.hardening.attributes
"""

EXAMPLES = r"""
- name: Drain 10.0.0.21 from this frontend
  aicontainers.hardening.mtls_frontend_drain:
    address: 10.0.0.21
    state: down
    state_path: /etc/nginx/aicontainers-upstreams.json
    conf_path: /etc/nginx/aicontainers-upstreams.conf
    grace_seconds: 60
"""

RETURN = r"""
present:
  description: Whether the upstream state existed (it does after the role's first run).
  returned: always
  type: bool
refused:
  description: Whether a drain was refused because no other server would be left up.
  returned: always
  type: bool
drained:
  description: The addresses drained after this step.
  returned: always
  type: list
  elements: str
  sample: [10.0.0.21]
waited:
  description: Seconds waited for the workers from before the reload.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aicontainers.hardening.plugins.module_utils.nginx_drain import DrainError, Host, apply


def main():
    module = AnsibleModule(
        argument_spec={
            "address": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["down", "up"], "required": True},
            "state_path": {"type": "path", "required": True},
            "conf_path": {"type": "path", "required": True},
            "header": {"type": "str", "default": "Managed by Ansible"},
            "grace_seconds": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    params = module.params
    host = Host(
        run_command=module.run_command,
        write_file=lambda path, content: write_file(module, path, content),
    )
    try:
        result = apply(
            host,
            {"state": params["state_path"], "conf": params["conf_path"]},
            header=params["header"],
            address=params["address"],
            wanted=params["state"],
            grace=params["grace_seconds"],
            check_mode=module.check_mode,
            nginx=module.get_bin_path("nginx", required=True),
        )
    except DrainError as error:
        module.fail_json(msg=str(error))
    if result["refused"]:
        module.warn(
            "Not draining {0}: no other upstream server is up in {1}, so its clients would get 502 instead of a "
            "slower answer.".format(params["address"], params["state_path"])
        )
    diff = result.pop("diff")
    if module._diff and result["changed"]:
        result["diff"] = diff
    module.exit_json(**result)


def write_file(module, path, content):
    """Replace ``path`` atomically, as root-owned 0644 (NGINX's workers read it)."""
    temporary = "{0}.aicontainers-tmp".format(path)
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(content)
    module.set_mode_if_different(temporary, "0644", False)
    module.atomic_move(temporary, path)


if __name__ == "__main__":
    main()
