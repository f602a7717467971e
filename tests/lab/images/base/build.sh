#!/usr/bin/env bash
# Build a lab base image: Debian (bookworm unless SUITE says otherwise) with
# systemd and python3, made with debootstrap and `docker import` because no
# container registry is reachable.
#
# usage: build.sh IMAGE_NAME RECIPE_LABEL [SUITE]
# The mirror is debootstrap's default unless the host's apt configuration names
# one (first deb822 "URIs:" or sources.list "deb" line for Debian main).
set -euo pipefail

image="$1"
recipe="$2"
suite=${3:-bookworm}
packages=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,procps,ca-certificates,gnupg

host_mirror() {
    local uri=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    echo "$uri"
}

rootfs=$(mktemp -d /var/tmp/aich-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

mirror=$(host_mirror)
echo "aich: debootstrap $suite (${mirror:-debootstrap default mirror}) -> $image"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" ${mirror:+"$mirror"} \
    > "$rootfs.log" 2>&1 || { tail -30 "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

# Make systemd behave as a container init: no consoles, no udev, no hardware
# units, and a machine-id generated at first boot so every test host differs.
# shellcheck disable=SC2016  # expanded by the chroot's shell, not this one
chroot "$rootfs" /bin/sh -ec '
    for unit in getty.target console-getty.service systemd-udevd.service \
                systemd-udev-trigger.service systemd-firstboot.service \
                systemd-remount-fs.service sys-kernel-debug.mount \
                sys-kernel-tracing.mount dev-hugepages.mount; do
        ln -sf /dev/null "/etc/systemd/system/$unit"
    done
    : > /etc/machine-id
    rm -f /var/lib/dbus/machine-id
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
'

tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL org.aicontainers.lab.recipe=$recipe" \
    - "$image" > /dev/null
echo "aich: built $image"
