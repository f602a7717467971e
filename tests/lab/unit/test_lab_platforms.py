"""The field scenario's hosts share the lab's container settings.

Molecule replaces a scenario's platform list instead of merging it, and YAML
anchors cannot reach into .config/molecule/config.yml, so molecule/field
repeats them; this keeps the two from drifting apart.
"""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
SHARED = ("pre_build_image", "pull", "override_command", "stop_signal", "cgroupns_mode", "tmpfs",
          "security_opts", "capabilities", "keep_volumes")


def platforms(path):
    return yaml.safe_load((ROOT / path).read_text())["platforms"]


def test_every_field_host_has_the_labs_container_settings():
    lab = platforms(".config/molecule/config.yml")[0]
    for host in platforms("molecule/field/molecule.yml"):
        differences = {key: host.get(key) for key in SHARED if host.get(key) != lab.get(key)}
        assert not differences, f"{host['name']} differs from the lab's hosts: {differences}"
