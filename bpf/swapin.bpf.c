/* Swap-in: whole-THP swap-in (do_huge_pmd_swap_page, PMD swap series) and the 4 KiB baseline
 * (do_swap_page). A split fallback is a __split_huge_pmd call made inside do_huge_pmd_swap_page
 * by the same thread; the handler then returns 0 and the fault is retried per 4 KiB page. */
#include "thpwatch.h"

BPF_TABLE("lru_hash", u32, u32, swapin_split_seen, 10240);

#ifdef THPW_HAVE_do_huge_pmd_swap_page
THPW_FUNC_ENTRY(do_huge_pmd_swap_page)
{
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PMD_SWAPIN);
	u64 now = bpf_ktime_get_ns();
	u32 no = 0;
	thpw_start.update(&k, &now);
	swapin_split_seen.update(&k.tid, &no);
	return 0;
}

THPW_FUNC_EXIT(do_huge_pmd_swap_page)
{
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PMD_SWAPIN);
	u64 ns = thpw_elapsed(thpw_start.lookup(&k));
	u32 *seen = swapin_split_seen.lookup(&k.tid);
	struct thpw_fault_key f = {THPW_FAULT_PMD_SWAPIN,
				   THPW_RETVAL(THPW_NARGS_do_huge_pmd_swap_page), seen ? *seen : 0};
	if (!ns)
		return 0;
	thpw_start.delete(&k);
	swapin_split_seen.delete(&k.tid);
	u64 zero = 0;
	thpw_add(fault_counts.lookup_or_try_init(&f, &zero), 1);
	if (thpw_fault_timed(f.ret))
		thpw_hist_observe(fault_hist.lookup(&f.fault), ns);
	return 0;
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
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PTE_SWAPIN);
	u64 now = bpf_ktime_get_ns();
	thpw_start.update(&k, &now);
	return 0;
}

THPW_FUNC_EXIT(do_swap_page)
{
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PTE_SWAPIN);
	u64 ns = thpw_elapsed(thpw_start.lookup(&k));
	struct thpw_fault_key f = {THPW_FAULT_PTE_SWAPIN, THPW_RETVAL(THPW_NARGS_do_swap_page), 0};
	if (!ns)
		return 0;
	thpw_start.delete(&k);
	u64 zero = 0;
	thpw_add(fault_counts.lookup_or_try_init(&f, &zero), 1);
	if (thpw_fault_timed(f.ret))
		thpw_hist_observe(fault_hist.lookup(&f.fault), ns);
	return 0;
}
#endif
