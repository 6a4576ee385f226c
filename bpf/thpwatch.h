/* Shared helpers of every thpwatch BPF program (bcc).
 *
 * The loader concatenates the group files it needs into one program text per object (one for
 * tracepoints, one for function probes) and passes every kernel fact as a -D define, so the C
 * holds no kernel constants and reads no kernel struct fields: tracepoint fields, scalar
 * arguments and return values only.
 *
 * Defines the loader passes (thpwatch/probes/program.py):
 *   THPW_HIST_SLOTS=<n>      slots of a latency histogram (probes/histogram.py)
 *   THPW_<ENUM>_<MEMBER>=i   indexes shared with the decoder, and THPW_NR_<ENUM>=n, from each
 *                            group's CEnums (probes/groups/<group>.py): THPW_FAULT_PMD_ANON,
 *                            THPW_NR_FAULT, THPW_SPLIT_PMD, ...; and each group's constants
 *                            (kernel facts such as THPW_VM_FAULT_RETRY)
 *   THPW_GROUP_<group>       the group is part of this load
 *   THPW_TGID=<pid>          count only events of that process (tests, selftest)
 *   THPW_HAVE_<name>         the tracepoint/function <name> exists on this kernel
 *   THPW_FENTRY              function probes are fentry/fexit (else kprobe/kretprobe)
 *   THPW_NARGS_<fn>=<n>      number of parameters of <fn> (fexit finds the return value after them)
 *   THPW_RET_INT_<fn>=0|1    <fn> returns a value (1) or is void (0), from BTF
 *
 * Lines `#include "<name>.inc"` are inlined by the loader (program bodies shared by several
 * probes: bcc rewrites map calls only in its main text, not in macros, helpers or #includes).
 */
#ifndef THPWATCH_H
#define THPWATCH_H

#include <uapi/linux/ptrace.h>

/* Latency histogram: slots[s] counts observations v (ns) with floor(log2(v)) == s (0 and 1 both
 * land in slot 0; the last slot also takes everything longer), sum_ns is their sum. One per-CPU
 * array element per histogram. (bcc allows no map calls inside macros: helpers take pointers.) */
#ifndef THPW_HIST_SLOTS
#error "THPW_HIST_SLOTS and the other THPW_ constants come from thpwatch's loader (-D)"
#endif
struct thpw_hist {
	u64 slots[THPW_HIST_SLOTS];
	u64 sum_ns;
};

