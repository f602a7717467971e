#!/usr/bin/env bash
# Release the collection at VERSION, offline: the changelog released from the
# fragments (antsibull-changelog), galaxy.yml's version set, the tarball built
# into dist/, and Galaxy's importer run on that tarball as Galaxy would
# (galaxy-importer; a warning counts as a failure: Galaxy shows it to users).
# Publishing (commit, tag, `ansible-galaxy collection publish`) stays a
# person's step; the last lines say how.
#
# usage: [SUMMARY=text] release.sh VERSION     (make release VERSION=x.y.z [SUMMARY=text])
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-}
fail() { echo "aich: $*" >&2; exit 1; }

# Bad input stops here, before anything in the checkout changes.
[[ $version =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] \
    || fail "VERSION must be a release version x.y.z (semantic versioning, e.g. VERSION=1.2.0); got '$version'."
released=$(python -c 'import sys, yaml; print("\n".join(map(str, (yaml.safe_load(open(sys.argv[1]))["releases"] or {}))))' \
    changelogs/changelog.yaml)
if grep -qxF "$version" <<<"$released"; then
    fail "VERSION $version is already released (changelogs/changelog.yaml); choose a newer one."
fi
latest=$(sort -V <<<"$released" | tail -1)
if [ -n "$latest" ] && [ "$(printf '%s\n%s\n' "$latest" "$version" | sort -V | tail -1)" != "$version" ]; then
    fail "VERSION $version is older than the latest release $latest; choose a newer one."
fi
[ -z "$(git status --porcelain)" ] \
    || fail "the checkout has uncommitted changes; a release is made from a commit (commit or stash them first)."

sed -i -E "s/^version: .*/version: $version/" galaxy.yml
# Every release opens with a summary (SUMMARY=..., or one line saying what it is).
if ! grep -qs '^release_summary:' changelogs/fragments/*.yml; then
    python -c 'import sys, yaml; print(yaml.safe_dump({"release_summary": sys.argv[1]}, width=1000), end="")' \
        "${SUMMARY:-Release $version of aicontainers.hardening.}" > "changelogs/fragments/$version.yml"
fi
antsibull-changelog release --version "$version"
antsibull-changelog lint
mkdir -p dist
tarball="dist/aicontainers-hardening-$version.tar.gz"
ansible-galaxy collection build --force --output-path dist . >/dev/null

# The importer writes its result and Ansible's temporary files where it runs:
# a directory of its own, nothing under ~.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[galaxy-importer]\nansible_local_tmp = %s\nrun_ansible_test = False\nrun_ansible_lint = True\ncheck_changelog = True\n' \
    "$work/ansible-tmp" > "$work/galaxy-importer.cfg"
tarball_path=$PWD/$tarball
if ! (cd "$work" && GALAXY_IMPORTER_CONFIG="$work/galaxy-importer.cfg" XDG_CACHE_HOME="$work/cache" \
      python -m galaxy_importer.main "$tarball_path") >"$work/importer.log" 2>&1 \
   || grep -qE '^(WARNING|ERROR)' "$work/importer.log"; then
    grep -E '^(WARNING|ERROR)' "$work/importer.log" >&2 || tail -20 "$work/importer.log" >&2
    fail "Galaxy's importer does not accept $tarball cleanly (above); the checkout now holds the release's changes."
fi

echo "aich: released $version: galaxy.yml, CHANGELOG.md and changelogs/ updated, fragments consumed;"
echo "aich: $tarball built; Galaxy's importer accepts it ($(grep -c '^Loading' "$work/importer.log") contents loaded, ansible-lint clean)."
echo "aich: next: review \`git diff\`, commit, tag $version, then \`ansible-galaxy collection publish $tarball\`."
