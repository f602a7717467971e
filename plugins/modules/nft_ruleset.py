#!/usr/bin/python
# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nft_ruleset
short_description: Own one nftables table, applied atomically with optional commit-confirm
version_added: 0.1.0
description:
  - Manages exactly one nftables table and never flushes or reorders any other,
    so Docker's tables and rules survive.
  - The table is checked with C(nft -c) and replaced in one C(nft -f) transaction,
    so the kernel runs either the old table or the new one.
  - Whether the live table already matches is judged by what is loaded. The wanted table
    is loaded into a scratch network namespace (C(unshare --net)) and its chains, their
    hooks, priorities, policies and rules, its sets, flags and comment are compared with the
    live table's, as C(nft -j) lists both. A flushed or edited chain, a changed policy, an
    extra rule or a missing table is a change, in check mode too. Handles, counters' values
    and the elements added at run time (for example by dnsmasq) are not.
  - A fingerprint of the content is kept in the table's comment, so that a boot unit (or a
    person) can tell the table is ours; it does not decide whether the table changes.
  - When the table is replaced, the addresses its timeout sets learned at run time are
    put back with the time they had left, so clients that still cache a name keep reaching it.
  - With O(confirm_timeout), the previous table comes back by itself unless a later
    call with O(confirm=true) arrives in time, which is how a controller proves it
    can still reach the host.
options:
  name:
    description: Name of the table.
    type: str
    default: aicontainers
  family:
    description: Address family of the table.
    type: str
    choices: [inet, ip, ip6, arp, bridge, netdev]
    default: inet
  content:
    description:
      - The whole table definition, C(table <family> <name> { ... }) and nothing else.
      - Required when O(state=present) and O(confirm=false).
    type: str
  state:
    description: V(present) loads O(content); V(absent) deletes the table.
    type: str
    choices: [present, absent]
    default: present
  path:
    description:
      - Where to persist the table as a script that C(nft -f) can load at boot
        (it replaces the table whether or not it exists). Written only once the
        change is applied, or confirmed when O(confirm_timeout) is used.
      - Beside it, C(<path>.sha256) holds its checksum in C(sha256sum) format, so that a
        boot unit can refuse (C(sha256sum --check)) a file that is empty, truncated or was
        not written here.
    type: path
  confirm_timeout:
    description:
      - Seconds after which the previous table is restored unless confirmed.
        V(0) applies without a rollback.
    type: int
    default: 0
  confirm:
    description:
      - Confirm a change applied with O(confirm_timeout) and cancel its rollback.
        Send it over a new connection so that it proves the host is still reachable.
        Also persists O(content) to O(path) when both are given.
    type: bool
    default: false
  nft_path:
    description: The nft command.
    type: path
    default: nft
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the live table and the wanted one, both as C(nft -s list table) prints them.
notes:
  - Requires the nft and unshare commands, CAP_NET_ADMIN and CAP_SYS_ADMIN on the target
    (root has both).
  - Replacing the table empties its sets; DNS-filled sets refill as names are resolved again.
extends_documentation_fragment:
  - aicontainers.hardening.attributes
"""

EXAMPLES = r"""
- name: Apply our table, rolling back unless confirmed within 60 seconds
  aicontainers.hardening.nft_ruleset:
    content: "{{ lookup('ansible.builtin.template', 'aicontainers.nft.j2') }}"
    path: /etc/aicontainers/firewall.nft
    confirm_timeout: 60
  register: firewall

- name: Prove the controller can still connect
  ansible.builtin.meta: reset_connection

- name: Confirm the change
  aicontainers.hardening.nft_ruleset:
    content: "{{ lookup('ansible.builtin.template', 'aicontainers.nft.j2') }}"
    path: /etc/aicontainers/firewall.nft
    confirm: true
  when: firewall is changed

- name: Remove the table
  aicontainers.hardening.nft_ruleset:
    state: absent
"""

RETURN = r"""
fingerprint:
  description: Fingerprint of the wanted table, stored in its comment.
  returned: when O(state=present)
  type: str
  sample: 3f1c2a9b0d4e5f67
previous_fingerprint:
  description: Fingerprint found in the live table before the change, if any.
  returned: always
  type: str
  sample: 0a1b2c3d4e5f6789
drift:
  description:
    - How the live table differs from the wanted one, one line per part (the table's flags or comment,
      a chain's hook, priority or policy, a chain's rules, a set); empty when it enforces the same.
    - With O(state=absent), empty.
  returned: always
  type: list
  elements: str
  sample: ["chain frontend_guard's rules: changed", "chain output's hook, priority or policy: changed"]