static __always_inline u32 thpw_log2(u64 v)
{
	u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

static __always_inline void thpw_hist_observe(struct thpw_hist *h, u64 ns)
{
	if (!h)
		return;
	u32 slot = thpw_log2(ns);
	if (slot >= THPW_HIST_SLOTS)
		slot = THPW_HIST_SLOTS - 1;
	h->slots[slot] += 1;
	h->sum_ns += ns;
}

/* Add n to a counter looked up in a per-CPU array. */
static __always_inline void thpw_add(u64 *counter, u64 n)
{
	if (counter)
		*counter += n;
}

#ifdef THPW_TGID
#define THPW_TGID_OK() ((bpf_get_current_pid_tgid() >> 32) == THPW_TGID)
#else
#define THPW_TGID_OK() 1
#endif

/* Per-task start timestamps of whatever is being timed (a function call, a reclaim), keyed by
 * thread and by what is timed: bounded, and LRU so a lost exit event cannot fill it.
 * Start:  struct thpw_start_key k = thpw_clock(WHAT); u64 now = bpf_ktime_get_ns();
 *         thpw_start.update(&k, &now);
 * Stop:   struct thpw_start_key k = thpw_clock(WHAT);
 *         u64 ns = thpw_elapsed(thpw_start.lookup(&k)); thpw_start.delete(&k);
 * (bcc rewrites map calls only inside program functions, so they cannot live in helpers.) */
struct thpw_start_key {
	u32 tid;
	u32 what;
};
BPF_TABLE("lru_hash", struct thpw_start_key, u64, thpw_start, 10240);

static __always_inline struct thpw_start_key thpw_clock(u32 what)
{
	struct thpw_start_key k = {.tid = (u32)bpf_get_current_pid_tgid(), .what = what};
	return k;
}

/* ns since the start time t0 points at; 0 when there is none (the start was not seen). */
static __always_inline u64 thpw_elapsed(u64 *t0)
{
	if (!t0)
		return 0;
	u64 ns = bpf_ktime_get_ns() - *t0;
	return ns ? ns : 1;
}

/* Function probes: the same C attaches as fentry/fexit or as kprobe/kretprobe. */
#ifdef THPW_FENTRY
#define THPW_FUNC_ENTRY(fn) KFUNC_PROBE(fn)
#define THPW_FUNC_EXIT(fn) KRETFUNC_PROBE(fn)
#define THPW_ARG1() ((u64)ctx[0])
#define THPW_RETVAL(nargs) ((u64)ctx[nargs])
#else
#define THPW_FUNC_ENTRY(fn) int thpw_entry__##fn(struct pt_regs *ctx)
#define THPW_FUNC_EXIT(fn) int thpw_exit__##fn(struct pt_regs *ctx)
#define THPW_ARG1() ((u64)PT_REGS_PARM1(ctx))
#define THPW_RETVAL(nargs) ((u64)PT_REGS_RC(ctx))
#endif
#define THPW_RETVAL_OF(fn) THPW_RETVAL(THPW_NARGS_##fn)
/* The int a function returned, 0 for a void one (the dead branch reads nothing). */
#define THPW_INT_RETVAL(fn) (THPW_RET_INT_##fn ? (s32)THPW_RETVAL_OF(fn) : 0)

/* What thpw_start_clock() times (the `what` of its key). */
enum thpw_clock {
	THPW_CLOCK_RECLAIM = 1,
	THPW_CLOCK_COMPACTION,
	THPW_CLOCK_PMD_ANON,
	THPW_CLOCK_PUD_ANON,
	THPW_CLOCK_PMD_SWAPIN,
	THPW_CLOCK_PTE_SWAPIN,
	THPW_CLOCK_ANY_FAULT,
	THPW_CLOCK_SPLIT_PMD,
	THPW_CLOCK_SPLIT_PUD,
	THPW_CLOCK_SPLIT_FOLIO,
};

/* Maps written by more than one group are defined here, so the order of the group files does
 * not matter. */
#ifdef THPW_FUNCTION_PROBES
/* Fault handlers (faults.bpf.c, swapin.bpf.c): latency of attempts that did not end in
 * VM_FAULT_RETRY (a retry is a first attempt handed back, counted but not timed), and every
 * attempt counted by its raw return value; the loader names outcomes from the vm_fault_t bits.
 * Indexed by fault kind, THPW_FAULT_<kind> (groups/faults.py). */
BPF_PERCPU_ARRAY(fault_hist, struct thpw_hist, THPW_NR_FAULT);

struct thpw_fault_key {
	u32 fault;
	u32 ret;
	u32 split_fallback; /* pmd_swapin only: __split_huge_pmd ran inside it */
};
BPF_PERCPU_HASH(fault_counts, struct thpw_fault_key, u64, 1024);

/* Whether a fault attempt that returned ret goes into the latency histogram. */
static __always_inline int thpw_fault_timed(u32 ret)
{
	return !(ret & THPW_VM_FAULT_RETRY);
}

#ifdef THPW_GROUP_swapin
/* Swap-in (swapin.bpf.c) per thread: whether __split_huge_pmd ran inside do_huge_pmd_swap_page
 * (splits.bpf.c's __split_huge_pmd entry sets it when both groups are loaded), and whether the
 * thread's last call started a read (returned VM_FAULT_MAJOR|VM_FAULT_RETRY). */
#define SWAPIN_SPLIT_SEEN 1
#define SWAPIN_READ_PENDING 2
BPF_TABLE("lru_hash", u32, u32, swapin_split_seen, 10240);
#endif
#endif

#endif /* THPWATCH_H */
