/* Huge page allocations: kmem:mm_page_alloc by order x migratetype x reserved-THP GFP bit.
 * Fires on every page allocation, so the first statement drops the small orders. */
#include "thpwatch.h"

struct alloc_key {
	u32 order;
	s32 migratetype;
	u32 reserved_gfp;
};
BPF_PERCPU_HASH(alloc_counts, struct alloc_key, u64, 1024);

#ifdef THPW_HAVE_kmem__mm_page_alloc
TRACEPOINT_PROBE(kmem, mm_page_alloc)
{
	if (args->order < THPW_MIN_ORDER)
		return 0;
	if (args->pfn == (unsigned long)-1 || !THPW_TGID_OK())
		return 0; /* a failed allocation, or not the process we watch */
	struct alloc_key k = {
		.order = args->order,
		.migratetype = args->migratetype,
		.reserved_gfp = (args->gfp_flags & THPW_GFP_RESERVED_THP) ? 1 : 0,
	};
	u64 zero = 0;
	thpw_add(alloc_counts.lookup_or_try_init(&k, &zero), 1);
	return 0;
}
#endif