rollback:
  description:
    - V(armed) when a rollback is pending, V(confirmed) when a confirmation cancelled
      one, V(rolled-back) when the previous table was already restored, V(none) otherwise.
  returned: always
  type: str
  sample: armed
persisted:
  description: Whether the file at O(path) or its checksum was written (in check mode, whether it would be).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aicontainers.hardening.plugins.module_utils import nft_rollback
from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import (
    FAMILIES,
    NftTable,
    RulesetError,
    carried_elements,
    check_structure,
    deletion,
    drift,
    live_fingerprint,
    persist,
    replacement,
    with_fingerprint,
)


class ModuleCommands:
    def __init__(self, module):
        self.module = module

    def run(self, args, data=None):
        return self.module.run_command(args, data=data, binary_data=True)


def plan_present(module, table, result):
    """The replacement script, the wanted table as nft lists it, the learned
    elements to carry over, and whether the live table must change (it is
    compared with the wanted one loaded in a scratch namespace)."""
    family, name = table.family, table.name
    try:
        check_structure(module.params["content"], family, name)
    except RulesetError as error:
        module.fail_json(msg="content: {0}".format(error), **result)
    marked, result["fingerprint"] = with_fingerprint(module.params["content"], family, name)
    script = replacement(marked, family, name)
    # The addresses dnsmasq learned survive a replacement (not persisted:
    # they are run-time state, and expire as they would have).
    carried = carried_elements(table.timeout_sets(), marked, family, name)
    try:
        table.validate(script + carried)
    except RulesetError as error:
        module.fail_json(msg="nft rejected the table, nothing was changed: {0}".format(error), **result)
    try:
        wanted, listing = table.scratch_state(script)
    except RulesetError as error:
        module.fail_json(
            msg="The wanted table could not be loaded into a scratch network namespace to compare it with "
            "the live one (unshare --net needs root), nothing was changed: {0}".format(error),
            **result,
        )
    result["drift"] = drift(table.state(), wanted)
    return script, listing, carried, bool(result["drift"])


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "default": "aicontainers"},
            "family": {"type": "str", "default": "inet", "choices": list(FAMILIES)},
            "content": {"type": "str"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "path": {"type": "path"},
            "confirm_timeout": {"type": "int", "default": 0},
            "confirm": {"type": "bool", "default": False},
            "nft_path": {"type": "path", "default": "nft"},
        },
        required_if=[("state", "present", ("content",))],
        supports_check_mode=True,
    )
    params = module.params
    family, name = params["family"], params["name"]
    nft = module.get_bin_path(params["nft_path"], required=True)
    table = NftTable(ModuleCommands(module), nft=nft, family=family, name=name)
    before = table.listing()
    result = {
        "changed": False,
        "previous_fingerprint": live_fingerprint(before),
        "rollback": "none",
        "persisted": False,
    }

    if params["state"] == "absent":
        script, after, carried = deletion(family, name), "", ""
        changed = before is not None
        result["drift"] = []
    else:
        script, after, carried, changed = plan_present(module, table, result)

    if params["confirm"]:
        if not module.check_mode:
            result["rollback"] = nft_rollback.confirm(family, name)
            if result["rollback"] == "rolled-back":
                module.fail_json(
                    msg="The previous table was restored before the change was confirmed: the "
                    "confirmation came too late or the host was unreachable.",
                    **result,
                )
        # In check mode too: a persisted copy that differs is a change to make.
        if params["path"] and params["state"] == "present":
            result["persisted"] = persist(params["path"], script, dry_run=module.check_mode)
        result["changed"] = result["rollback"] == "confirmed" or result["persisted"]
        module.exit_json(**result)

    if module._diff:
        result["diff"] = {
            "before": before or "",
            "after": after,
            "before_header": "{0} {1} (live)".format(family, name),
            "after_header": "{0} {1} (wanted)".format(family, name),
        }

    if params["confirm_timeout"] > 0 and not module.check_mode:
        nft_rollback.forget(family, name)
    if changed and not module.check_mode:
        if params["confirm_timeout"] > 0:
            restore = replacement(before, family, name) if before else deletion(family, name)
            nft_rollback.arm(nft, family, name, restore, params["confirm_timeout"])
            result["rollback"] = "armed"
        try:
            table.apply(script + carried)
        except RulesetError as error:
            module.fail_json(msg="nft could not apply the table: {0}".format(error), **result)
    # With a rollback armed, the confirmation persists; check mode still tells
    # whether the persisted copy differs (a deleted or edited file is a change).
    if params["path"] and params["state"] == "present" and (params["confirm_timeout"] <= 0 or module.check_mode):
        result["persisted"] = persist(params["path"], script, dry_run=module.check_mode)
    result["changed"] = changed or result["persisted"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
