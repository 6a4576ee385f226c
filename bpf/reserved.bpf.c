/* Reserved THP quota: reserved_thp_charge(nr_hpages) (0 or -ENOMEM: quota exhausted) and
 * reserved_thp_uncharge(nr_hpages). Reserved THP series only. */
#include "thpwatch.h"

BPF_TABLE("lru_hash", u32, u64, reserved_asked, 10240);

struct charge_key {
	s32 ret;
	u32 field; /* THPW_RESERVED_CALLS, or _HPAGES asked */
};
BPF_PERCPU_HASH(charge_counts, struct charge_key, u64, 64);
BPF_PERCPU_ARRAY(uncharge_counts, u64, THPW_NR_RESERVED); /* by THPW_RESERVED_<field> */

#ifdef THPW_HAVE_reserved_thp_charge
THPW_FUNC_ENTRY(reserved_thp_charge)
{
	if (!THPW_TGID_OK())
		return 0;
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u64 nr = THPW_ARG1();
	reserved_asked.update(&tid, &nr);
	return 0;
}

THPW_FUNC_EXIT(reserved_thp_charge)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u64 *nr = reserved_asked.lookup(&tid);
	if (!nr)
		return 0;
	u64 asked = *nr;
	reserved_asked.delete(&tid);
	struct charge_key k = {
		.ret = THPW_INT_RETVAL(reserved_thp_charge), .field = THPW_RESERVED_CALLS};
	u64 zero = 0;
	thpw_add(charge_counts.lookup_or_try_init(&k, &zero), 1);
	k.field = THPW_RESERVED_HPAGES;
	thpw_add(charge_counts.lookup_or_try_init(&k, &zero), asked);
	return 0;
}
#endif

#ifdef THPW_HAVE_reserved_thp_uncharge
THPW_FUNC_ENTRY(reserved_thp_uncharge)
{
	if (!THPW_TGID_OK())
		return 0;
	u32 i = THPW_RESERVED_CALLS;
	thpw_add(uncharge_counts.lookup(&i), 1);
	i = THPW_RESERVED_HPAGES;
	thpw_add(uncharge_counts.lookup(&i), THPW_ARG1());
	return 0;
}
#endif
