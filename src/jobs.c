/*-------------------------------------------------------------------------
 *
 * jobs.c
 *		Job controls: jc_pause_job(), jc_resume_job(), jc_cancel_job(),
 *		jc_purge_job().
 *
 * A job is active, paused or cancelled (crawl_jobs.state).  Only an active
 * job's chunks are claimed; chunks in flight finish normally whatever the
 * job's state.  Cancelling also fails the job's pending chunks, and is
 * final.  Purging deletes a finished job with its chunks and counts.
 *
 * src/jobs.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(jc_pause_job);
PG_FUNCTION_INFO_V1(jc_resume_job);
PG_FUNCTION_INFO_V1(jc_cancel_job);
PG_FUNCTION_INFO_V1(jc_purge_job);

/*
 * Pausing and resuming lock the job FOR NO KEY UPDATE, which lets retries
 * and claims that take back expired leases (FOR KEY SHARE) go on.
 * Cancelling and purging lock it FOR UPDATE: they wait for them, and they
 * for it, so that no chunk of a cancelled job is left pending (see
 * transitions.c and claim.c), and no chunk of a purged job was pending or
 * processing.
 */
#define LOCK_JOB(strength) { \
	.sql = "SELECT j.state FROM @extschema@.crawl_jobs AS j " \
		"WHERE j.id OPERATOR(pg_catalog.=) $1 FOR " strength, \
	.nargs = 1, \
	.argtypes = {INT8OID}, \
	.expect = SPI_OK_SELECT \
}

static JcQuery lock_job = LOCK_JOB("NO KEY UPDATE");
static JcQuery lock_job_for_update = LOCK_JOB("UPDATE");

/* Deleting the job deletes its chunks and counts (ON DELETE CASCADE). */
static JcQuery delete_job = {
	.sql = "DELETE FROM @extschema@.crawl_jobs AS j "
		"WHERE j.id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_DELETE
};

static JcQuery set_state = {
	.sql = "UPDATE @extschema@.crawl_jobs AS j "
		"SET state = $2, updated_at = pg_catalog.now() "
		"WHERE j.id OPERATOR(pg_catalog.=) $1",
	.nargs = 2,
	.argtypes = {INT8OID, TEXTOID},
	.expect = SPI_OK_UPDATE
};

static JcQuery fail_pending = {
	.sql = "WITH changed AS ("
		"UPDATE @extschema@.job_chunks AS c "
		"SET status = 'failed', error_message = 'job cancelled', "
		"updated_at = pg_catalog.now() "
		"WHERE c.job_id OPERATOR(pg_catalog.=) $1 "
		"AND c.status OPERATOR(pg_catalog.=) 'pending' "
		"RETURNING c.job_id), "
		JC_COUNT("changed", "0", "0", "0", "1", "$2")
		"SELECT pg_catalog.count(*) FROM changed",
	.nargs = 2,
	.argtypes = {INT8OID, INT4OID},
	.expect = SPI_OK_SELECT
};

/*
 * Lock the job, FOR UPDATE or FOR NO KEY UPDATE, and return its state;
 * raise no_data_found if there is no such job.  Needs an SPI connection.
 */
static char *
lock_job_state(int64 job_id, bool for_update)
{
	Datum		values[1];

	values[0] = Int64GetDatum(job_id);
	if (jc_execute(for_update ? &lock_job_for_update : &lock_job,
				   values, NULL, false) == 0)
		jc_report_no_job(job_id);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * Lock the job and move it to state new_state, which only a cancelled job
 * refuses; return the state it had.  Needs an SPI connection.
 */
static char *
change_state(int64 job_id, const char *new_state, const char *action)
{
	Datum		values[2];
	char	   *old_state;

	old_state = lock_job_state(job_id, strcmp(new_state, "cancelled") == 0);
	if (strcmp(old_state, "cancelled") == 0 && strcmp(new_state, "cancelled") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("job %lld cannot be %s", (long long) job_id, action),
				 errdetail("The job is cancelled, which is final.")));

	if (strcmp(old_state, new_state) != 0)
	{
		values[0] = Int64GetDatum(job_id);
		values[1] = CStringGetTextDatum(new_state);
		jc_execute(&set_state, values, NULL, false);
	}
	return old_state;
}

/*
 * jc_pause_job(job_id bigint) RETURNS void
 */
Datum
jc_pause_job(PG_FUNCTION_ARGS)
{
	jc_check_not_null(fcinfo, 0);
	jc_connect(fcinfo);
	change_state(PG_GETARG_INT64(0), "paused", "paused");
	jc_finish();
	PG_RETURN_VOID();
}

/*
 * jc_resume_job(job_id bigint) RETURNS void
 */
Datum
jc_resume_job(PG_FUNCTION_ARGS)
{
	jc_check_not_null(fcinfo, 0);
	jc_connect(fcinfo);
	if (strcmp(change_state(PG_GETARG_INT64(0), "active", "resumed"), "paused") == 0)
		jc_notify_claimable(PG_GETARG_INT64(0));
	jc_finish();
	PG_RETURN_VOID();
}

/*
 * jc_cancel_job(job_id bigint) RETURNS bigint
 *
 * Returns how many pending chunks it failed.
 */
Datum
jc_cancel_job(PG_FUNCTION_ARGS)
{
	Datum		values[2];
	bool		isnull;
	Datum		failed;

	jc_check_not_null(fcinfo, 0);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = jc_stripe();

	jc_connect(fcinfo);
	change_state(PG_GETARG_INT64(0), "cancelled", "cancelled");
	jc_execute(&fail_pending, values, NULL, false);
	failed = jc_result_value(1, &isnull);
	jc_finish();
	PG_RETURN_DATUM(failed);
}

/*
 * jc_purge_job(job_id bigint) RETURNS bigint
 *
 * Purges a finished job: one with chunks, none pending or processing, or a
 * cancelled one.  A job without chunks that is not cancelled is a job whose
 * chunks are still to be created, as for jc_is_complete().  Returns how many
 * chunks it deleted.
 */
Datum
jc_purge_job(PG_FUNCTION_ARGS)
{
	Datum		values[1];
	int64		job_id;
	bool		cancelled;
	JcCounts	counts;
	int64		unfinished;

	jc_check_not_null(fcinfo, 0);
	job_id = PG_GETARG_INT64(0);
	values[0] = PG_GETARG_DATUM(0);

	jc_connect(fcinfo);
	cancelled = strcmp(lock_job_state(job_id, true), "cancelled") == 0;

	/*
	 * Counted in a statement of its own, not read-only, so with a snapshot
	 * taken after the lock: in READ COMMITTED it sees every retry that
	 * committed while the lock was awaited.  (Under REPEATABLE READ it may
	 * not; then deleting the chunk the retry changed fails with a
	 * serialization failure instead.)
	 */
	jc_count_chunks(job_id, &counts, false);
	unfinished = counts.pending + counts.processing;
	if (unfinished > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("job %lld cannot be purged", (long long) job_id),
				 errdetail_plural("%lld of its chunks is pending or processing.",
								  "%lld of its chunks are pending or processing.",
								  (unsigned long) unfinished,
								  (long long) unfinished),
				 errhint("Wait for the job to finish, or cancel it with jc_cancel_job() and wait for its chunks in flight.")));
	if (counts.total == 0 && !cancelled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("job %lld cannot be purged", (long long) job_id),
				 errdetail("It has no chunks yet, and is not cancelled."),
				 errhint("Create its chunks with jc_create_chunks(), or cancel it with jc_cancel_job().")));
	jc_execute(&delete_job, values, NULL, false);
	jc_finish();
	PG_RETURN_INT64(counts.total);
}
