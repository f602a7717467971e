#!/usr/bin/env bash
# Build the collection tarball and install it into a scratch path, as
# `ansible-galaxy collection install` would on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/aicontainers-hardening-*.tar.gz)
ansible-galaxy collection install --offline --force -p "$out/installed" "$tarball" >"$out/install.log" 2>&1 \
    || { cat "$out/install.log" >&2; exit 1; }
installed="$out/installed/ansible_collections/aicontainers/hardening"
test -f "$installed/MANIFEST.json"
for kept_out in tests/lab molecule .venv .cache; do
    if [ -e "$installed/$kept_out" ]; then
        echo "aich: $kept_out must not ship in the collection tarball" >&2
        exit 1
    fi
done
echo "aich: built and installed $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
