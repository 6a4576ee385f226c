/* Collapse results by status (names come from the event's print format) and THP migration.
 * Both run in kernel threads (khugepaged, kcompactd) as often as in tasks: no process filter. */
#include "thpwatch.h"
#include <linux/migrate_mode.h> /* mm_migrate_pages has an enum migrate_mode field */

BPF_PERCPU_HASH(collapse_counts, s32, u64, 256);

/* Indexed by THPW_MIGRATE_THP_<result> (groups/khugepaged.py). */
BPF_PERCPU_ARRAY(migrate_counts, u64, THPW_NR_MIGRATE_THP);

#ifdef THPW_HAVE_huge_memory__mm_collapse_huge_page
TRACEPOINT_PROBE(huge_memory, mm_collapse_huge_page)
{
	s32 status = args->status;
	u64 zero = 0;
	thpw_add(collapse_counts.lookup_or_try_init(&status, &zero), 1);
	return 0;
}
#endif

#ifdef THPW_HAVE_migrate__mm_migrate_pages
TRACEPOINT_PROBE(migrate, mm_migrate_pages)
{
	u32 i = THPW_MIGRATE_THP_SUCCEEDED;
	thpw_add(migrate_counts.lookup(&i), args->thp_succeeded);
	i = THPW_MIGRATE_THP_FAILED;
	thpw_add(migrate_counts.lookup(&i), args->thp_failed);
	i = THPW_MIGRATE_THP_SPLIT;
	thpw_add(migrate_counts.lookup(&i), args->thp_split);
	return 0;
}
#endif
