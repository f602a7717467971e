"""No argument spec default is a Jinja template.

ansible-core templates a role's argument spec before it checks the variables,
so a default such as "{{ inventory_dir }}/x" fails the whole role where that
variable is undefined (the implicit localhost has no inventory_dir). Templated
defaults belong in defaults/main.yml; the spec's description says what they are.
"""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def templated_defaults(specs):
    for entry_point, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            if "{{" in str(option.get("default", "")):
                yield f"{entry_point}/{name}"


def test_no_argument_spec_default_is_a_template():
    found = {}
    for path in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        specs = yaml.safe_load(path.read_text())["argument_specs"]
        found.update({f"{path.parts[-3]}: {name}": True for name in templated_defaults(specs)})
    assert not found, f"move these defaults to defaults/main.yml: {sorted(found)}"


def test_a_templated_default_is_found():
    specs = {"main": {"options": {"x_dir": {"type": "path", "default": "{{ inventory_dir }}/x"}}}}
    assert list(templated_defaults(specs)) == ["main/x_dir"]
