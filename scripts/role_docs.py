"""Write each role README's variables section from its meta/argument_specs.yml.

The argument specs are the source of truth for a role's variables; the
README's table between the BEGIN/END markers is generated from them.

usage: role_docs.py [--check]   (--check: fail, naming the README, when a table is out of date)
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN variables: generated from meta/argument_specs.yml by scripts/role_docs.py; do not edit -->"
END = "<!-- END variables -->"
# Ansible's documentation markup, as Markdown.
MARKUP = [
    # O(name), O(name=value), and another entry point's O(ns.coll.role#role:entry:name=value).
    (
        re.compile(r"O\((?:[\w.]+#role:[a-z_]+:)?([^)=]+)(=[^)]*)?\)"),
        lambda m: "`{0}{1}`".format(m.group(1), m.group(2) or ""),
    ),
    (re.compile(r"[CVM]\(([^)]*)\)"), lambda m: "`{0}`".format(m.group(1))),
    (re.compile(r"I\(([^)]*)\)"), lambda m: "*{0}*".format(m.group(1))),
    (re.compile(r"L\(([^,]*),\s*([^)]*)\)"), lambda m: "[{0}]({1})".format(m.group(1), m.group(2))),
    (re.compile(r"U\(([^)]*)\)"), lambda m: m.group(1)),
]


def markdown(text):
    text = " ".join(text) if isinstance(text, list) else str(text or "")
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return " ".join(text.split()).replace("|", "\\|")


def default_of(spec):
    if spec.get("required"):
        return "required"
    if "default" not in spec or spec["default"] is None:
        return "unset"
    return "`{0}`".format(json.dumps(spec["default"], ensure_ascii=False))


def table(options):
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, spec in options.items():
        lines.append("| `{0}` | {1} | {2} |".format(name, default_of(spec), markdown(spec.get("description"))))
    return lines


def section(specs):
    """The generated block: the main entry point's table, then one per other entry point."""
    lines = [BEGIN, ""]
    for entry_point, spec in specs.items():
        if entry_point != "main":
            lines += ["### Entry point `{0}`".format(entry_point), "", markdown(spec.get("short_description")), ""]
        if entry_point != "main" and spec.get("options") is specs["main"].get("options"):
            # A YAML alias of main's options: one table says it.
            lines += ["It takes the main entry point's variables.", ""]
            continue
        lines += [*table(spec.get("options") or {}), ""]
    return "\n".join([*lines, END])


def render(readme_text, specs):
    if BEGIN not in readme_text or END not in readme_text:
        raise ValueError("no '{0}' ... '{1}' markers".format(BEGIN, END))
    before, rest = readme_text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    return before + section(specs) + after


def main(check):
    stale = []
    for spec_path in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        readme = spec_path.parents[1] / "README.md"
        specs = yaml.safe_load(spec_path.read_text())["argument_specs"]
        current = readme.read_text()
        try:
            wanted = render(current, specs)
        except ValueError as error:
            stale.append("{0}: {1}".format(readme.relative_to(ROOT), error))
            continue
        if wanted != current:
            if check:
                stale.append(
                    "{0}: the variables table differs from {1}; run `make docs`".format(
                        readme.relative_to(ROOT), spec_path.relative_to(ROOT)
                    )
                )
            else:
                readme.write_text(wanted)
    for line in stale:
        print(line, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
