#!/usr/bin/env bash
# Build the lab images when they are missing or stale, and nothing otherwise.
#
#   AICH_BASE_IMAGE     systemd + python3 image (built here with debootstrap
#                       unless you name one you already have)
#   AICH_LAB_IMAGE      base + the lab's packages (test hosts run this)
#   AICH_STANDIN_IMAGE  the stand-in AI container
# and for the field scenario (managed hosts that start bare, reached over SSH):
#   aich-base:{bullseye,trixie}, aich-bare:{bullseye,bookworm,trixie}
#   (systemd, python3, sshd, sudo), aich-controller:bookworm (ansible-core only) and
#   aich-services:bookworm (apt-cacher-ng, docker-registry, skopeo).
#
# Each image carries a recipe label: a hash of what it is built from (its
# build files and its parent's image id). A matching label means "up to date".
set -euo pipefail
cd "$(dirname "$0")/.."

base_image=${AICH_BASE_IMAGE:-aich-base:bookworm}
lab_image=${AICH_LAB_IMAGE:-aich-lab:bookworm}
standin_image=${AICH_STANDIN_IMAGE:-aich-standin:latest}
archive_dir=.cache/images
label=org.aicontainers.lab.recipe
export DOCKER_BUILDKIT=0  # docker.io's classic builder; buildx may be absent

recipe_label() {
    docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true
}
image_id() {
    docker image inspect -f '{{ .Id }}' "$1"
}
recipe() {  # recipe ID-OF-PARENT FILE... -> short hash
    { echo "$1"; shift; cat "$@"; } | sha256sum | cut -c1-16
}
build_from_dockerfile() {  # build_from_dockerfile IMAGE CONTEXT RECIPE [BASE_IMAGE]
    echo "aich: building $1"
    local log
    log=$(mktemp)
    docker build --build-arg "BASE_IMAGE=${4:-$base_image}" --label "$label=$3" -t "$1" "$2" >"$log" 2>&1 \
        || { tail -30 "$log" >&2; rm -f "$log"; return 1; }
    rm -f "$log"
}

if [ -n "${AICH_BASE_IMAGE:-}" ]; then
    docker image inspect "$base_image" >/dev/null 2>&1 || {
        echo "aich: AICH_BASE_IMAGE=$base_image is not a local image; load or build it first, or unset AICH_BASE_IMAGE to build the lab's own." >&2
        exit 1
    }
else
    want=$(recipe none tests/lab/images/base/build.sh)
    [ "$(recipe_label "$base_image")" = "$want" ] || tests/lab/images/base/build.sh "$base_image" "$want"
fi

want=$(recipe "$(image_id "$base_image")" tests/lab/images/lab/Dockerfile)
[ "$(recipe_label "$lab_image")" = "$want" ] || build_from_dockerfile "$lab_image" tests/lab/images/lab "$want"

want=$(recipe "$(image_id "$base_image")" tests/lab/images/standin/Dockerfile tests/lab/images/standin/standin.py)
[ "$(recipe_label "$standin_image")" = "$want" ] || build_from_dockerfile "$standin_image" tests/lab/images/standin "$want"

# The field scenario's images.
for suite in bullseye trixie; do
    want=$(recipe "$suite" tests/lab/images/base/build.sh)
    [ "$(recipe_label "aich-base:$suite")" = "$want" ] \
        || tests/lab/images/base/build.sh "aich-base:$suite" "$want" "$suite"
done
for suite in bullseye bookworm trixie; do
    parent=$([ "$suite" = bookworm ] && echo "$base_image" || echo "aich-base:$suite")
    want=$(recipe "$(image_id "$parent")" tests/lab/images/bare/Dockerfile)
    [ "$(recipe_label "aich-bare:$suite")" = "$want" ] \
        || build_from_dockerfile "aich-bare:$suite" tests/lab/images/bare "$want" "$parent"
done
want=$(recipe "$(image_id "$base_image")" tests/lab/images/services/Dockerfile)
[ "$(recipe_label aich-services:bookworm)" = "$want" ] \
    || build_from_dockerfile aich-services:bookworm tests/lab/images/services "$want"
# ansible-core's wheels come from the host's pip (the image build has no
# route to PyPI of its own); the version is the one requirements.txt pins for
# the image's Python 3.11 (Debian 12), as pip chose it for the core-only venv.
scripts/core-venv.sh 3.11 .cache/core-venv
core_pin="ansible-core==$(.cache/core-venv/bin/python -c 'import importlib.metadata; print(importlib.metadata.version("ansible-core"))')"
want=$(recipe "$(image_id "$base_image")" tests/lab/images/controller/Dockerfile <(echo "$core_pin"))
if [ "$(recipe_label aich-controller:bookworm)" != "$want" ]; then
    context=$(mktemp -d)
    cp tests/lab/images/controller/Dockerfile "$context/"
    .venv/bin/pip download --quiet --disable-pip-version-check --dest "$context/wheels" "$core_pin" \
        >"$context/pip.log" 2>&1 || { cat "$context/pip.log" >&2; exit 1; }
    rm -f "$context/pip.log"
    build_from_dockerfile aich-controller:bookworm "$context" "$want"
    rm -rf "$context"
fi

# Test hosts load the stand-in into their nested Docker from this archive
# (bind-mounted read-only), because they cannot pull either.
mkdir -p "$archive_dir"
archive="$archive_dir/standin-$want.tar"
if [ ! -f "$archive" ]; then
    rm -f "$archive_dir"/standin-*.tar
    docker save -o "$archive.tmp" "$standin_image" && mv "$archive.tmp" "$archive"
fi
ln -sfn "$(basename "$archive")" "$archive_dir/standin.tar"
echo "aich: images ready ($base_image, $lab_image, $standin_image)"
