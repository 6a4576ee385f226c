#!/usr/bin/env bash
# Runs INSIDE the VM-lane guest (booted by tests/vm/lane.py): thpwatch's own function-probe
# tests against the stock kernel, once with fentry/fexit and once with kprobes forced, plus the
# guest facts the host prints. Results go to RESULTS (a --rwdir shared with the host):
#   junit-<mode>.xml   pytest's report; tests record their numbers with record_property
#   pytest-<mode>.log  pytest's output
#   facts.txt          kernel release, fentry/kprobe support as the guest sees it
# Usage: guest.sh RESULTS_DIR MARK_EXPRESSION TEST_PATH...
set -uo pipefail
results=${1:?usage: guest.sh RESULTS_DIR MARK_EXPRESSION TEST_PATH...}
markers=${2:?usage: guest.sh RESULTS_DIR MARK_EXPRESSION TEST_PATH...}
shift 2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
echo "THPWATCH-GUEST-START $(uname -r)"

# The host's root fs is shared read-only: keep Python and pytest from writing into the checkout.
# THPWATCH_FUNCPROBES=1 keeps the funcprobes tests selected (tests/conftest.py); STRICT turns
# any skip into a failure; THPWATCH_VM_GUEST=1 enables the tests that only make sense here.
export PYTHONDONTWRITEBYTECODE=1 THPWATCH_STRICT=1 THPWATCH_VM_GUEST=1 THPWATCH_FUNCPROBES=1

# A quiet, disposable guest: only the tests' MADV_HUGEPAGE regions fault THPs (Debian's default
# is always), so thpwatch's system-wide counts must equal the kernel's exactly. Debian builds
# zram as a module (the hosts have it built in); the swap tests want it.
echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
modprobe zram 2>/dev/null || echo "guest: modprobe zram failed; swap tests will use a file" >&2
{
    echo "release=$(uname -r)"
    echo "btf=$([ -r /sys/kernel/btf/vmlinux ] && echo yes || echo no)"
    config="/lib/modules/$(uname -r)/build/.config"
    echo "kprobes=$(grep -q '^CONFIG_KPROBES=y' "$config" 2>/dev/null && echo yes || echo no)"
    echo "thp_enabled=$(cat /sys/kernel/mm/transparent_hugepage/enabled)"
    echo "mem_total_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)"
} >"$results/facts.txt"

# Needs a kernel with the Reserved THP series (reserved_thp_charge): the patched-kernel lane
# (tests/kernel) runs it; on these stock kernels it could only fail under STRICT.
stock_only=(--deselect tests/bpf/test_function_probes.py::test_reserved_charge_counts_hpages)

status=0
for mode in fentry kprobe; do
    # doctor tries every attach type itself, whatever the mode: once is enough (~60 s of TCG).
    force=0 once=()
    [ "$mode" = kprobe ] && force=1 once=(--deselect tests/vm/test_doctor_in_vm_guest.py)
    echo "THPWATCH-GUEST-PYTEST $mode"
    (cd "$repo" && THPWATCH_FORCE_KPROBES=$force .venv/bin/python -m pytest -p no:cacheprovider \
        -m "$markers" -q -rA --durations=0 -o junit_family=xunit1 --junitxml="$results/junit-$mode.xml" "${stock_only[@]}" "${once[@]}" "$@") \
        >"$results/pytest-$mode.log" 2>&1
    rc=$?
    echo "THPWATCH-GUEST-PYTEST-RC $mode $rc"
    [ $rc -eq 0 ] || status=1
done
echo "THPWATCH-GUEST-DONE $status"
exit $status
