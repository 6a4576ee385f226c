# Sourced by scripts/setup*: install Debian packages that are missing, as root or through sudo.
# After apt_install, APT_INSTALLED lists the packages this call installed (empty if none).

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# apt-get as root, never interactive. Another apt (the kernel build started beside the tests, a
# lane building its root filesystem, unattended-upgrades) may hold dpkg's lock: wait for it
# rather than fail.
apt_get() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

apt_install() {
    APT_INSTALLED=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || APT_INSTALLED+=("$p")
    done
    [ ${#APT_INSTALLED[@]} -gt 0 ] || return 0
    echo "setup: installing Debian packages: ${APT_INSTALLED[*]}" >&2
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends "${APT_INSTALLED[@]}" >/dev/null
}
