"""Every plugin shows its own documentation in ansible-doc, added in a release that exists."""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]


def release(text):
    return tuple(int(part) for part in str(text).split("."))


@pytest.fixture(scope="module")
def metadata():
    """ansible-doc --metadata-dump of this checkout, installed as aicontainers.hardening in a throwaway tree."""
    with tempfile.TemporaryDirectory(prefix="aich-doc-") as tree:
        namespace = pathlib.Path(tree, "ansible_collections", "aicontainers")
        namespace.mkdir(parents=True)
        (namespace / "hardening").symlink_to(ROOT)
        environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=tree, ANSIBLE_HOME=str(pathlib.Path(tree, "home")))
        ansible_doc = pathlib.Path(sys.executable).with_name("ansible-doc")
        result = subprocess.run(
            [str(ansible_doc), "--metadata-dump", "aicontainers.hardening"],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
        )
    return json.loads(result.stdout)["all"]


@pytest.mark.parametrize("kind", ["filter", "module"])
def test_every_plugin_shows_its_own_documentation(metadata, kind):
    plugins = {name: (entry or {}).get("doc") or {} for name, entry in metadata[kind].items()}
    assert plugins, "ansible-doc found no {0} plugins".format(kind)
    shown = {name: doc.get("name") or doc.get("module") for name, doc in plugins.items()}
    assert {name: own for name, own in shown.items() if name != "aicontainers.hardening." + str(own)} == {}


@pytest.mark.parametrize("kind", ["filter", "module"])
def test_every_plugin_was_added_in_a_release_that_exists(metadata, kind):
    added = {name: (entry or {}).get("doc", {}).get("version_added") for name, entry in metadata[kind].items()}
    assert {name: version for name, version in added.items() if release(version) > release(VERSION)} == {}
