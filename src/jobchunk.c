/*-------------------------------------------------------------------------
 *
 * jobchunk.c
 *		Module entry point, configuration parameters and the transaction
 *		callbacks of jobchunk.
 *
 * src/jobchunk.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include <limits.h>

#include "access/xact.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"

PG_MODULE_MAGIC;

/* Images per chunk made by jc_create_chunks() */
int			jc_chunk_size = 500;

/*
 * How often a failed chunk may be retried (jc_retry()), and an expired
 * lease taken back as a new attempt rather than failed
 */
int			jc_max_retries = 3;

/* Default lease of a claim, in seconds */
int			jc_lease_timeout = 300;

/* Longest time a backend claims from its position in a job, in ms */
int			jc_rescan_interval = 1000;

/* Whether a transaction of nothing but claims waits for its WAL flush */
bool		jc_synchronous_claims = false;

/* Whether calls that make chunks claimable send NOTIFY jobchunk */
bool		jc_notify = true;

void		_PG_init(void);

/*
 * What each part of the extension does when a transaction ends: claim.c
 * forgets its positions when the claims behind them may be undone, and
 * gives the jobs' turns back when they are undone; commit.c decides how a
 * transaction of claims commits; counts.c moves on from a stripe a prepared
 * transaction keeps locked; and plans.c frees the plans it has replaced.
 * After XACT_EVENT_PRE_COMMIT the transaction can no longer fail, and
 * nothing here may raise an error.
 */
static void
jobchunk_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			jc_claims_pre_commit();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			jc_end_turns(true);
			jc_claims_forget();
			jc_free_retired_plans();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			jc_forget_positions();
			jc_end_turns(false);
			jc_claims_forget();
			jc_free_retired_plans();
			break;
		case XACT_EVENT_PREPARE:
			jc_forget_positions();
			jc_end_turns(true);
			jc_claims_forget();
			jc_move_stripe_on();
			jc_free_retired_plans();
			break;
		default:
			break;
	}
}

static void
jobchunk_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		jc_forget_positions();
		jc_end_turns(false);
	}
}

void
_PG_init(void)
{
	DefineCustomIntVariable("jobchunk.chunk_size",
							"Number of images in each chunk made by jc_create_chunks().",
							NULL,
							&jc_chunk_size,
							500,
							1,
							INT_MAX,
							PGC_USERSET,
							0,
							NULL,
							NULL,
							NULL);

	/*
	 * A superuser's setting: a claim applies it to the expired leases it
	 * takes back, which may be any role's chunks of any job.
	 */
	DefineCustomIntVariable("jobchunk.max_retries",
							"Number of times a chunk may be retried, by jc_retry() or after its lease expired.",
							"A claim applies it to the chunks of any job whose leases it takes back, "
							"so only " JC_MAX_RETRIES_SETTERS " may change it.",
							&jc_max_retries,
							3,
							0,
							INT_MAX,
							PGC_SUSET,
							0,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("jobchunk.lease_timeout",
							"Default lease of a claimed chunk, and default extension of a heartbeat.",
							"A later claim takes back a chunk whose lease has expired: it becomes pending again, or failed once out of retries or in a cancelled job.",
							&jc_lease_timeout,
							300,
							1,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("jobchunk.rescan_interval",
							"Longest time a backend claims chunks of a job from where its last claim ended.",
							"After this time the next claim takes back expired leases and starts "
							"again at the head of the job's queue.  0 makes every claim do so.",
							&jc_rescan_interval,
							1000,
							0,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL,
							NULL,
							NULL);

	DefineCustomBoolVariable("jobchunk.synchronous_claims",
							 "Makes a transaction of nothing but claims wait for its WAL to reach disk.",
							 "Off, such a transaction commits as with synchronous_commit = off: "
							 "a crash can undo the claims of its last moments, which leaves their "
							 "chunks pending.",
							 &jc_synchronous_claims,
							 false,
							 PGC_USERSET,
							 0,
							 NULL,
							 NULL,
							 NULL);

	DefineCustomBoolVariable("jobchunk.notify",
							 "Sends NOTIFY jobchunk when chunks become claimable.",
							 "PostgreSQL cannot prepare a transaction that sent a NOTIFY: "
							 "turn this off for calls in transactions to be prepared.",
							 &jc_notify,
							 true,
							 PGC_USERSET,
							 0,
							 NULL,
							 NULL,
							 NULL);

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("jobchunk");
#else
	EmitWarningsOnPlaceholders("jobchunk");
#endif

	RegisterXactCallback(jobchunk_xact_callback, NULL);
	RegisterSubXactCallback(jobchunk_subxact_callback, NULL);
	CacheRegisterSyscacheCallback(NAMESPACEOID, jc_invalidate_plans,
								  (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, jc_invalidate_plans, (Datum) 0);
}
