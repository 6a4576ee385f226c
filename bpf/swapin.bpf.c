/* Swap-in: whole-THP swap-in (do_huge_pmd_swap_page, PMD swap series) and the 4 KiB baseline
 * (do_swap_page). A split fallback is a __split_huge_pmd call made inside do_huge_pmd_swap_page
 * by the same thread; the handler then returns 0 and the fault is retried per 4 KiB page. */
#include "thpwatch.h"

BPF_TABLE("lru_hash", u32, u32, swapin_split_seen, 10240);

#ifdef THPW_HAVE_do_huge_pmd_swap_page
THPW_FUNC_ENTRY(do_huge_pmd_swap_page)
{
	u32 tid = (u32)bpf_get_current_pid_tgid(), no = 0;
	if (THPW_TGID_OK()) /* timed_entry.inc below filters the same way */
		swapin_split_seen.update(&tid, &no);
#define THPW_CLOCK_ID THPW_CLOCK_PMD_SWAPIN
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(do_huge_pmd_swap_page)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u32 *seen = swapin_split_seen.lookup(&tid);
	u32 split = seen ? *seen : 0;
	swapin_split_seen.delete(&tid);
#define THPW_CLOCK_ID THPW_CLOCK_PMD_SWAPIN
#include "timed_exit.inc"
#define THPW_FAULT_ID THPW_FAULT_PMD_SWAPIN
#define THPW_FAULT_RET THPW_RETVAL_OF(do_huge_pmd_swap_page)
#define THPW_FAULT_SPLIT split
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
		*seen = 1;
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
