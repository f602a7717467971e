"""site.yml drains and changes only the AI hosts its check-mode pass says would change.

The pass learns of a change through one handler: every task of the checked
roles notifies it (include_role's `apply`), and tasks that notify a handler
of their own reach it through that handler's name. A handler missing from its
`listen` list would let a host that needs a change be left alone.
"""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
AIHOST_ROLES = ("egress_firewall", "dpi_exemption", "ai_container")


def plays():
    return yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())


def plan_play():
    (play,) = [play for play in plays() if play["name"].startswith("Find the AI hosts a run would change")]
    return play


def changing_play():
    (play,) = [play for play in plays() if play["name"].startswith("Harden the AI hosts a run changes")]
    return play


def checked_includes():
    (block,) = [task for task in plan_play()["tasks"] if "block" in task]
    return [task["ansible.builtin.include_role"] for task in block["block"]]


def changed_roles():
    (block,) = [task for task in changing_play()["tasks"] if "block" in task]
    tasks = [task for task in block["block"] if "ansible.builtin.include_role" in task]
    includes = [task["ansible.builtin.include_role"] for task in tasks]
    return [include["name"] for include in includes if "tasks_from" not in include]


def test_every_role_the_changing_play_runs_is_checked_first_in_the_same_order():
    checked = [include["name"] for include in checked_includes() if "tasks_from" not in include]
    assert checked == changed_roles() == ["aicontainers.hardening." + role for role in AIHOST_ROLES]


def test_a_host_an_earlier_run_left_drained_is_a_host_to_change():
    (block,) = [task for task in plan_play()["tasks"] if "block" in task]
    (task,) = [task for task in block["block"] if task["ansible.builtin.include_role"].get("tasks_from") == "drain"]
    check = task["ansible.builtin.include_role"]
    assert check["apply"]["check_mode"] is True and check["apply"]["notify"] == "site would change"
    assert task["vars"]["mtls_frontend_drain_state"] == "up" and task["vars"]["mtls_frontend_drain_report"] is True
    drain = yaml.safe_load((ROOT / "roles" / "mtls_frontend" / "tasks" / "drain.yml").read_text())[0]
    # Not ansible_check_mode: a task's check_mode (include_role's apply) leaves it false.
    assert drain["changed_when"].startswith("mtls_frontend_drain_report | bool and ")


def test_a_failed_host_is_put_back_when_its_replicas_serve_and_the_run_says_what_it_left():
    (block,) = [task for task in changing_play()["tasks"] if "block" in task]
    rescue = block["rescue"]
    (health,) = [task for task in rescue if "block" in task]
    assert health["block"][0]["ansible.builtin.meta"] == "flush_handlers"
    assert health["block"][1]["ansible.builtin.include_role"]["tasks_from"] == "health"
    assert health["block"][2]["vars"]["mtls_frontend_drain_state"] == "up"
    assert "ansible.builtin.fail" in rescue[-1] and "site_left" in rescue[-1]["ansible.builtin.fail"]["msg"]


def test_every_checked_task_runs_in_check_mode_and_tells_the_handler():
    (handler,) = plan_play()["handlers"]
    for include in checked_includes():
        assert include["apply"]["check_mode"] is True, include["name"]
        assert include["apply"]["notify"] in handler["listen"], include["name"]


def test_the_roles_handlers_are_skipped_once_the_host_is_known_to_change():
    # A role's handler run in check mode on a bare host fails (its unit does
    # not exist yet); it is skipped once the play's handler has set the fact.
    (handler,) = plan_play()["handlers"]
    (fact,) = handler["ansible.builtin.set_fact"]
    for include in checked_includes():
        assert include["apply"]["when"] == f"not {fact} | default(false)", include["name"]


def test_the_handler_hears_every_handler_of_the_checked_roles():
    (handler,) = plan_play()["handlers"]
    for role in AIHOST_ROLES:
        path = ROOT / "roles" / role / "handlers" / "main.yml"
        names = [entry["name"] for entry in (yaml.safe_load(path.read_text()) if path.exists() else None) or []]
        missing = set(names) - set(handler["listen"])
        assert not missing, f"{role}'s handlers {sorted(missing)} are not in site.yml's check handler's listen"


def test_the_changing_play_takes_the_group_the_plan_sorts_hosts_into():
    (sort,) = [task for task in plan_play()["tasks"] if "ansible.builtin.group_by" in task]
    assert "site_aihosts_{{ 'changing'" in sort["ansible.builtin.group_by"]["key"]
    assert "groups['site_aihosts_changing']" in changing_play()["hosts"]
    assert changing_play()["serial"] and changing_play()["max_fail_percentage"] == 0
