/*-------------------------------------------------------------------------
 *
 * jobs.c
 *		Jobs: jc_create_job(), and the controls jc_pause_job(),
 *		jc_resume_job(), jc_cancel_job(), jc_purge_job(), jc_purge_jobs().
 *
 * A job is a row of crawl_jobs, which jc_create_job() or the application
 * inserts.  It is active, paused or cancelled (crawl_jobs.state).  Only an
 * active job's chunks are claimed; chunks in flight finish normally
 * whatever the job's state.  Cancelling also fails the job's pending
 * chunks, and is final.  Purging deletes a finished job with its chunks and
 * counts: one job, or every job finished long enough ago.
 *
 * src/jobs.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(jc_create_job);
PG_FUNCTION_INFO_V1(jc_pause_job);
PG_FUNCTION_INFO_V1(jc_resume_job);
PG_FUNCTION_INFO_V1(jc_cancel_job);
PG_FUNCTION_INFO_V1(jc_purge_job);
PG_FUNCTION_INFO_V1(jc_purge_jobs);

static JcQuery insert_job = {
	.sql = "INSERT INTO @extschema@.crawl_jobs (name) VALUES ($1) RETURNING id",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expect = SPI_OK_INSERT_RETURNING
};

/*
 * Pausing and resuming lock the job FOR NO KEY UPDATE, which lets retries,
 * releases and claims that take back expired leases (FOR KEY SHARE) go on.
 * Cancelling and purging lock it FOR UPDATE: they wait for retries and
 * releases, and retries and releases for them, so that no chunk of a
 * cancelled job is left pending (see transitions.c), and no chunk of a
 * purged job was pending or processing; claims skip a job so locked
 * instead of waiting (claim.c), and jc_purge_jobs() skips a job any other
 * transaction holds.
 */
static JcQuery lock_job = JC_LOCK_JOB("NO KEY UPDATE");
static JcQuery lock_job_for_update = JC_LOCK_JOB("UPDATE");
static JcQuery try_lock_job_for_update = JC_LOCK_JOB("UPDATE SKIP LOCKED");

/*
 * The jobs finished before $1 (only job $2, or all, $2 unused), in id order,
 * with how many chunks each has.  A job is finished when it has chunks and
 * none is pending or processing, or when it is cancelled and has none
 * pending or processing; it finished when its counts or the job itself last
 * changed, whichever is later.
 */
#define FINISHED_BEFORE(job_filter) { \
	.sql = "SELECT j.id, COALESCE(k.total, 0)::bigint " \
		"FROM @extschema@.crawl_jobs AS j CROSS JOIN LATERAL (" \
		"SELECT pg_catalog.sum(s.total) AS total, " \
		"pg_catalog.sum(s.total OPERATOR(pg_catalog.-) s.completed " \
		"OPERATOR(pg_catalog.-) s.failed) AS unfinished, " \
		"pg_catalog.max(s.updated_at) AS updated_at " \
		"FROM @extschema@.job_counts AS s " \
		"WHERE s.job_id OPERATOR(pg_catalog.=) j.id) AS k " \
		"WHERE " job_filter "COALESCE(k.unfinished, 0) OPERATOR(pg_catalog.=) 0 " \
		"AND (k.total OPERATOR(pg_catalog.>) 0 " \
		"OR j.state OPERATOR(pg_catalog.=) 'cancelled') " \
		"AND GREATEST(k.updated_at, j.updated_at) OPERATOR(pg_catalog.<) $1 " \
		"ORDER BY j.id", \
	.nargs = 2, \
	.argtypes = {TIMESTAMPTZOID, INT8OID}, \
	.expect = SPI_OK_SELECT \
}

static JcQuery jobs_finished_before = FINISHED_BEFORE("");
static JcQuery job_finished_before = FINISHED_BEFORE("j.id OPERATOR(pg_catalog.=) $2 AND ");

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
		"SET state = $2, updated_at = " JC_CLOCK " "
		"WHERE j.id OPERATOR(pg_catalog.=) $1",
	.nargs = 2,
	.argtypes = {INT8OID, TEXTOID},
	.expect = SPI_OK_UPDATE
};

/*
 * The pending chunks are locked in id order before they are changed, FOR
 * KEY SHARE, which claims (FOR UPDATE SKIP LOCKED) pass over and
 * jc_mark_processing() (FOR UPDATE) waits for: a chunk still pending when
 * the lock reaches it can no longer be claimed until the cancel ends, and
 * is failed.  A chunk claimed since the statement's
 * snapshot is processing when the lock reaches it: it is left as it is,
 * but stays locked, as PostgreSQL leaves a row it locked and then found no
 * longer matching, until the cancel ends.  Its worker's heartbeats,
 * completion and failure lock it FOR NO KEY UPDATE, which that lock does not
 * hold up (a cancel of a large job takes seconds; FOR UPDATE here kept them
 * waiting so long).  Returns how many chunks it changed and how many it
 * locked, which differ only when a trigger skipped some changes.
 */
