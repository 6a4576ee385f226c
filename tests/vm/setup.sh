#!/usr/bin/env bash
# Prepares the VM lane on this host, idempotently, from the package registries only:
#   - Debian qemu-system-x86, kmod (depmod), busybox-static, and udev at exactly the installed
#     systemd version (without it the guest gets no /dev/virtio-ports and vng returns neither
#     output nor exit code);
#   - virtme-ng==1.42 in its own venv under the cache;
#   - the stock Debian kernel of SERIES (6.12 or 6.1): linux-image-<ver>-amd64 with its
#     linux-headers-<ver>-amd64 and -common, downloaded and extracted (never installed: /boot and
#     /lib/modules stay untouched), with the modules dir's build/source links pointed at the
#     extracted headers so bcc compiles inside the guest.
# Usage: tests/vm/setup.sh SERIES   -> prints the kernel image path on stdout.
# Cache: $THPWATCH_VM_CACHE (default /var/lib/thpwatch-vm), reused across runs.
set -euo pipefail
series=${1:?usage: setup.sh SERIES (e.g. 6.12 or 6.1)}
[[ $series =~ ^[0-9]+\.[0-9]+$ ]] || { echo "setup.sh: SERIES must look like 6.12, got '$series'" >&2; exit 2; }
cache=${THPWATCH_VM_CACHE:-/var/lib/thpwatch-vm}
venv="$cache/venv"
virtme_ng_version=1.42

source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/apt.sh"   # as_root, apt_get
log() { echo "vm-setup: $*" >&2; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

apt_updated=
apt_update() { [ -n "$apt_updated" ] || { apt_get update -qq; apt_updated=1; }; }

# --- host packages --------------------------------------------------------------------------
systemd_version=$(dpkg-query -W -f='${Version}' systemd)
want=()
for p in qemu-system-x86 kmod busybox-static; do installed "$p" || want+=("$p"); done
[ "$(dpkg-query -W -f='${Version}' udev 2>/dev/null || true)" = "$systemd_version" ] \
    || want+=("udev=$systemd_version")
if [ ${#want[@]} -gt 0 ]; then
    log "installing Debian packages: ${want[*]}"
    apt_update
    apt_get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

# --- virtme-ng -------------------------------------------------------------------------------
mkdir -p "$cache"
if [ "$("$venv/bin/vng" --version 2>/dev/null | awk '{print $NF}')" != "$virtme_ng_version" ]; then
    log "installing virtme-ng==$virtme_ng_version into $venv"
    [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "virtme-ng==$virtme_ng_version"
fi

# --- kernel of SERIES ------------------------------------------------------------------------
newest_image() {   # newest generic (not cloud/rt/dbg/unsigned) amd64 image package of $series
    apt-cache search --names-only "^linux-image-${series//./\\.}\\.[0-9].*-amd64\$" \
        | awk '{print $1}' | grep -v -e cloud -e '-rt-' -e dbg -e unsigned | sort -V | tail -1
}
image_pkg=$(newest_image)
if [ -z "$image_pkg" ]; then
    apt_update
    image_pkg=$(newest_image)
fi
if [ -z "$image_pkg" ]; then
    # bookworm ships 6.12 through bookworm-backports (and lately -security); add backports once.
    src=/etc/apt/sources.list.d/thpwatch-backports.sources
    log "no linux-image-$series in the apt sources: adding bookworm-backports ($src)"
    as_root tee "$src" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=; apt_update
    image_pkg=$(newest_image)
fi
[ -n "$image_pkg" ] || { echo "setup.sh: no linux-image-$series.*-amd64 package in the apt sources" >&2; exit 1; }
kver=${image_pkg#linux-image-}
dir="$cache/$kver"
root="$dir/root"
kimg="$root/boot/vmlinuz-$kver"
if [ ! -f "$dir/.ready" ]; then
    log "downloading and extracting $kver into $dir"
    rm -rf "$dir"; mkdir -p "$dir/debs" "$root"
    chmod 755 "$dir" "$dir/debs"
    (cd "$dir/debs" && as_root apt-get download -qq "linux-image-$kver" "linux-headers-$kver" \
        "linux-headers-${kver%-amd64}-common" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$root"; done
    [ -f "$kimg" ] || { echo "setup.sh: $kimg missing after extracting $dir/debs" >&2; exit 1; }
    [ -d "$root/usr/src/linux-headers-${kver%-amd64}-common" ] \
        || { echo "setup.sh: headers for $kver missing after extraction" >&2; exit 1; }
    rm -rf "$dir/debs"
    touch "$dir/.ready"
fi
# Links point into the cache (absolute), which the guest sees: it shares the host's root fs.
mods="$root/lib/modules/$kver"
ln -sfn "$root/usr/src/linux-headers-$kver" "$mods/build"
ln -sfn "$root/usr/src/linux-headers-${kver%-amd64}-common" "$mods/source"
echo "$kimg"
