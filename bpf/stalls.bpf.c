/* Stalls behind THP faults: direct reclaim and compaction latency (log2 ns histograms). */
#include "thpwatch.h"

/* Indexed by THPW_STALL_<probe> (groups/stalls.py). */
BPF_PERCPU_ARRAY(stall_hist, struct thpw_hist, THPW_NR_STALL);

#if defined(THPW_HAVE_vmscan__mm_vmscan_direct_reclaim_begin) && defined(THPW_HAVE_vmscan__mm_vmscan_direct_reclaim_end)
TRACEPOINT_PROBE(vmscan, mm_vmscan_direct_reclaim_begin)
{
#define THPW_CLOCK_ID THPW_CLOCK_RECLAIM
#include "timed_entry.inc"
}

TRACEPOINT_PROBE(vmscan, mm_vmscan_direct_reclaim_end)
{
	u32 i = THPW_STALL_DIRECT_RECLAIM;
#define THPW_CLOCK_ID THPW_CLOCK_RECLAIM
#include "timed_exit.inc"
	thpw_hist_observe(stall_hist.lookup(&i), ns);
	return 0;
}
#endif

#if defined(THPW_HAVE_compaction__mm_compaction_begin) && defined(THPW_HAVE_compaction__mm_compaction_end)
TRACEPOINT_PROBE(compaction, mm_compaction_begin)
{
#define THPW_CLOCK_ID THPW_CLOCK_COMPACTION
#include "timed_entry.inc"
}

TRACEPOINT_PROBE(compaction, mm_compaction_end)
{
	u32 i = THPW_STALL_COMPACTION;
#define THPW_CLOCK_ID THPW_CLOCK_COMPACTION
#include "timed_exit.inc"
	thpw_hist_observe(stall_hist.lookup(&i), ns);
	return 0;
}
#endif
