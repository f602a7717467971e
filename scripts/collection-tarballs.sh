#!/usr/bin/env bash
# Put the collection's tarball and its dependencies' tarballs in DIR, as a
# user downloads them from Galaxy: ours built from this checkout, the
# dependencies made from the collections the pinned `ansible` package bundles
# (scripts/dependency_tarballs.py; Galaxy is not reachable from here).
# Prints the tarballs' paths, ours first.
#
# usage: collection-tarballs.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
mkdir -p "$out"
rm -f "$out"/*.tar.gz
.venv/bin/ansible-galaxy collection build --force --output-path "$out" . >/dev/null
ls "$out"/aicontainers-hardening-*.tar.gz
.venv/bin/python scripts/dependency_tarballs.py .venv/lib/python3.11/site-packages/ansible_collections "$out"
