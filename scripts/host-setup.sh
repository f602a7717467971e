#!/usr/bin/env bash
# Install what the controller needs from Debian's packages and make sure a
# Docker Engine answers. Quick and silent when everything is already there.
set -euo pipefail

packages=(docker.io debootstrap python3-venv git shellcheck nftables)
# `host-setup.sh bench`: what the benchmarks run on the controller instead.
[ "${1:-}" = bench ] && packages=(nftables iperf3 iproute2 nginx haproxy openssl gcc libssl-dev)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "aich: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = bench ] || docker info >/dev/null 2>&1; then
    exit 0
fi
echo "aich: starting Docker Engine"
if [ -d /run/systemd/system ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo systemctl start docker
else
    # No systemd (a plain container or VM init): run dockerd in the background.
    nohup dockerd > /var/log/aich-dockerd.log 2>&1 &
fi
for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 1
done
echo "aich: Docker Engine did not answer within 60 s; see /var/log/aich-dockerd.log" >&2
exit 1
