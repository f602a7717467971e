#!/usr/bin/env bash
# ansible-test sanity, run where it needs to be: on a copy of the collection
# at ansible_collections/aicontainers/hardening, from a virtualenv of its own
# (.cache/sanity-venv), because ansible-test pins its own versions of pylint,
# mypy, yamllint and friends that clash with the tool chain in .venv, and its
# --venv mode downloads a pip bootstrap from a host we cannot reach.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.cache/sanity-venv"
core=$(grep -E '^ansible-core==' requirements.txt)

if [ "$(cat "$venv/.core" 2>/dev/null)" != "$core" ]; then
    rm -rf "$venv"
    "${PYTHON:-python3.11}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$core"
    echo "$core" > "$venv/.core"
fi

# ansible-test keeps its per-test virtualenvs under ~/.ansible/test: give it a
# home in this project's own cache directory instead, so nothing lands in the
# user's ~/.ansible and the virtualenvs (minutes to build) outlive a clone.
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}"
export HOME="${XDG_CACHE_HOME:-$HOME/.cache}/aicontainers-hardening/ansible-test-home"
mkdir -p "$HOME"

# ansible-test bootstraps pip in each test's venv from a download we cannot
# reach; give it the local equivalent under the name it looks for.
pip_version=$(grep -oP "pip='\K[0-9.]+" "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py)
bootstrap="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$bootstrap")"
cmp -s scripts/ansible_test_get_pip.py "$bootstrap" || cp scripts/ansible_test_get_pip.py "$bootstrap"

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
dest="$tree/ansible_collections/aicontainers/hardening"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$dest"
cd "$dest"
# --requirements makes ansible-test install each test's pinned tools; keep its
# pip chatter out of the log and the test results in.
pip_noise='^ *(Looking in|Processing|Installing collected|Successfully|Attempting uninstall|Found existing|Uninstalling|Collecting|Downloading|Requirement already|Using cached|WARNING: Location)'
set +e
PATH="$venv/bin:$PATH" ansible-test sanity --color "${ANSIBLE_TEST_COLOR:-no}" --python 3.11 \
    --local --requirements "$@" 2>&1 | grep -Ev "$pip_noise"
status=${PIPESTATUS[0]}
set -e
exit "$status"
