"""Every role variable an error sentence names exists: it is declared in a role's argument specs."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = ("egress_firewall", "dpi_exemption", "ai_container", "mtls_frontend")
VARIABLE = re.compile(r"(?<![_a-z])((?:{0})_[a-z0-9_]*[a-z0-9])\b".format("|".join(ROLES)))


def declared():
    names = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry_point in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names |= set((entry_point.get("options") or {}).keys())
    return names


def plugin_names():
    """Filters and modules share the role prefixes; they are not variables."""
    names = {path.stem for path in ROOT.glob("plugins/modules/*.py")}
    for path in ROOT.glob("plugins/filter/*.py"):
        names |= set(re.findall(r'"([a-z_]+)":\s*[a-z_]+', path.read_text()))
    return names


def named_in_errors():
    """Variables in the plugins' Python (where the error sentences are) and in the roles' fail_msg texts."""
    found = {}
    for path in ROOT.glob("plugins/**/*.py"):
        for name in VARIABLE.findall(path.read_text()):
            found.setdefault(name, path.relative_to(ROOT))
    for path in ROOT.glob("roles/*/tasks/*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            for message in _fail_messages(task):
                for name in VARIABLE.findall(message):
                    found.setdefault(name, path.relative_to(ROOT))
    return found


def _fail_messages(task):
    if not isinstance(task, dict):
        return []
    messages = []
    for key in ("ansible.builtin.assert", "ansible.builtin.fail"):
        args = task.get(key) or {}
        messages += [str(args.get("fail_msg", "")), str(args.get("msg", ""))]
    for key in ("block", "rescue", "always"):
        for inner in task.get(key) or []:
            messages += _fail_messages(inner)
    return messages


def test_every_variable_an_error_names_is_declared():
    unknown = {name: str(where) for name, where in named_in_errors().items() if name not in declared() | plugin_names()}
    assert unknown == {}
