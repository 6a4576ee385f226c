/* Swap-in: whole-THP swap-in (do_huge_pmd_swap_page, PMD swap series) and the 4 KiB baseline
 * (do_swap_page). A split fallback is a __split_huge_pmd call made inside do_huge_pmd_swap_page
 * by the same thread; the handler then returns 0 and the fault is retried per 4 KiB page.
 * On an asynchronous device the call that starts the read returns VM_FAULT_MAJOR|RETRY and the
 * thread's retried call maps the folio from the swap cache (returns 0): that retried call is
 * counted with VM_FAULT_MAJOR, so a whole swap-in read from the device is one non-RETRY return
 * with MAJOR on every device. Only whole swap-ins are timed (the fallback's cost is the
 * do_swap_page faults that follow). */
#include "thpwatch.h"

/* swapin_split_seen: in thpwatch.h (splits.bpf.c writes it too) */

#ifdef THPW_HAVE_do_huge_pmd_swap_page
THPW_FUNC_ENTRY(do_huge_pmd_swap_page)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (THPW_TGID_OK()) { /* timed_entry.inc below filters the same way */
		u32 *old = swapin_split_seen.lookup(&tid);
		u32 state = old ? (*old & SWAPIN_READ_PENDING) : 0;
		swapin_split_seen.update(&tid, &state);
	}
#define THPW_CLOCK_ID THPW_CLOCK_PMD_SWAPIN
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(do_huge_pmd_swap_page)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u32 *seen = swapin_split_seen.lookup(&tid);
	u32 state = seen ? *seen : 0;
	u32 split = state & SWAPIN_SPLIT_SEEN;
	u32 ret = THPW_RETVAL_OF(do_huge_pmd_swap_page);
	if ((ret & THPW_VM_FAULT_RETRY) && (ret & THPW_VM_FAULT_MAJOR)) {
		u32 pending = SWAPIN_READ_PENDING;
		swapin_split_seen.update(&tid, &pending);
	} else {
		if ((state & SWAPIN_READ_PENDING) && !split && !(ret & THPW_VM_FAULT_RETRY))
			ret |= THPW_VM_FAULT_MAJOR;
		swapin_split_seen.delete(&tid);
	}
#define THPW_CLOCK_ID THPW_CLOCK_PMD_SWAPIN
#include "timed_exit.inc"
#define THPW_FAULT_ID THPW_FAULT_PMD_SWAPIN
#define THPW_FAULT_RET ret
#define THPW_FAULT_SPLIT split
#define THPW_FAULT_TIMED (!split && !(ret & THPW_VM_FAULT_NOT_MAPPED))
#include "fault_exit.inc"
}
#endif

/* Without the splits group the swap-in group brings its own __split_huge_pmd entry program
 * (one program per function: fentry program names are fixed by the function). */
#if defined(THPW_HAVE___split_huge_pmd) && !defined(THPW_GROUP_splits)
THPW_FUNC_ENTRY(__split_huge_pmd)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u32 *seen = swapin_split_seen.lookup(&tid);
	if (seen)
		*seen |= SWAPIN_SPLIT_SEEN;
	return 0;
}
#endif

#ifdef THPW_HAVE_do_swap_page
THPW_FUNC_ENTRY(do_swap_page)
{
#define THPW_CLOCK_ID THPW_CLOCK_PTE_SWAPIN
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(do_swap_page)
{
#define THPW_CLOCK_ID THPW_CLOCK_PTE_SWAPIN
#include "timed_exit.inc"
#define THPW_FAULT_ID THPW_FAULT_PTE_SWAPIN
#define THPW_FAULT_RET THPW_RETVAL_OF(do_swap_page)
#define THPW_FAULT_SPLIT 0
#include "fault_exit.inc"
}
#endif