static JcQuery fail_pending = {
	.sql = "WITH locked AS ("
		"SELECT l.id FROM @extschema@.job_chunks AS l "
		"WHERE l.job_id OPERATOR(pg_catalog.=) $1 "
		"AND l.status OPERATOR(pg_catalog.=) 'pending' "
		"ORDER BY l.id FOR KEY SHARE), "
		"changed AS ("
		"UPDATE @extschema@.job_chunks AS c "
		"SET status = 'failed', error_message = 'job cancelled', "
		"updated_at = pg_catalog.now() "
		"FROM locked AS x "
		"WHERE c.id OPERATOR(pg_catalog.=) x.id "
		"AND c.job_id OPERATOR(pg_catalog.=) $1 "
		"AND c.status OPERATOR(pg_catalog.=) 'pending' "
		"RETURNING c.job_id), "
		JC_COUNT("changed", "0", "0", "1", "$2")
		"SELECT (SELECT pg_catalog.count(*) FROM changed), "
		"(SELECT pg_catalog.count(*) FROM locked)",
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
		if (jc_execute(&set_state, values, NULL, false) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("job %lld cannot be %s", (long long) job_id, action),
					 errdetail("A trigger on crawl_jobs skipped the change of its state.")));
	}
	return old_state;
}

/* How many expired leases one statement takes back */
#define TAKE_BACK_BATCH 1000

/*
 * Take back every expired lease of the job *job_id, or of any job when
 * job_id is NULL, as claims do (see claim.c), so that a job whose last
 * workers died finishes: a cancelled one can then be purged without waiting
 * for a claim.  Needs an SPI connection.
 */
static void
take_back_all_expired(const int64 *job_id)
{
	TimestampTz now = GetCurrentTimestamp();

	while (jc_take_back_expired(job_id, TAKE_BACK_BATCH, now) == TAKE_BACK_BATCH)
		CHECK_FOR_INTERRUPTS();
}

/*
 * jc_create_job(name text DEFAULT NULL) RETURNS bigint
 *
 * Creates an active job and returns its id: the same as an INSERT into
 * crawl_jobs, as one call that a role can be granted, and that a PL/Proxy
 * database can send to a shard.
 */
Datum
jc_create_job(PG_FUNCTION_ARGS)
{
	Datum		values[1];
	int64		job_id;

	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);

	jc_connect(fcinfo);
	if (jc_execute(&insert_job, values, PG_ARGISNULL(0) ? "n" : NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("could not create a job"),
				 errdetail("A trigger on crawl_jobs skipped the new row.")));
	job_id = jc_result_int64(0, 1);
	jc_finish();
	PG_RETURN_INT64(job_id);
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
 * Returns how many pending chunks it failed.  Once it holds the job, it
 * marks it as being cancelled (cancel_lock.c), so that claims from the head
 * take nothing from it while it locks and fails the pending chunks.
 */
Datum
jc_cancel_job(PG_FUNCTION_ARGS)
{
	Datum		values[2];
	int64		failed;

	jc_check_not_null(fcinfo, 0);

	/*
	 * With a transaction snapshot the cancel would read the chunks as they
	 * were before it locked the job: a retry that committed meanwhile would
	 * leave its chunk pending, without any serialization failure.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("jc_cancel_job() needs isolation level READ COMMITTED"),
				 errdetail("Under REPEATABLE READ or SERIALIZABLE it could leave pending a chunk that a concurrent retry made pending."),
				 errhint("Cancel the job in a READ COMMITTED transaction.")));

	values[0] = PG_GETARG_DATUM(0);
	values[1] = jc_stripe();

	jc_connect(fcinfo);
	change_state(PG_GETARG_INT64(0), "cancelled", "cancelled");
	jc_mark_cancel_running(PG_GETARG_INT64(0));
	jc_execute(&fail_pending, values, NULL, false);
	failed = jc_result_int64(0, 1);
	if (failed != jc_result_int64(0, 2))
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("job %lld cannot be cancelled", (long long) PG_GETARG_INT64(0)),
				 errdetail("A trigger on job_chunks skipped the failing of some of its pending chunks.")));
	jc_finish();
	PG_RETURN_INT64(failed);
}

/*
 * jc_purge_job(job_id bigint) RETURNS bigint
 *
 * Purges a finished job: one with none of its chunks pending or processing
 * (a cancelled job has none pending), and with chunks or cancelled.  A job
 * without chunks that is not cancelled is a job whose chunks are still to
 * be created, as for jc_is_complete().  The job's expired leases are taken
 * back first, so a chunk whose worker died counts as what it becomes:
 * pending, or failed in a cancelled job.  Returns how many chunks it
 * deleted.
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
	take_back_all_expired(&job_id);

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
	/* After any wait for the job: who is a superuser may change meanwhile. */
	jc_check_cascades();
	if (jc_execute(&delete_job, values, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("job %lld cannot be purged", (long long) job_id),
				 errdetail("A trigger on crawl_jobs skipped its deletion.")));
	jc_finish();
	PG_RETURN_INT64(counts.total);
}

