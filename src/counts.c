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
 * apart.  Every statement that changes a chunk's status to or from
 * completed or failed adds its change to the counts in the same statement
 * (JC_COUNT in jobchunk.h), so the counts agree with the rows in every
 * snapshot.
 *
 * A stripe's row is made the first time the stripe counts a change of the
 * job.  Making it checks the foreign key to crawl_jobs, which locks the job
 * FOR KEY SHARE; jc_cancel_job() and the purges hold the job FOR UPDATE
 * while they wait for the job's chunks.  So a statement that locks pending
 * chunks must not be the one to wait for that lock, or it and a cancel
 * could each wait for the other.  Claims therefore first lock the job FOR
 * KEY SHARE and make the row in a statement of their own, before they lock
 * any chunk (jc_add_stripe_of_job(), jc_add_stripe_of_chunk()); holding
 * that lock, a later insert of the row in the same transaction does not
 * wait.  Such a row counts no change, so it takes its time of change from
 * the job (see jc_purge_jobs()).
 *
 * src/counts.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"
#include "storage/proc.h"

/*
 * $1 the job, or the chunk, $2 the stripe.  Returns whether the job is
 * locked (it exists and the lock was not skipped) and whether the stripe's
 * row exists: made now, or already there before the statement.
 */
#define ADD_STRIPE(source, key, lock) { \
	.sql = "WITH job AS (SELECT j.id, j.updated_at FROM " source " " \
		"WHERE " key " OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF j" lock "), " \
		"made AS (INSERT INTO @extschema@.job_counts AS k (job_id, stripe, updated_at) " \
		"SELECT job.id, $2, job.updated_at FROM job " \
		"WHERE EXISTS (SELECT FROM @extschema@.job_counts AS e " \
		"WHERE e.job_id OPERATOR(pg_catalog.=) job.id) " \
		"ON CONFLICT (job_id, stripe) DO NOTHING RETURNING k.job_id) " \
		"SELECT EXISTS (SELECT FROM job), " \
		"EXISTS (SELECT FROM made) OR EXISTS (SELECT FROM job, " \
		"@extschema@.job_counts AS s WHERE s.job_id OPERATOR(pg_catalog.=) job.id " \
		"AND s.stripe OPERATOR(pg_catalog.=) $2)", \
	.nargs = 2, \
	.argtypes = {INT8OID, INT4OID}, \
	.expect = SPI_OK_SELECT \
}

/* For a claim, which may hold chunks already: never waits for the job. */
static JcQuery add_stripe_of_job =
ADD_STRIPE("@extschema@.crawl_jobs AS j", "j.id", " SKIP LOCKED");

/* For jc_mark_processing(), which holds no chunk yet: waits for the job. */
static JcQuery add_stripe_of_chunk =
ADD_STRIPE("@extschema@.job_chunks AS c JOIN @extschema@.crawl_jobs AS j "
		   "ON j.id OPERATOR(pg_catalog.=) c.job_id", "c.id", "");

Datum
jc_stripe(void)
{
#if PG_VERSION_NUM >= 170000
	return Int32GetDatum(MyProcNumber % JC_STRIPES);
#else
	return Int32GetDatum(MyProc->pgprocno % JC_STRIPES);
#endif
}

/*
 * Lock the job FOR KEY SHARE, or the job of the chunk, and make this
 * backend's stripe row for it unless it has one, or the job has no chunks
 * yet (then no counts, and nothing to claim).  Return whether the job is
 * locked: false if there is no such job or chunk, or the job is locked FOR
 * UPDATE by another transaction (being cancelled or purged) and the lock is
 * one that skips.  Set *exists to whether the stripe's row exists.  Needs an
 * SPI connection.
 */
static bool
add_stripe(JcQuery *query, int64 id, bool *exists)
{
	Datum		values[2];
	bool		isnull;

	values[0] = Int64GetDatum(id);
	values[1] = jc_stripe();
	if (jc_execute(query, values, NULL, false) != 1)
		elog(ERROR, "making a stripe row returned no row");
	*exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull));
}

bool
jc_add_stripe_of_job(int64 job_id, bool *exists)
{
	return add_stripe(&add_stripe_of_job, job_id, exists);
}

void
jc_add_stripe_of_chunk(int64 chunk_id)
{
	bool		exists;

	(void) add_stripe(&add_stripe_of_chunk, chunk_id, &exists);
}
