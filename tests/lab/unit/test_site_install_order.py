"""site.yml installs every role's packages before any play closes egress.

On a bare host, egress_firewall's default-deny would otherwise cut apt off
before ai_container asks for Docker Engine and mtls_frontend for NGINX. The
lab's hosts have every package already, so no Molecule run would notice.
"""

import pathlib

import jinja2
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES_THAT_INSTALL = ("egress_firewall", "ai_container", "mtls_frontend")


def plays():
    return yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())


def roles_of(play):
    names = [entry["role"] if isinstance(entry, dict) else entry for entry in play.get("roles", [])]
    for section in ("pre_tasks", "tasks", "post_tasks"):
        for task in play.get(section) or []:
            include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
            if include:
                names.append(include["name"] + ":" + include.get("tasks_from", "main"))
    return [name.replace("aicontainers.hardening.", "") for name in names]


def test_every_role_that_installs_has_an_install_entry_point():
    for role in ROLES_THAT_INSTALL:
        specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        assert "install" in specs["argument_specs"], role
        assert (ROOT / "roles" / role / "tasks" / "install.yml").is_file(), role


def test_the_first_play_validates_every_role_on_every_host_before_any_change():
    first = plays()[0]
    assert first["hosts"] == "proxies:aihosts:frontends" and first["any_errors_fatal"] is True
    assert roles_of(first) == [
        role + ":validate" for role in ("egress_firewall", "dpi_exemption", "ai_container", "mtls_frontend")
    ]
    for role in ("egress_firewall", "dpi_exemption", "ai_container", "mtls_frontend"):
        specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        entry_points = specs["argument_specs"]
        # The same options (a YAML alias), so the types and choices are checked before any change.
        assert entry_points["validate"]["options"] == entry_points["main"]["options"], role


def test_the_second_play_installs_for_every_role_before_egress_closes():
    _validate, install, *rest = plays()
    assert roles_of(install) == [role + ":install" for role in ROLES_THAT_INSTALL]
    assert "egress_firewall" in roles_of(rest[0]), "the first play after the installs closes egress"


def test_only_install_tasks_install_packages():
    for role in ROLES_THAT_INSTALL:
        for path in (ROOT / "roles" / role / "tasks").glob("*.yml"):
            tasks = yaml.safe_load(path.read_text()) or []
            installs = [task for task in tasks if "ansible.builtin.package" in task or "ansible.builtin.apt" in task]
            assert not installs or path.name == "install.yml", f"{role}/tasks/{path.name} installs packages"


def _installs(task, host, groups, **host_vars):
    """Whether the install play's task runs on host, evaluated as Ansible would (Jinja2)."""
    expression = task["when"]
    context = {"inventory_hostname": host, "groups": groups, **host_vars}
    return jinja2.Environment().from_string("{{ (" + expression + ") | string }}").render(context) == "True"


@pytest.mark.parametrize(
    ("host", "host_vars", "expected"),
    [
        ("ai1", {}, True),
        ("proxy1", {"egress_firewall_dns_upstreams": ["10.0.0.53"]}, True),
        ("proxy1", {}, False),
        # The role's defaults (an empty list) are visible in the play that lists it.
        ("proxy1", {"egress_firewall_dns_upstreams": []}, False),
        # A frontend never runs egress_firewall: an inventory-wide upstream must not install it there.
        ("front1", {"egress_firewall_dns_upstreams": ["10.0.0.53"]}, False),
    ],
)
def test_the_egress_firewall_packages_go_where_egress_firewall_runs(host, host_vars, expected):
    install_egress = plays()[1]["tasks"][0]
    assert install_egress["ansible.builtin.include_role"]["name"].endswith("egress_firewall")
    groups = {"aihosts": ["ai1"], "proxies": ["proxy1"], "frontends": ["front1"]}
    assert _installs(install_egress, host, groups, **host_vars) is expected


@pytest.mark.parametrize(
    ("host_vars", "expected"),
    [
        ({"egress_firewall_dns_upstreams": ["10.0.0.53"]}, True),
        ({"egress_firewall_dns_upstreams": []}, False),
        ({}, False),
    ],
)
def test_the_proxies_play_runs_egress_firewall_only_with_upstreams(host_vars, expected):
    proxies_play = next(play for play in plays() if play["hosts"] == "proxies")
    (egress,) = [role for role in proxies_play["roles"] if role["role"].endswith("egress_firewall")]
    groups = {"aihosts": ["ai1"], "proxies": ["proxy1"], "frontends": ["front1"]}
    assert _installs(egress, "proxy1", groups, **host_vars) is expected
