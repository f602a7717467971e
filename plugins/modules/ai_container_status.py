#!/usr/bin/python
# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ai_container_status
short_description: Report the readiness and billing state of Azure AI container replicas
version_added: 0.1.0
description:
  - Asks each replica's C(/ready) and C(/status) endpoints and reports whether it is
    up and whether it can meter to its Billing endpoint (C(apiStatus) V(Valid)).
  - A replica that cannot meter keeps answering health checks but serves no queries;
    the report explains what to check.
  - Read-only; safe in check mode.
options:
  urls:
    description: Base URL of each replica, for example C(http://127.0.0.1:5000).
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 5
  wait:
    description:
      - Seconds to keep asking until every replica is ready and can meter (a container
        meters for the first time a few seconds after it starts). V(0) asks once.
      - The module still succeeds when the time runs out; check RV(all_billing_ok).
    type: int
    default: 0
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - aicontainers.hardening.attributes
"""

EXAMPLES = r"""
- name: Report the replicas' state, waiting up to a minute for them to meter
  aicontainers.hardening.ai_container_status:
    urls: [http://127.0.0.1:5000, http://127.0.0.1:5001]
    wait: 60
  register: ai_status

- name: Stop when a replica cannot meter
  ansible.builtin.assert:
    that: ai_status.all_billing_ok
    fail_msg: "{{ ai_status.problems | join(' ') }}"
"""

RETURN = r"""
replicas:
  description: One report per URL.
  returned: always
  type: list
  elements: dict
  contains:
    url: {description: The replica's base URL., type: str}
    ready: {description: Whether C(/ready) answered 200., type: bool}
    status_code: {description: HTTP status of C(/status)., type: int}
    api_status: {description: C(apiStatus) from C(/status) (V(Valid) or V(Invalid))., type: str}
    api_status_message: {description: C(apiStatusMessage) from C(/status)., type: str}
    billing_ok: {description: Whether the replica can meter and so serves queries., type: bool}
    explanation: {description: What is wrong and what to check; empty when all is well., type: str}
all_ready:
  description: Whether every replica answered C(/ready).
  returned: always
  type: bool
all_billing_ok:
  description: Whether every replica can meter.
  returned: always
  type: bool
problems:
  description: The explanations of every replica with a problem.
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import fetch_url

from ansible_collections.aicontainers.hardening.plugins.module_utils.ai_status import interpret, summarise


def get(module, url):
    response, info = fetch_url(module, url, timeout=module.params["timeout"], force=True)
    if info.get("status", -1) < 0:
        return None, info.get("msg", "no answer")
    body = response.read() if response is not None else info.get("body", b"")
    return info["status"], to_text(body)


def ask(module):
    reports = []
    for url in module.params["urls"]:
        base = url.rstrip("/")
        reports.append(interpret(base, get(module, base + "/ready"), get(module, base + "/status")))
    return summarise(reports)


def main():
    module = AnsibleModule(
        argument_spec={
            "urls": {"type": "list", "elements": "str", "required": True},
            "timeout": {"type": "int", "default": 5},
            "wait": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    deadline = time.monotonic() + module.params["wait"]
    summary = ask(module)
    while not (summary["all_ready"] and summary["all_billing_ok"]) and time.monotonic() < deadline:
        time.sleep(2)
        summary = ask(module)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()
