#!/usr/bin/env bash
# ansible-test on one entry of the version matrix, where each test must run:
#   sanity  on a copy of the checkout's files at ansible_collections/aicontainers/hardening;
#   units   on the collection installed from its built tarball, as a consumer runs them
#           (so a unit test that reads a file the tarball leaves out fails here).
# Each Python gets its own virtualenv with the ansible-core requirements.txt
# pins for it (scripts/core-venv.sh), apart from .venv's tool chain, because
# ansible-test pins its own pylint, mypy, pytest and friends.
#
# usage: ansible-test.sh PYTHON sanity|units [ansible-test options]
#        e.g. ansible-test.sh 3.12 units
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1 command=$2
shift 2
venv="$PWD/.cache/ansible-test-$python"
scripts/core-venv.sh "$python" "$venv"
export PATH="$venv/bin:$PATH"
# Only the tree below may provide the collection (the Makefile's path finds the checkout).
unset ANSIBLE_COLLECTIONS_PATH

# ansible-test keeps its per-test virtualenvs under ~/.ansible/test: give it a
# home in this project's own cache directory instead, so nothing lands in the
# user's ~/.ansible and the virtualenvs (minutes to build) outlive a clone.
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}"
checkout=$PWD
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
case $command in
    sanity)
        scripts/copy-checkout.sh "$dest"
        ;;
    units)
        ansible-galaxy collection build --output-path "$tree" "$checkout" >/dev/null
        ansible-galaxy collection install --offline --no-deps --force -p "$tree" "$tree"/aicontainers-hardening-*.tar.gz >/dev/null
        ;;
    *) echo "usage: ansible-test.sh PYTHON sanity|units [options]" >&2; exit 2 ;;
esac
cd "$dest"
echo "aich: ansible-test $command, $(ansible --version | sed -n '1s/[][]//gp'), Python $python"
# --requirements makes ansible-test install each test's pinned tools; keep its
# pip chatter out of the log and the test results in.
pip_noise='^ *(Looking in|Processing|Installing collected|Successfully|Attempting uninstall|Found existing|Uninstalling|Collecting|Downloading|Requirement already|Using cached|WARNING: Location|Obtaining|Preparing|Building|Created wheel|Stored in)'
set +e
ansible-test "$command" --color "${ANSIBLE_TEST_COLOR:-no}" --python "$python" --local --requirements "$@" 2>&1 \
    | grep -Ev "$pip_noise"
status=${PIPESTATUS[0]}
set -e
exit "$status"
