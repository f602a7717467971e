#!/usr/bin/env bash
# ansible-test needs the collection at ansible_collections/<ns>/<name>; run it
# on a copy of the tracked files in a temporary tree.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
dest="$tree/ansible_collections/aicontainers/hardening"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
ansible-test sanity --color "${ANSIBLE_TEST_COLOR:-no}" --python 3.11 --venv --requirements "$@"
