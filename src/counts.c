/*-------------------------------------------------------------------------
 *
 * counts.c
 *		The stripe of job_counts this backend writes.
 *
 * job_counts keeps, per job, how many chunks it has in all and how many are
 * completed and failed, split into JC_STRIPES rows so that backends
 * finishing chunks of one job at the same time seldom wait for each other's
 * row lock: each backend adds its changes to the stripe of its process id.
 * Every statement that changes a chunk's status to or from completed or
 * failed adds its change to the counts in the same statement (JC_COUNT in
 * jobchunk.h), so the counts agree with the rows in every snapshot.
 *
 * src/counts.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "miscadmin.h"

Datum
jc_stripe(void)
{
	return Int32GetDatum(MyProcPid % JC_STRIPES);
}
