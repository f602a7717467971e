#!/usr/bin/env bash
# Copy the checkout's files (tracked, and untracked ones not ignored: what the
# next commit would hold) into DEST, without caches, venvs or the lab's state.
#
# usage: copy-checkout.sh DEST
set -euo pipefail
dest=$1
cd "$(dirname "$0")/.."
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$dest"
