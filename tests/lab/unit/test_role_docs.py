"""The role READMEs' variables tables are generated from the argument specs, and drift is caught."""

import importlib.util
import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("role_docs", ROOT / "scripts" / "role_docs.py")
role_docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(role_docs)


def specs(role):
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def test_every_readme_table_is_what_its_argument_specs_give():
    for role in ("egress_firewall", "dpi_exemption", "ai_container", "mtls_frontend"):
        readme = (ROOT / "roles" / role / "README.md").read_text()
        assert role_docs.render(readme, specs(role)) == readme, f"{role}: run `make docs`"


def test_a_variable_missing_from_the_readme_is_drift():
    readme = (ROOT / "roles" / "dpi_exemption" / "README.md").read_text()
    edited = "\n".join(line for line in readme.splitlines() if "`dpi_exemption_check_timeout`" not in line)
    assert role_docs.render(edited, specs("dpi_exemption")) != edited


def test_markup_becomes_markdown():
    assert role_docs.markdown(["Set O(ns.coll.role#role:main:a_b=x) and C(c) or V(d);", "see U(https://e)."]) == (
        "Set `a_b=x` and `c` or `d`; see https://e."
    )
