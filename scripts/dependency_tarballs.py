"""Make Galaxy artifacts of the collections galaxy.yml depends on, from the
copies the pinned `ansible` package bundles (Galaxy is not reachable here).

usage: dependency_tarballs.py BUNDLED_COLLECTIONS_DIR OUTPUT_DIR

An installed collection is an unpacked artifact (MANIFEST.json, FILES.json,
the files), except that the `ansible` package leaves out some files FILES.json
lists (CI configuration). ansible-galaxy refuses an artifact whose FILES.json
names a missing file, so FILES.json is rewritten from what is there and
MANIFEST.json given its new checksum. Prints each artifact's path.
"""

import hashlib
import io
import json
import os
import sys
import tarfile

import yaml


def closure(bundled, roots):
    """Each collection in roots and everything it depends on -> {fqcn: manifest}."""
    found, todo = {}, list(roots)
    while todo:
        fqcn = todo.pop()
        if fqcn not in found:
            with open(os.path.join(bundled, *fqcn.split("."), "MANIFEST.json")) as handle:
                found[fqcn] = json.load(handle)
            todo.extend(found[fqcn]["collection_info"].get("dependencies") or {})
    return found


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _entry(name, ftype, chksum=None):
    return {
        "name": name,
        "ftype": ftype,
        "chksum_type": "sha256" if chksum else None,
        "chksum_sha256": chksum,
        "format": 1,
    }


def files_entries(root):
    """FILES.json's entries for what is in root, in a stable order."""
    entries = [_entry(".", "dir")]
    for path, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(path, root)
        entries.extend(_entry(os.path.normpath(os.path.join(rel, name)), "dir") for name in dirs)
        for name in sorted(files):
            if rel == "." and name in ("MANIFEST.json", "FILES.json"):
                continue
            entries.append(_entry(os.path.normpath(os.path.join(rel, name)), "file", sha256(os.path.join(path, name))))
    return entries


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_artifact(root, manifest, output):
    entries = files_entries(root)
    files_json = json.dumps({"files": entries, "format": 1}, indent=2).encode()
    manifest = dict(
        manifest,
        file_manifest_file=dict(manifest["file_manifest_file"], chksum_sha256=hashlib.sha256(files_json).hexdigest()),
    )
    with tarfile.open(output, "w:gz") as tar:
        add_bytes(tar, "MANIFEST.json", json.dumps(manifest, indent=2).encode())
        add_bytes(tar, "FILES.json", files_json)
        for entry in entries[1:]:
            tar.add(os.path.join(root, entry["name"]), arcname=entry["name"], recursive=False)


def main(bundled, output_dir):
    with open("galaxy.yml") as handle:
        roots = yaml.safe_load(handle).get("dependencies") or {}
    for fqcn, manifest in sorted(closure(bundled, roots).items()):
        info = manifest["collection_info"]
        output = os.path.join(output_dir, "{0}-{1}-{2}.tar.gz".format(info["namespace"], info["name"], info["version"]))
        write_artifact(os.path.join(bundled, *fqcn.split(".")), manifest, output)
        print(output)


if __name__ == "__main__":
    main(*sys.argv[1:])
