/* Stalls behind THP faults: direct reclaim and compaction latency (log2 ns histograms). */
#include "thpwatch.h"

#define STALL_RECLAIM 0
#define STALL_COMPACTION 1
BPF_PERCPU_ARRAY(stall_hist, struct thpw_hist, 2);

#if defined(THPW_HAVE_vmscan__mm_vmscan_direct_reclaim_begin) && defined(THPW_HAVE_vmscan__mm_vmscan_direct_reclaim_end)
TRACEPOINT_PROBE(vmscan, mm_vmscan_direct_reclaim_begin)
{
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_RECLAIM);
	u64 now = bpf_ktime_get_ns();
	thpw_start.update(&k, &now);
	return 0;
}

TRACEPOINT_PROBE(vmscan, mm_vmscan_direct_reclaim_end)
{
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_RECLAIM);
	u64 ns = thpw_elapsed(thpw_start.lookup(&k));
	u32 i = STALL_RECLAIM;
	if (ns) {
		thpw_start.delete(&k);
		thpw_hist_observe(stall_hist.lookup(&i), ns);
	}
	return 0;
}
#endif

#if defined(THPW_HAVE_compaction__mm_compaction_begin) && defined(THPW_HAVE_compaction__mm_compaction_end)
TRACEPOINT_PROBE(compaction, mm_compaction_begin)
{
	if (!THPW_TGID_OK())
		return 0;
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_COMPACTION);
	u64 now = bpf_ktime_get_ns();
	thpw_start.update(&k, &now);
	return 0;
}

TRACEPOINT_PROBE(compaction, mm_compaction_end)
{
	struct thpw_start_key k = thpw_clock(THPW_CLOCK_COMPACTION);
	u64 ns = thpw_elapsed(thpw_start.lookup(&k));
	u32 i = STALL_COMPACTION;
	if (ns) {
		thpw_start.delete(&k);
		thpw_hist_observe(stall_hist.lookup(&i), ns);
	}
	return 0;
}
#endif
