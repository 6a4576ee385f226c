#!/usr/bin/env bash
# Runs INSIDE a patched-kernel guest (booted by tests/kernel/lane.py): thpwatch's own code
# against the real kernel through the in-guest tests under tests/kernel/guest/. Results go to
# RESULTS (a --rwdir shared with the host): junit.xml (tests record their numbers with
# record_property), pytest.log, facts.txt (release, cmdline, the kernel's Reserved THP line).
# Usage: guest.sh RESULTS_DIR TEST_NODE...   (guest_*.py node ids under tests/kernel/guest/)
set -uo pipefail
results=${1:?usage: guest.sh RESULTS_DIR TEST_NODE...}
shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
echo "THPWATCH-KERNEL-GUEST-START $(uname -r)"
# The host's root fs is shared read-only: keep Python and pytest from writing into the checkout.
export PYTHONDONTWRITEBYTECODE=1 THPWATCH_STRICT=1 THPWATCH_KERNEL_GUEST=1
# pytest.log is the only trace of a guest that stops making progress: unbuffered, and every
# thread's stack written there when one test runs longer than any of them should.
export PYTHONUNBUFFERED=1
export THPWATCH_KERNEL_RESULTS="$results"  # where tests save pictures (lane.py --artifacts)
{
    echo "release=$(uname -r)"
    echo "cmdline_thp=$(tr ' ' '\n' </proc/cmdline | grep '^thp_' | tr '\n' ' ')"
    echo "mem_total_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)"
    echo "boot_line=$(dmesg | grep -o -e 'reserved [0-9]*/[0-9]* PMD THP.*' -e 'unsupported thp_reserved.*' -e 'invalid thp_reserved.*' | head -1)"
} >"$results/facts.txt"
nodes=()
for node in "$@"; do nodes+=("tests/kernel/guest/$node"); done
# guest_*.py are not test_*.py, so host pytest never collects them; named here, they run. Their
# fixtures come as a plugin (-p kernel_guest_fixtures), not a conftest.py host collection would import.
(cd "$repo" && PYTHONPATH="$repo/tests/kernel/guest" .venv/bin/python -m pytest \
    -p no:cacheprovider -p kernel_guest_fixtures -q -rA --durations=10 -o junit_family=xunit1 \
    -o faulthandler_timeout=600 \
    --junitxml="$results/junit.xml" "${nodes[@]}") >"$results/pytest.log" 2>&1
rc=$?
echo "THPWATCH-KERNEL-GUEST-RC $rc"
exit $rc
