/* THP fault handlers: PMD and PUD anonymous faults; handle_mm_fault (every fault) is opt-in.
 * Entry: note the start time. Exit: count the attempt by its return value, and time it unless
 * it ended in VM_FAULT_RETRY (see thpwatch.h). */
#include "thpwatch.h"

#ifdef THPW_HAVE_do_huge_pmd_anonymous_page
THPW_FUNC_ENTRY(do_huge_pmd_anonymous_page)
{
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PMD_ANON);
	u64 now = bpf_ktime_get_ns();
	thpw_start.update(&k, &now);
	return 0;
}

THPW_FUNC_EXIT(do_huge_pmd_anonymous_page)
{
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PMD_ANON);
	u64 ns = thpw_elapsed(thpw_start.lookup(&k));
	struct thpw_fault_key f = {THPW_FAULT_PMD_ANON,
				   THPW_RETVAL(THPW_NARGS_do_huge_pmd_anonymous_page), 0};
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

#ifdef THPW_HAVE_do_huge_pud_anonymous_page
THPW_FUNC_ENTRY(do_huge_pud_anonymous_page)
{
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PUD_ANON);
	u64 now = bpf_ktime_get_ns();
	thpw_start.update(&k, &now);
	return 0;
}

THPW_FUNC_EXIT(do_huge_pud_anonymous_page)
{
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_PUD_ANON);
	u64 ns = thpw_elapsed(thpw_start.lookup(&k));
	struct thpw_fault_key f = {THPW_FAULT_PUD_ANON,
				   THPW_RETVAL(THPW_NARGS_do_huge_pud_anonymous_page), 0};
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

#ifdef THPW_HAVE_handle_mm_fault
THPW_FUNC_ENTRY(handle_mm_fault)
{
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_ANY_FAULT);
	u64 now = bpf_ktime_get_ns();
	thpw_start.update(&k, &now);
	return 0;
}

THPW_FUNC_EXIT(handle_mm_fault)
{
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_ANY_FAULT);
	u64 ns = thpw_elapsed(thpw_start.lookup(&k));
	struct thpw_fault_key f = {THPW_FAULT_ANY, THPW_RETVAL(THPW_NARGS_handle_mm_fault), 0};
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
