#!/usr/bin/env bash
# Build the collection tarball and install it as a user would: with
# ansible-core alone (no `ansible` package, so none of its bundled
# collections), offline, from our tarball and our dependencies' tarballs.
# Galaxy is not reachable from our machines, so the dependencies' tarballs are
# made from the collections the pinned `ansible` package bundles.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
core_venv=.cache/core-venv

fail() { echo "aich: $*" >&2; exit 1; }

mapfile -t tarballs < <(scripts/collection-tarballs.sh "$out/tarballs")
[ "${#tarballs[@]}" -gt 1 ] || fail "could not build the tarballs (scripts/collection-tarballs.sh)"
tarball=${tarballs[0]}
deps=("${tarballs[@]:1}")

# A controller with nothing but ansible-core, at the version we pin for the
# tool chain's Python (the oldest we claim).
scripts/core-venv.sh 3.11 "$core_venv"
core_version=$("$core_venv/bin/ansible" --version | sed -n 's/.*core \([0-9.]*\)\]/\1/p')

# ansible-core alone, seeing only the collections installed under $out/installed.
core() {
    env PATH="$PWD/$core_venv/bin:/usr/bin:/bin" ANSIBLE_HOME="$out/ansible-home" \
        ANSIBLE_COLLECTIONS_PATH="$out/installed" "$@"
}

# Our tarball alone must not install: the dependencies are declared.
if core ansible-galaxy collection install --offline -p "$out/alone" "$tarball" >"$out/alone.log" 2>&1; then
    fail "the collection installed offline without its dependencies; galaxy.yml must declare them"
fi

core ansible-galaxy collection install --offline -p "$out/installed" "$tarball" "${deps[@]}" \
    >"$out/install.log" 2>&1 || { cat "$out/install.log" >&2; fail "offline install from tarballs failed"; }
installed="$out/installed/ansible_collections/aicontainers/hardening"
test -f "$installed/MANIFEST.json"
for kept_out in tests/lab molecule .venv .cache .ansible .ansible-lint-ignore .benchmarks bench scripts; do
    [ ! -e "$installed/$kept_out" ] || fail "$kept_out must not ship in the collection tarball"
done

# A user who lints the installed collection (ansible-lint's production
# profile, with none of our development configuration) sees no violation.
lint=$PWD/.venv/bin/ansible-lint
(cd "$installed" && env XDG_CACHE_HOME="$out/xdg" ANSIBLE_HOME="$out/lint-home" \
    ANSIBLE_COLLECTIONS_PATH="$out/installed" NO_COLOR=1 \
    "$lint" --offline --profile production -f pep8 >"$out/lint.log" 2>&1) \
    || { cat "$out/lint.log" >&2; fail "ansible-lint (production) fails on the collection as installed"; }

# Every playbook loads with only what was installed: each module, filter and
# role it names resolves (a missing collection fails here).
for playbook in "$installed"/playbooks/*.yml; do
    name=$(basename "$playbook" .yml)
    core ansible-playbook --syntax-check -i localhost, \
        "aicontainers.hardening.$name" >"$out/syntax.log" 2>&1 \
        || { cat "$out/syntax.log" >&2; fail "aicontainers.hardening.$name does not load with ansible-core and the declared dependencies"; }
done
# What an execution-environment builder makes of it (meta/execution-environment.yml).
scripts/ee-check.sh "$out/installed" "$tarball" "${deps[@]}"

echo "aich: built $(basename "$tarball") ($(du -h "$tarball" | cut -f1)); installed offline with ansible-core $core_version" \
     "and $(basename -a -s .tar.gz "${deps[@]}" | paste -sd' ')"
