/* THP splits: PMD, PUD and folio splits, counted by result and timed. Split functions are void
 * on current kernels and may return an int (-errno) in later revisions: THPW_INT_RETVAL reads
 * the result only where the BTF prototype has one; a void split counts with ret 0. */
#include "thpwatch.h"

/* Indexed by level, THPW_SPLIT_<level> (groups/splits.py). */
BPF_PERCPU_ARRAY(split_hist, struct thpw_hist, THPW_NR_SPLIT);

struct split_key {
	u32 level;
	s32 ret;
};
BPF_PERCPU_HASH(split_counts, struct split_key, u64, 256);

#ifdef THPW_HAVE___split_huge_pmd
THPW_FUNC_ENTRY(__split_huge_pmd)
{
#ifdef THPW_GROUP_swapin
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u32 *seen = swapin_split_seen.lookup(&tid); /* swap-in split fallback */
	if (seen)
		*seen |= SWAPIN_SPLIT_SEEN;
#endif
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_PMD
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(__split_huge_pmd)
{
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_PMD
#include "timed_exit.inc"
#define THPW_SPLIT_LEVEL THPW_SPLIT_PMD
#define THPW_SPLIT_RET THPW_INT_RETVAL(__split_huge_pmd)
#include "split_exit.inc"
}
#endif

#ifdef THPW_HAVE_split_huge_pmd_locked
/* Reclaim and migration (try_to_unmap_one, try_to_migrate_one) split a PMD through
 * split_huge_pmd_locked without __split_huge_pmd on kernels that have it (6.12: MADV_PAGEOUT
 * split 16 PMDs, thp_split_pmd +16, that __split_huge_pmd never saw). Count those here; calls
 * made inside __split_huge_pmd are counted (and timed) at its exit. */
THPW_FUNC_ENTRY(split_huge_pmd_locked)
{
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_SPLIT_PMD);
	if (thpw_start.lookup(&k))
		return 0;
	struct split_key s = {THPW_SPLIT_PMD, 0};
	u64 zero = 0;
	thpw_add(split_counts.lookup_or_try_init(&s, &zero), 1);
	return 0;
}
#endif

#ifdef THPW_HAVE___split_huge_pud
THPW_FUNC_ENTRY(__split_huge_pud)
{
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_PUD
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(__split_huge_pud)
{
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_PUD
#include "timed_exit.inc"
#define THPW_SPLIT_LEVEL THPW_SPLIT_PUD
#define THPW_SPLIT_RET THPW_INT_RETVAL(__split_huge_pud)
#include "split_exit.inc"
}
#endif

#ifdef THPW_HAVE_split_huge_page_to_list_to_order
THPW_FUNC_ENTRY(split_huge_page_to_list_to_order)
{
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_FOLIO
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(split_huge_page_to_list_to_order)
{
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_FOLIO
#include "timed_exit.inc"
#define THPW_SPLIT_LEVEL THPW_SPLIT_FOLIO
#define THPW_SPLIT_RET THPW_INT_RETVAL(split_huge_page_to_list_to_order)
#include "split_exit.inc"
}
#endif

/* Before 6.8 (6.1): split_huge_page_to_list(page, list), also int; the loader attaches to
 * whichever of the two the kernel has. */
#ifdef THPW_HAVE_split_huge_page_to_list
THPW_FUNC_ENTRY(split_huge_page_to_list)
{
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_FOLIO
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(split_huge_page_to_list)
{
#define THPW_CLOCK_ID THPW_CLOCK_SPLIT_FOLIO
#include "timed_exit.inc"
#define THPW_SPLIT_LEVEL THPW_SPLIT_FOLIO
#define THPW_SPLIT_RET THPW_INT_RETVAL(split_huge_page_to_list)
#include "split_exit.inc"
}
#endif
