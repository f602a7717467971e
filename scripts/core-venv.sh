#!/usr/bin/env bash
# Make DIR a virtualenv of Python X.Y with nothing but the ansible-core that
# requirements.txt pins for that Python (pip picks the line by its marker);
# kept while the interpreter and the pins are unchanged.
#
# usage: core-venv.sh X.Y DIR
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1 venv=$2

interpreter() {  # pythonX.Y on PATH, else the newest pyenv build of it
    if "python$version" --version >/dev/null 2>&1; then
        command -v "python$version"
        return
    fi
    local root
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    find "$root"/versions -maxdepth 3 -path "*/versions/$version.*/bin/python$version" 2>/dev/null | sort -V | tail -1
}

python=$(interpreter)
[ -n "$python" ] || { echo "aich: no Python $version found (on PATH or under pyenv)" >&2; exit 1; }
pins=$(grep -E '^ansible-core==' requirements.txt)
stamp="$python $pins"
[ "$(cat "$venv/.pins" 2>/dev/null)" = "$stamp" ] && exit 0

rm -rf "$venv"
"$python" -m venv "$venv"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$venv/bin/pip" install --disable-pip-version-check -r <(echo "$pins") >"$log" 2>&1 \
    || { cat "$log" >&2; echo "aich: could not install ansible-core for Python $version" >&2; exit 1; }
echo "$stamp" > "$venv/.pins"
