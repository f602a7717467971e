"""Make this checkout importable as ansible_collections.aicontainers.hardening for plain pytest.

ansible-test units already runs the tests inside an ansible_collections tree;
`make unit` runs them from the checkout. ansible_collections is a namespace
package (the ansible package ships one too), so a symlinked tree on sys.path
adds our collection beside those.
"""

import importlib.util
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _expose_collection():
    try:
        if importlib.util.find_spec("ansible_collections.aicontainers.hardening") is not None:
            return
    except ModuleNotFoundError:
        pass
    tree = pathlib.Path(tempfile.mkdtemp(prefix="aich-unit-"))
    (tree / "ansible_collections" / "aicontainers").mkdir(parents=True)
    (tree / "ansible_collections" / "aicontainers" / "hardening").symlink_to(ROOT)
    sys.path.insert(0, str(tree))


_expose_collection()
