/* madvise calls and bytes per advice x result, for the THP-related advice values only
 * (THPW_MADV_WANTED is generated from the kernel facts), and the processes making them. */
#include "thpwatch.h"

struct madv_call {
	u32 advice;
	u64 len;
};
BPF_TABLE("lru_hash", u32, struct madv_call, madv_inflight, 10240);

struct madv_key {
	u32 advice;
	s32 ret; /* 0 or -errno */
	u32 field; /* THPW_MADV_FIELD_CALLS or _BYTES */
};
BPF_PERCPU_HASH(madv_counts, struct madv_key, u64, 1024);

struct madv_proc {
	u64 calls;
	u64 bytes;
	char comm[16];
};
BPF_TABLE("lru_hash", u32, struct madv_proc, madv_procs, 1024);

#if defined(THPW_HAVE_syscalls__sys_enter_madvise) && defined(THPW_HAVE_syscalls__sys_exit_madvise)
TRACEPOINT_PROBE(syscalls, sys_enter_madvise)
{
	u32 advice = (u32)args->behavior;
	if (!THPW_MADV_WANTED(advice) || !THPW_TGID_OK())
		return 0;
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct madv_call c = {.advice = advice, .len = args->len_in};
	madv_inflight.update(&tid, &c);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_madvise)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id, tgid = id >> 32;
	struct madv_call *c = madv_inflight.lookup(&tid);
	if (!c)
		return 0;
	struct madv_key k = {
		.advice = c->advice, .ret = (s32)args->ret, .field = THPW_MADV_FIELD_CALLS};
	u64 len = c->len;
	madv_inflight.delete(&tid);
	u64 zero = 0;
	thpw_add(madv_counts.lookup_or_try_init(&k, &zero), 1);
	k.field = THPW_MADV_FIELD_BYTES;
	thpw_add(madv_counts.lookup_or_try_init(&k, &zero), len);

	struct madv_proc fresh = {};
	struct madv_proc *p = madv_procs.lookup_or_try_init(&tgid, &fresh);
	if (p) {
		__sync_fetch_and_add(&p->calls, 1);
		__sync_fetch_and_add(&p->bytes, len);
		bpf_get_current_comm(&p->comm, sizeof(p->comm));
	}
	return 0;
}
#endif
