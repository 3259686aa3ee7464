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
 * A stripe's row is made the first time the stripe counts a change of the
 * job.  Making it checks the foreign key to crawl_jobs, which locks the job
 * FOR KEY SHARE; jc_cancel_job() holds the job FOR UPDATE while it waits
 * for the job's pending chunks.  So a statement that locks pending chunks
 * must not be the one to make the row, or it and a cancel could each wait
 * for the other: claims make it beforehand, in a statement of their own
 * that holds no chunk (jc_add_stripe_of_job(), jc_add_stripe_of_chunk()).
 * Such a row counts no change, so it takes its time of change from the job
 * (see jc_purge_jobs()).
 *
 * src/counts.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"
#include "storage/proc.h"

#define ADD_STRIPE(source, key) { \
	.sql = "INSERT INTO @extschema@.job_counts AS k (job_id, stripe, updated_at) " \
		"SELECT j.id, $2, j.updated_at FROM " source " " \
		"WHERE " key " OPERATOR(pg_catalog.=) $1 " \
		"AND EXISTS (SELECT FROM @extschema@.job_counts AS e " \
		"WHERE e.job_id OPERATOR(pg_catalog.=) j.id) " \
		"ON CONFLICT (job_id, stripe) DO NOTHING", \
	.nargs = 2, \
	.argtypes = {INT8OID, INT4OID}, \
	.expect = SPI_OK_INSERT \
}

static JcQuery add_stripe_of_job =
ADD_STRIPE("@extschema@.crawl_jobs AS j", "j.id");
static JcQuery add_stripe_of_chunk =
ADD_STRIPE("@extschema@.job_chunks AS c JOIN @extschema@.crawl_jobs AS j "
		   "ON j.id OPERATOR(pg_catalog.=) c.job_id", "c.id");

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
 * Make this backend's stripe row for the job, or for the job of the chunk,
 * unless it exists; nothing if there is no such job or chunk, or if the job
 * has no chunks (then it has no counts yet, and nothing to claim).  Needs an
 * SPI connection.
 */
void
jc_add_stripe_of_job(int64 job_id)
{
	Datum		values[2];

	values[0] = Int64GetDatum(job_id);
	values[1] = jc_stripe();
	jc_execute(&add_stripe_of_job, values, NULL, false);
}

void
jc_add_stripe_of_chunk(int64 chunk_id)
{
	Datum		values[2];

	values[0] = Int64GetDatum(chunk_id);
	values[1] = jc_stripe();
	jc_execute(&add_stripe_of_chunk, values, NULL, false);
}
