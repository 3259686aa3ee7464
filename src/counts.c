/*-------------------------------------------------------------------------
 *
 * counts.c
 *		The stripe of job_counts this backend writes.
 *
 * job_counts keeps, per job, how many chunks it has in all and how many are
 * processing, completed and failed, split into JC_STRIPES rows so that
 * backends working on one job at the same time seldom wait for each other's
 * row lock: each backend adds its changes to the stripe of its slot in the
 * process array.  Slots, unlike process ids, are unique among the backends
 * running at one time, so up to JC_STRIPES of them never share a stripe.
 * Every statement that changes a chunk's status to or from completed or
 * failed adds its change to the counts in the same statement (JC_COUNT in
 * jobchunk.h), so the counts agree with the rows in every snapshot.
 *
 * src/counts.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "storage/proc.h"

Datum
jc_stripe(void)
{
#if PG_VERSION_NUM >= 170000
	return Int32GetDatum(MyProcNumber % JC_STRIPES);
#else
	return Int32GetDatum(MyProc->pgprocno % JC_STRIPES);
#endif
}
