/*-------------------------------------------------------------------------
 *
 * notify.c
 *		Waking workers when chunks become claimable.
 *
 * A NOTIFY on channel "jobchunk" with the job id as payload.  Like any
 * NOTIFY it is delivered when the transaction commits, and only once per
 * transaction for the same job however often it is sent.
 *
 * src/notify.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "commands/async.h"

#define JC_CHANNEL "jobchunk"

void
jc_notify_claimable(int64 job_id)
{
	char		payload[32];

	snprintf(payload, sizeof(payload), "%lld", (long long) job_id);
	Async_Notify(JC_CHANNEL, payload);
}
