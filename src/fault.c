/* fault.c - the failure-injection hook of test builds (see fault.h).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "config.h"

#include "fault.h"

#include <stdatomic.h>

#ifdef GP_FAULT_INJECTION

/* Test builds only: one armed failure per process. */
static atomic_uint fault_mask;
static atomic_long fault_left; /* calls until the failing one */
static atomic_long fault_seen;
static atomic_int fault_done;

void
gp__fault_arm(unsigned mask, long nth)
{
	atomic_store(&fault_mask, 0u);
	atomic_store(&fault_seen, 0);
	atomic_store(&fault_done, 0);
	atomic_store(&fault_left, nth);
	atomic_store(&fault_mask, nth > 0 ? mask : 0u);
}

long
gp__fault_calls(void)
{
	return atomic_load(&fault_seen);
}

int
gp__fault_fired(void)
{
	return atomic_load(&fault_done);
}

int
gp__fault(unsigned k)
{
	if (!(atomic_load(&fault_mask) & k))
		return 0;
	atomic_fetch_add(&fault_seen, 1);
	if (atomic_fetch_sub(&fault_left, 1) != 1)
		return 0;
	atomic_store(&fault_done, 1);
	return 1;
}

#endif
