/*-------------------------------------------------------------------------
 *
 * counts.c
 *		The stripe of job_counts this backend writes.
 *
 * job_counts keeps, per job, how many chunks it has in all and how many are
 * processing, completed and failed, split into JC_STRIPES rows so that
 * backends working on one job at the same time seldom wait for each other's
 * row lock: each backend adds its changes to the stripe of its slot in the
 * process array.  Slots are unique among the backends running at one time,
 * so two share a stripe only when their slots are a multiple of JC_STRIPES
 * apart, or when one has moved on (below).  Every statement that changes a
 * chunk's status adds its change to the counts of processing, completed and
 * failed chunks in the same statement (JC_COUNT in jobchunk.h), and
 * jc_create_chunks() adds to the total in the same call as it inserts the
 * chunks, so the counts agree with the rows in every snapshot.
 *
 * Every job has all JC_STRIPES stripe rows from the moment its chunks are
 * created (jc_create_chunks()), so the statements that count never insert
 * one.  Inserting one would check its foreign key to crawl_jobs, which
 * locks the job FOR KEY SHARE; jc_cancel_job() and the purges hold the job
 * FOR UPDATE while they wait for chunks, possibly one the counting
 * statement has just locked, and each would wait for the other.  (A second
 * change of one stripe row in one transaction checks the foreign key as
 * well: see claim_job().)
 *
 * A prepared transaction keeps its locks on the stripe rows it changed
 * until COMMIT PREPARED or ROLLBACK PREPARED, and no deadlock is detected
 * while a backend waits for it: so after PREPARE TRANSACTION the backend
 * moves on to the next stripe, lest its next call wait forever for its own
 * prepared transaction.  That stripe is another slot's, so the backend in
 * that slot may now wait for this one; and any backend on the prepared
 * transaction's stripe waits for it until it is resolved (see the README,
 * Two-phase commit).
 *
 * src/counts.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "storage/proc.h"

/* How many stripes this backend has moved on by, modulo JC_STRIPES */
static int	stripes_moved = 0;

/*
 * Called when a transaction is prepared.
 */
void
jc_move_stripe_on(void)
{
	stripes_moved = (stripes_moved + 1) % JC_STRIPES;
}

Datum
jc_stripe(void)
{
#if PG_VERSION_NUM >= 170000
	return Int32GetDatum((MyProcNumber + stripes_moved) % JC_STRIPES);
#else
	return Int32GetDatum((MyProc->pgprocno + stripes_moved) % JC_STRIPES);
#endif
}
