/* THP fault handlers: PMD and PUD anonymous faults; handle_mm_fault (every fault) is opt-in.
 * Entry: note the start time. Exit: count the attempt by its return value, and time it unless
 * it ended in VM_FAULT_RETRY (see thpwatch.h). */
#include "thpwatch.h"

#ifdef THPW_HAVE_do_huge_pmd_anonymous_page
THPW_FUNC_ENTRY(do_huge_pmd_anonymous_page)
{
#define THPW_CLOCK_ID THPW_CLOCK_PMD_ANON
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(do_huge_pmd_anonymous_page)
{
#define THPW_CLOCK_ID THPW_CLOCK_PMD_ANON
#include "timed_exit.inc"
#define THPW_FAULT_ID THPW_FAULT_PMD_ANON
#define THPW_FAULT_RET THPW_RETVAL_OF(do_huge_pmd_anonymous_page)
#define THPW_FAULT_SPLIT 0
#include "fault_exit.inc"
}
#endif

#ifdef THPW_HAVE_do_huge_pud_anonymous_page
THPW_FUNC_ENTRY(do_huge_pud_anonymous_page)
{
#define THPW_CLOCK_ID THPW_CLOCK_PUD_ANON
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(do_huge_pud_anonymous_page)
{
#define THPW_CLOCK_ID THPW_CLOCK_PUD_ANON
#include "timed_exit.inc"
#define THPW_FAULT_ID THPW_FAULT_PUD_ANON
#define THPW_FAULT_RET THPW_RETVAL_OF(do_huge_pud_anonymous_page)
#define THPW_FAULT_SPLIT 0
#include "fault_exit.inc"
}
#endif

#ifdef THPW_HAVE_handle_mm_fault
THPW_FUNC_ENTRY(handle_mm_fault)
{
#define THPW_CLOCK_ID THPW_CLOCK_ANY_FAULT
#include "timed_entry.inc"
}

THPW_FUNC_EXIT(handle_mm_fault)
{
#define THPW_CLOCK_ID THPW_CLOCK_ANY_FAULT
#include "timed_exit.inc"
#define THPW_FAULT_ID THPW_FAULT_ANY
#define THPW_FAULT_RET THPW_RETVAL_OF(handle_mm_fault)
#define THPW_FAULT_SPLIT 0
#include "fault_exit.inc"
}
#endif
