#!/usr/bin/env bash
# Builds the patched test kernels from Debian's linux-source-6.12 and ../shared/kernel/:
#   all      all four ported series: all-series-6.12.patch (Reserved THP, PUD THP, lazy PTE)
#            then pmd-swap-6.12.patch (PMD-level swap entries), + CONFIG_CMA=y
#   unfixed  the same with rfc-slowpath-unfixed.patch on top (the RFC's original allocator;
#            it touches only mm/page_alloc.c, which pmd-swap does not, so it applies unchanged)
# Prints the directory holding <variant>/bzImage. Results are cached under
# $THPWATCH_KERNEL_CACHE (default /var/cache/thpwatch/kernel), keyed by the patches' and
# config fragment's contents, so a rerun with nothing changed costs nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shared=${THPWATCH_SHARED:-$(cd "$here/../../.." && pwd)/shared}/kernel
cache=${THPWATCH_KERNEL_CACHE:-/var/cache/thpwatch/kernel}
jobs=${THPWATCH_KERNEL_JOBS:-$(nproc)}
# One build at a time: a second caller (another lane run, a second checkout) waits here, then
# finds the kernels cached.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

series=("$shared/all-series-6.12.patch" "$shared/pmd-swap-6.12.patch")
for f in "${series[@]}" "$shared/rfc-slowpath-unfixed.patch"; do
    [ -f "$f" ] || { echo "build.sh: kernel patch $f is missing" >&2; exit 2; }
done

key=$(cat "${series[@]}" "$shared/rfc-slowpath-unfixed.patch" \
          "$shared/config.fragment" "$0" | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/all/bzImage" ] && [ -f "$out/unfixed/bzImage" ]; then
    echo "$out"; exit 0
fi

packages=(linux-source-6.12 dwarves flex bison libelf-dev libdw-dev xz-utils cpio bc build-essential)
source "$here/../../scripts/lib/apt.sh"
apt_install "${packages[@]}"

work="$cache/build-$key"
rm -rf "$work"; mkdir -p "$work" "$out/all" "$out/unfixed"
log="$work/build.log"
echo "build.sh: building patched 6.12 kernels in $work (log: $log)" >&2
tar -C "$work" -xf /usr/src/linux-source-6.12.tar.xz
src=$(echo "$work"/linux-source-6.12)
(
    cd "$src"
    for f in "${series[@]}"; do patch -p1 -s < "$f"; done
    make ARCH=x86_64 allnoconfig
    { cat "$shared/config.fragment"; echo CONFIG_CMA=y; } >> .config
    make ARCH=x86_64 olddefconfig
    make ARCH=x86_64 -j"$jobs" bzImage
    cp arch/x86/boot/bzImage "$out/all/bzImage"
    patch -p1 -s < "$shared/rfc-slowpath-unfixed.patch"
    make ARCH=x86_64 -j"$jobs" bzImage
    cp arch/x86/boot/bzImage "$out/unfixed/bzImage"
) >"$log" 2>&1 || { echo "build.sh: kernel build failed, last lines of $log:" >&2; tail -30 "$log" >&2; exit 1; }
rm -rf "$work"
echo "$out"