/* The longest age a purge takes, in years */
#define JC_MAX_AGE_YEARS 1000

/*
 * The start of the transaction minus older_than: the time before which a
 * job must have finished to be purged.  Raises invalid_parameter_value
 * unless it is at most as late as the start and at most JC_MAX_AGE_YEARS
 * earlier, both compared as times, not as intervals (from the 1st of March
 * of a common year, '1 mon -29 days' before is in the future), as a
 * lease's end is (see jc_lease_end_arg()).
 */
static TimestampTz
purge_cutoff(Interval *older_than)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (jc_interval_fields_within(older_than, JC_MAX_AGE_YEARS))
	{
		Interval	longest = {0};
		TimestampTz cutoff;
		TimestampTz earliest;

		longest.month = JC_MAX_AGE_YEARS * MONTHS_PER_YEAR;
		cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														 TimestampTzGetDatum(now),
														 IntervalPGetDatum(older_than)));
		earliest = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														   TimestampTzGetDatum(now),
														   IntervalPGetDatum(&longest)));
		if (cutoff <= now && cutoff >= earliest)
			return cutoff;
	}

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid older_than: %s", jc_interval_text(older_than)),
			 errdetail("Jobs finished more than older_than ago are purged; it must not be negative, nor longer than %d years.",
					   JC_MAX_AGE_YEARS)));
}

/*
 * jc_purge_jobs(older_than interval)
 *		RETURNS TABLE (job_id bigint, chunks bigint)
 *
 * Purges every job that finished (as for jc_purge_job()) before now() -
 * older_than, in job id order, and returns each with how many chunks it
 * had.  Expired leases are taken back first, of every job.  A job another
 * transaction holds locked (cancelling, pausing, resuming, retrying,
 * releasing or purging it, or taking back its expired leases) is skipped, so
 * the call never waits for workers; it is purged by a later call.  A job
 * whose deletion a trigger on crawl_jobs skips is not purged, and not
 * returned, as a DELETE would not count it.
 */
Datum
jc_purge_jobs(PG_FUNCTION_ARGS)
{
	Tuplestorestate *tupstore;
	TupleDesc	tupdesc;
	Datum		values[2];
	int64	   *job_ids;
	uint64		njobs;

	jc_check_not_null(fcinfo, 0);
	values[0] = TimestampTzGetDatum(purge_cutoff(PG_GETARG_INTERVAL_P(0)));
	tupstore = jc_result_store(fcinfo);
	tupdesc = ((ReturnSetInfo *) fcinfo->resultinfo)->setDesc;

	jc_connect(fcinfo);
	jc_check_cascades();
	take_back_all_expired(NULL);
	njobs = jc_execute(&jobs_finished_before, values, " n", false);
	job_ids = palloc(njobs * sizeof(int64));
	for (uint64 i = 0; i < njobs; i++)
		job_ids[i] = jc_result_int64(i, 1);

	for (uint64 i = 0; i < njobs; i++)
	{
		Datum		row[2];
		bool		nulls[2] = {false, false};

		CHECK_FOR_INTERRUPTS();

		/*
		 * Locked as jc_purge_job() locks it, then checked again with a new
		 * snapshot: a retry that committed since the first reading made the
		 * job unfinished, or finished it again later.
		 */
		values[1] = Int64GetDatum(job_ids[i]);
		if (jc_execute(&try_lock_job_for_update, &values[1], NULL, false) == 0 ||
			jc_execute(&job_finished_before, values, NULL, false) == 0)
			continue;

		row[0] = values[1];
		row[1] = Int64GetDatum(jc_result_int64(0, 2));
		if (jc_execute(&delete_job, &values[1], NULL, false) == 1)
			tuplestore_putvalues(tupstore, tupdesc, row, nulls);
	}
	jc_finish();
	return (Datum) 0;
}
