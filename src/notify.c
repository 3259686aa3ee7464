/*-------------------------------------------------------------------------
 *
 * notify.c
 *		Waking workers when chunks become claimable.
 *
 * A NOTIFY on channel "jobchunk" with the job id as payload, unless
 * jobchunk.notify is off.  Like any NOTIFY it is delivered when the
 * transaction commits, and only once per transaction for the same job
 * however often it is sent; and a transaction that sent one cannot be
 * prepared.
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

	if (!jc_notify)
		return;
	snprintf(payload, sizeof(payload), "%lld", (long long) job_id);
	Async_Notify(JC_CHANNEL, payload);
}
