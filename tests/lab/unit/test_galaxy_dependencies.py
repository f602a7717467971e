"""Every collection the roles, playbooks and plugins name is declared in galaxy.yml.

scripts/build-check.sh installs the tarball with only the declared
dependencies and loads every playbook, which catches a missing module's
collection; a filter or lookup is only resolved when its task runs, so this
test reads the names instead.
"""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
# namespace.collection.plugin as a module, filter, test or lookup name.
FQCN = re.compile(r"(?<![\w./-])(community|ansible|containers|kubernetes|cisco|fortinet)\.(\w+)\.\w+")
ALWAYS_THERE = {"ansible.builtin", "ansible.legacy", "aicontainers.hardening"}


# Python imports name ansible-core's packages (ansible.module_utils...), not collections.
IMPORT = re.compile(r"^\s*(from|import)\s.*$", re.MULTILINE)


def named_collections(text):
    return {f"{m.group(1)}.{m.group(2)}" for m in FQCN.finditer(IMPORT.sub("", text))}


def test_every_collection_named_is_declared():
    declared = set(yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"]) | ALWAYS_THERE
    undeclared = {}
    for folder in ("roles", "playbooks", "plugins"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".yml", ".yaml", ".j2", ".py"):
                for fqcn in named_collections(path.read_text()) - declared:
                    undeclared.setdefault(fqcn, []).append(str(path.relative_to(ROOT)))
    assert not undeclared, f"declare these in galaxy.yml's dependencies, or stop using them: {undeclared}"


def test_a_filter_of_another_collection_is_found():
    assert named_collections("{{ x | map('community.general.dict_kv', 'path') }}") == {"community.general"}
    assert named_collections("path: ca.crt.pem") == set()
    assert named_collections("from ansible.module_utils.basic import AnsibleModule") == set()
