#!/usr/bin/env bash
# `make release` checked without touching this checkout: on a committed copy
# of its files, a bad VERSION must stop with a sentence and change nothing,
# and the next patch version must release (changelog, galaxy.yml, tarball,
# Galaxy's importer).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
fail() { echo "aich: release check: $*" >&2; exit 1; }

copy=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$copy" "$log"' EXIT
scripts/copy-checkout.sh "$copy"
cd "$copy"
git init -q && git add -A && git -c user.name=release-check -c user.email=release-check@localhost commit -qm copy

if out=$(scripts/release.sh 1.0 2>&1); then fail "VERSION=1.0 was accepted"; fi
grep -q "VERSION must be a release version" <<<"$out" || fail "VERSION=1.0 gave no sentence naming VERSION: $out"
[ -z "$(git status --porcelain)" ] || fail "a refused VERSION changed the checkout: $(git status --porcelain)"

current=$(sed -n 's/^version: //p' galaxy.yml)
next=$(awk -F. -v OFS=. '{ $3 += 1; print }' <<<"$current")
SUMMARY="Checked by release-check." scripts/release.sh "$next" > "$log" 2>&1 \
    || { cat "$log" >&2; fail "make release VERSION=$next failed"; }
grep -qF "release_summary: Checked by release-check." changelogs/changelog.yaml || fail "the release has no summary"
grep -qx "version: $next" galaxy.yml || fail "galaxy.yml's version is not $next"
grep -qF "<a id=\"v${next//./-}\"></a>" CHANGELOG.md || fail "CHANGELOG.md has no v$next section"
python -c 'import sys, yaml; sys.exit(sys.argv[2] not in yaml.safe_load(open(sys.argv[1]))["releases"])' \
    changelogs/changelog.yaml "$next" || fail "changelogs/changelog.yaml does not record $next"
[ -z "$(ls changelogs/fragments)" ] || fail "fragments left after the release: $(ls changelogs/fragments)"
test -f "dist/aicontainers-hardening-$next.tar.gz" || fail "no tarball for $next"
tail -2 "$log" | head -1
