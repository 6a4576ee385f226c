#!/usr/bin/env bash
# Builds (once) the systemd VM lane's Debian 12 root filesystem from the package registries:
# debootstrap (minbase) + systemd as init + Debian's 6.12 kernel (bookworm-security) with the
# initramfs its postinst generates (virtio-blk and ext4 as modules) + its headers + the packages
# named on the command line (lane.py passes the .deb's Depends, so installing it needs no
# network) + bpftool and prometheus-node-exporter (the lane compares their units).
#
# Usage: tests/systemd/rootfs.sh PACKAGE...   -> prints the cache dir holding rootfs/, vmlinuz,
#                                               initrd.img and kver on stdout.
# Cache: $THPWATCH_SYSTEMD_CACHE (default /var/cache/thpwatch/systemd-lane)/<key>, where the key
# hashes the kernel version, the package list and this script: any change builds a new one.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${THPWATCH_SYSTEMD_CACHE:-/var/cache/thpwatch/systemd-lane}
mirror=http://deb.debian.org/debian
log() { echo "systemd-lane rootfs: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "rootfs.sh: needs root (debootstrap, chroot)" >&2; exit 1; }

source "$here/../../scripts/lib/apt.sh"
apt_install debootstrap e2fsprogs qemu-system-x86

newest_image() {   # newest generic amd64 6.12 kernel in the apt sources (as tests/vm/setup.sh)
    apt-cache search --names-only '^linux-image-6\.12\.[0-9].*-amd64$' | awk '{print $1}' \
        | grep -v -e cloud -e '-rt-' -e dbg -e unsigned | sort -V | tail -1
}
image_pkg=$(newest_image)
[ -n "$image_pkg" ] || { apt_get update -qq; image_pkg=$(newest_image); }
[ -n "$image_pkg" ] || { echo "rootfs.sh: no linux-image-6.12.*-amd64 in the apt sources" >&2; exit 1; }
kver=${image_pkg#linux-image-}

base_packages=systemd-sysv,udev,dbus,kmod,initramfs-tools,iproute2,procps,zstd
packages=(
    "linux-image-$kver" "linux-headers-$kver"
    "$@" bpftool prometheus-node-exporter
)
key=$( { echo "$kver $base_packages $(printf '%s\n' "${packages[@]}" | sort -u)"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)
dir="$cache/$key"
if [ -f "$dir/.ready" ]; then echo "$dir"; exit 0; fi

log "building $dir ($kver)"
rm -rf "$dir"; mkdir -p "$dir"
root="$dir/rootfs"
cleanup() { for m in dev/pts dev proc sys; do umount "$root/$m" 2>/dev/null || true; done; }
trap cleanup EXIT
debootstrap --variant=minbase --include="$base_packages" bookworm "$root" "$mirror" >&2

cat > "$root/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
mount -t proc proc "$root/proc"; mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"
chroot "$root" apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >&2
chroot "$root" apt-get clean
cleanup

echo thpwatch-lane > "$root/etc/hostname"
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$root/etc/fstab"
cat > "$root/etc/systemd/network/10-qemu.network" <<'NET'
[Match]
Name=en* eth*
[Network]
DHCP=ipv4
NET
ln -sf /lib/systemd/system/systemd-networkd.service \
    "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# Nothing at boot but what the lane looks at.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
    systemd-networkd-wait-online.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
cp "$root/boot/vmlinuz-$kver" "$dir/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$dir/initrd.img"
echo "$kver" > "$dir/kver"
touch "$dir/.ready"
echo "$dir"
