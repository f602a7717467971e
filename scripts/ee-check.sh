#!/usr/bin/env bash
# What an execution-environment builder sees of the installed collection:
# ansible-builder must find meta/execution-environment.yml and its Python and
# system requirements, and `ansible-builder create` must make a build context
# for an EE that installs our tarball and its dependencies.
#
# usage: ee-check.sh COLLECTIONS_PATH TARBALL...   (ours first)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
collections=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "aich: $*" >&2; exit 1; }

# introspect prints, per requirement, the collections that asked for it.
.venv/bin/ansible-builder introspect --sanitize "$collections" >"$work/introspect.yml" 2>&1 \
    || { cat "$work/introspect.yml" >&2; fail "ansible-builder introspect failed on the installed collection"; }
.venv/bin/python - "$work/introspect.yml" meta/ee-requirements.txt meta/ee-bindep.txt <<'PY' || exit 1
import sys

import yaml

found = yaml.safe_load(open(sys.argv[1]))
for kind, path in (("python", sys.argv[2]), ("system", sys.argv[3])):
    wanted = [line.split("#")[0].strip() for line in open(path)]
    wanted = [line for line in wanted if line]
    seen = [line for line in found.get(kind) or [] if "aicontainers.hardening" in line]
    for requirement in wanted:
        if not any(line.startswith(requirement) for line in seen):
            sys.exit(f"aich: ansible-builder does not see {path}'s {requirement!r} for aicontainers.hardening"
                     f" (meta/execution-environment.yml); it saw: {seen or 'nothing of ours'}")
PY

# An EE definition naming our tarballs, as a user's would name Galaxy's.
mkdir -p "$work/ee/tarballs"
cp tests/lab/ee/execution-environment.yml "$work/ee/"
cp "$@" "$work/ee/tarballs/"
{
    echo "collections:"
    for tarball in "$@"; do echo "  - {name: tarballs/$(basename "$tarball"), type: file}"; done
} > "$work/ee/requirements.yml"
(cd "$work/ee" && "$root/.venv/bin/ansible-builder" create --file execution-environment.yml \
    --context "$work/context" --output-filename Containerfile) >"$work/create.log" 2>&1 \
    || { cat "$work/create.log" >&2; fail "ansible-builder create failed"; }
grep -q "aicontainers-hardening" "$work/context/_build/requirements.yml" \
    || fail "the EE build context does not install aicontainers.hardening"
test -f "$work/context/_build/tarballs/$(basename "$1")" || fail "the EE build context lacks our tarball"
echo "aich: ansible-builder sees our EE requirements ($(grep -cv '^\s*\(#\|$\)' meta/ee-requirements.txt) Python," \
     "$(grep -cv '^\s*\(#\|$\)' meta/ee-bindep.txt) system) and created an EE build context"
