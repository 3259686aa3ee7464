/*-------------------------------------------------------------------------
 *
 * transitions.c
 *		Status changes of chunks named by id, and their leases.
 *
 *		pending    -> processing	jc_mark_processing(), with a lease
 *		processing -> completed		jc_mark_completed(), one or many
 *		processing -> failed		jc_mark_failed()
 *		failed     -> pending		jc_retry(), at most jobchunk.max_retries times
 *		processing -> pending		jc_release(), given back (failed in a
 *									cancelled job)
 *		(lease extended)			jc_heartbeat(), jc_heartbeat_batch()
 *
 * Each change is one UPDATE that matches only a chunk in the status it starts
 * from and, when the caller gives a lease token, only while that token is the
 * chunk's current claim.  When it matches nothing, the chunk is read again
 * to tell the caller why: it does not exist, its status (or retry count, or
 * its job) forbids the change, or the caller's claim is no longer current.
 * The batch heartbeat and the release change each chunk they can, and leave
 * the others as they are, without a reason.
 *
 * src/transitions.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(jc_mark_processing);
PG_FUNCTION_INFO_V1(jc_mark_completed);
PG_FUNCTION_INFO_V1(jc_mark_completed_many);
PG_FUNCTION_INFO_V1(jc_mark_failed);
PG_FUNCTION_INFO_V1(jc_retry);
PG_FUNCTION_INFO_V1(jc_heartbeat);
PG_FUNCTION_INFO_V1(jc_heartbeat_batch);
PG_FUNCTION_INFO_V1(jc_release);

/*
 * The chunk named by $1 is in status s.  These statements find their chunk
 * by primary key, and test the status with texteq() rather than "=" so that
 * the planner cannot take the partial index of the chunks in that status
 * instead: it looks small, but between two vacuums it holds an entry for
 * every row version that ever was in that status.
 */
#define CHUNK_IN(s) \
	"c.id OPERATOR(pg_catalog.=) $1 AND pg_catalog.texteq(c.status, '" s "') "

/* $2 is the lease token, or NULL to change the chunk whoever holds it. */
#define FENCED_PROCESSING \
	"AND ($2 IS NULL OR c.lease_token OPERATOR(pg_catalog.=) $2) "

/*
 * The chunk is locked FOR UPDATE before it is changed, as claims lock the
 * chunks they take: a cancel locks the pending chunks FOR KEY SHARE
 * (jobs.c), which a plain UPDATE would not wait for, and which, taken after
 * a plain UPDATE, would not see the chunk change.
 */
static JcQuery mark_processing = {
	.sql = "WITH changed AS ("
		"UPDATE @extschema@.job_chunks AS c "
		"SET status = 'processing', task_id = $2, "
		JC_NEXT_TOKEN("$5")
		"lease_expires_at = $3, "
		"updated_at = pg_catalog.now() "
		"WHERE " CHUNK_IN("pending")
		"AND c.id OPERATOR(pg_catalog.=) (SELECT l.id FROM @extschema@.job_chunks AS l "
		"WHERE l.id OPERATOR(pg_catalog.=) $1 FOR UPDATE) "
		"RETURNING c AS chunk, c.job_id), "
		JC_COUNT_AT("(SELECT job_id FROM changed)",
					"processing = k.processing OPERATOR(pg_catalog.+) 1, ",
					"$4", "$6", "true")
		"SELECT chunk, job_id, " JC_COUNTED_TID " FROM changed",
	.nargs = 6,
	.argtypes = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID, INT8OID, TIDOID},
	.expect = SPI_OK_SELECT
};

/*
 * A completion repeated with the token that completed the chunk returns the
 * chunk as it is, so that a worker can repeat a call whose answer it lost.
 * (What is checked is that the chunk was completed while that token was its
 * current one: by the call that held it, or by a call without a token.
 * Chunks never claimed have token 0.)  The chunk is read by a statement
 * of its own once the change found nothing to do: the first call may still
 * have been running when the repeat began, and only a new snapshot sees
 * what it did.
 */
#define ALREADY_COMPLETED(token) \
	"pg_catalog.texteq(c.status, 'completed') " \
	"AND c.lease_token OPERATOR(pg_catalog.=) " token " " \
	"AND c.lease_token OPERATOR(pg_catalog.>) 0 "

static JcQuery completed_under_token = {
	.sql = "SELECT c FROM @extschema@.job_chunks AS c "
		"WHERE c.id OPERATOR(pg_catalog.=) $1 AND " ALREADY_COMPLETED("$2"),
	.nargs = 2,
	.argtypes = {INT8OID, INT8OID},
	.expect = SPI_OK_SELECT
};

static JcQuery mark_completed = {
	.sql = "WITH changed AS ("
		"UPDATE @extschema@.job_chunks AS c "
		"SET status = 'completed', error_message = NULL, "
		"lease_expires_at = NULL, updated_at = pg_catalog.now() "
		"WHERE " CHUNK_IN("processing")
		FENCED_PROCESSING
		"RETURNING c AS chunk, c.job_id), "
		JC_COUNT_AT("(SELECT job_id FROM changed)",
					"processing = k.processing OPERATOR(pg_catalog.-) 1, "
					"completed = k.completed OPERATOR(pg_catalog.+) 1, ",
					"$3", "$4", "true")
		"SELECT chunk, job_id, " JC_COUNTED_TID " FROM changed",
	.nargs = 4,
	.argtypes = {INT8OID, INT8OID, INT4OID, TIDOID},
	.expect = SPI_OK_SELECT
};

/* A chunk of a batch, processing under token u.token, or NULL: any token */
#define FENCED_BATCH \
	"pg_catalog.texteq(c.status, 'processing') " \
	"AND (u.token IS NULL OR c.lease_token OPERATOR(pg_catalog.=) u.token) "

/*
 * The CTEs of a statement that changes a batch of chunks: u, the ids $1
 * with the tokens $2; locked, those of them processing under their tokens
 * and meeting the further condition also ("" or "AND ..."); and changed,
 * an UPDATE of the locked chunks with the SET list set, returning
 * returning.  The chunks are locked in id order before they are
 * changed, whatever the order they are given in and whatever the plan, so
 * that two batches sharing chunks (unfenced completions given in different
 * orders, or a worker's batch heartbeat and its batch completion) cannot
 * each hold a chunk the other waits for (jobs.spec).  They are locked FOR
 * NO KEY UPDATE, as the UPDATE would lock them, and not FOR UPDATE, which
 * would wait for a cancel that locked them FOR KEY SHARE (see jobs.c).
 */
#define CHANGE_BATCH(also, set, returning) \
	"WITH u AS (" \
	"SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(id, token)), " \
	"locked AS (" \
	"SELECT c.id FROM @extschema@.job_chunks AS c JOIN u ON u.id OPERATOR(pg_catalog.=) c.id " \
	"WHERE " FENCED_BATCH also \
	"ORDER BY c.id FOR NO KEY UPDATE OF c), " \
	"changed AS (" \
	"UPDATE @extschema@.job_chunks AS c SET " set \
	"FROM locked AS x JOIN u ON u.id OPERATOR(pg_catalog.=) x.id " \
	"WHERE c.id OPERATOR(pg_catalog.=) x.id AND " FENCED_BATCH \
	"RETURNING " returning ")"

static JcQuery mark_completed_many = {
	.sql = CHANGE_BATCH("", "status = 'completed', error_message = NULL, "
						"lease_expires_at = NULL, updated_at = pg_catalog.now() ",
						"c.*") ", "
		JC_COUNT("changed", "-1", "1", "0", "$3")
		"SELECT * FROM changed ORDER BY id",
	.nargs = 3,
	.argtypes = {INT8ARRAYOID, INT8ARRAYOID, INT4OID},
	.expect = SPI_OK_SELECT
};

/* The chunks of $1 completed under the tokens in $2, in id order. */
static JcQuery completed_many_under_tokens = {
	.sql = "SELECT c.* FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(id, token) "
		"JOIN @extschema@.job_chunks AS c ON c.id OPERATOR(pg_catalog.=) u.id "
		"WHERE " ALREADY_COMPLETED("u.token") "ORDER BY c.id",
	.nargs = 2,
	.argtypes = {INT8ARRAYOID, INT8ARRAYOID},
	.expect = SPI_OK_SELECT
};

static JcQuery mark_failed = {
	.sql = "WITH changed AS ("
		"UPDATE @extschema@.job_chunks AS c "
		"SET status = 'failed', error_message = $3, "
		"lease_expires_at = NULL, updated_at = pg_catalog.now() "
		"WHERE " CHUNK_IN("processing")
		FENCED_PROCESSING
		"RETURNING c AS chunk, c.job_id), "
		JC_COUNT_AT("(SELECT job_id FROM changed)",
					"processing = k.processing OPERATOR(pg_catalog.-) 1, "
					"failed = k.failed OPERATOR(pg_catalog.+) 1, ",
					"$4", "$5", "true")
		"SELECT chunk, job_id, " JC_COUNTED_TID " FROM changed",
	.nargs = 5,
	.argtypes = {INT8OID, INT8OID, TEXTOID, INT4OID, TIDOID},
	.expect = SPI_OK_SELECT
};

/*
 * Also returns whether the chunk is claimable now, its job being active.
 * The job is locked FOR KEY SHARE before its state is read, so that a
 * concurrent jc_cancel_job(), which locks it FOR UPDATE, either fails the
 * chunk this makes pending or makes this see the job cancelled.
 */
static JcQuery retry = {
	.sql = "WITH job AS ("
		"SELECT j.id, j.state FROM @extschema@.crawl_jobs AS j "
		"WHERE j.id OPERATOR(pg_catalog.=) "
		"(SELECT f.job_id FROM @extschema@.job_chunks AS f "
		"WHERE f.id OPERATOR(pg_catalog.=) $1) "
		"FOR KEY SHARE), "
		"changed AS ("
		"UPDATE @extschema@.job_chunks AS c "
		"SET status = 'pending', retry_count = c.retry_count OPERATOR(pg_catalog.+) 1, "
		"task_id = NULL, updated_at = pg_catalog.now() "
		"FROM job AS j "
		"WHERE j.id OPERATOR(pg_catalog.=) c.job_id "
		"AND " CHUNK_IN("failed")
		"AND c.retry_count OPERATOR(pg_catalog.<) $2 "
		"AND j.state OPERATOR(pg_catalog.<>) 'cancelled' "
		"RETURNING c AS chunk, c.job_id, "
		"j.state OPERATOR(pg_catalog.=) 'active' AS claimable), "
		JC_COUNT_AT("(SELECT job_id FROM changed)",
					"failed = k.failed OPERATOR(pg_catalog.-) 1, ",
					"$3", "$4", "true")
		"SELECT chunk, job_id, claimable, " JC_COUNTED_TID " FROM changed",
	.nargs = 4,
	.argtypes = {INT8OID, INT4OID, INT4OID, TIDOID},
	.expect = SPI_OK_SELECT
};

static JcQuery heartbeat = {
	.sql = "UPDATE @extschema@.job_chunks AS c "
		"SET lease_expires_at = GREATEST(c.lease_expires_at, $3), "
		"updated_at = pg_catalog.now() "
		"WHERE " CHUNK_IN("processing")
		FENCED_PROCESSING
		"RETURNING c.lease_expires_at",
	.nargs = 3,
	.argtypes = {INT8OID, INT8OID, TIMESTAMPTZOID},
	.expect = SPI_OK_UPDATE_RETURNING
};

/*
 * One row for each chunk of a batch (batch_args() has refused repeated ids),
 * in id order: its new expiry, or NULL if its token is no longer its current
 * claim (or there is no such chunk); and whether it was locked, for a chunk
 * locked but not changed can only be one whose change a trigger skipped.
 */
static JcQuery heartbeat_batch = {
	.sql = CHANGE_BATCH("", "lease_expires_at = GREATEST(c.lease_expires_at, $3), "
						"updated_at = pg_catalog.now() ",
						"c.id, c.lease_expires_at") " "
		"SELECT u.id, changed.lease_expires_at, locked.id IS NOT NULL "
		"FROM u LEFT JOIN changed ON changed.id OPERATOR(pg_catalog.=) u.id "
		"LEFT JOIN locked ON locked.id OPERATOR(pg_catalog.=) u.id "
		"ORDER BY u.id",
	.nargs = 3,
	.argtypes = {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID},
	.expect = SPI_OK_SELECT
};

/*
 * The jobs of the chunks $1, locked FOR KEY SHARE in id order before a
 * release locks any chunk, as a retry locks its chunk's job: a concurrent
 * jc_cancel_job(), which locks its job FOR UPDATE, either fails the chunks
 * the release makes pending, or has cancelled the job before the release
 * reads its state (and, being final, it stays so).  A release so waits for
 * a cancel or a purge of the job in flight, rather than skip the job as the
 * take-back of expired leases does (see claim.c): skipped, the chunks of an
 * active job (whose cancel rolled back, or whose purge was refused) would
 * stay with a worker that is gone until their leases ran out.  Returns the
 * cancelled ones among them, or NULL if none is; and all of them, or NULL
 * if there are none.  The release then leaves alone any chunk of a job not
 * locked here, as it would an unknown id: a chunk created after this
 * statement's snapshot, whose job may be cancelled before the release
 * reads it.
 */
static JcQuery lock_jobs_of_chunks = {
	.sql = "SELECT pg_catalog.array_agg(j.id) "
		"FILTER (WHERE j.state OPERATOR(pg_catalog.=) 'cancelled'), "
		"pg_catalog.array_agg(j.id) "
		"FROM (SELECT l.id, l.state FROM @extschema@.crawl_jobs AS l "
		"WHERE l.id OPERATOR(pg_catalog.=) ANY (ARRAY("
		"SELECT c.job_id FROM @extschema@.job_chunks AS c "
		"WHERE c.id OPERATOR(pg_catalog.=) ANY ($1))) "
		"ORDER BY l.id FOR KEY SHARE) AS j",
	.nargs = 1,
	.argtypes = {INT8ARRAYOID},
	.expect = SPI_OK_SELECT
};

/* The chunk c is in one of the cancelled jobs $3 */
#define IN_CANCELLED_JOB "c.job_id OPERATOR(pg_catalog.=) ANY ($3)"

/*
 * Releasing the chunks of a batch still held, of the jobs $5: pending again
 * as before their claim (retry_count, lease_token and error_message as they
 * are), or failed in a cancelled job, as the take-back of an expired lease
 * fails them.  $4 is the counts' stripe.  One row for each chunk locked, in
 * id order: the chunk as changed, whether it can be claimed now (pending,
 * its job active), and its id, for a chunk locked but not changed can only
 * be one whose change a trigger skipped.
 */
static JcQuery release_chunks = {
	.sql = CHANGE_BATCH("AND c.job_id OPERATOR(pg_catalog.=) ANY ($5) ",
						"status = CASE WHEN " IN_CANCELLED_JOB " THEN 'failed' ELSE 'pending' END, "
						"task_id = CASE WHEN " IN_CANCELLED_JOB " THEN c.task_id END, "
						"error_message = CASE WHEN " IN_CANCELLED_JOB " THEN 'job cancelled' "
						"ELSE c.error_message END, "
						"lease_expires_at = NULL, updated_at = pg_catalog.now() ",
						"c.*") ", "
		JC_COUNT("changed", "-1", "0",
				 "CASE WHEN d.status OPERATOR(pg_catalog.=) 'failed' THEN 1 ELSE 0 END", "$4")
		"SELECT changed.*, "
		"pg_catalog.texteq(changed.status, 'pending') AND COALESCE(("
		"SELECT j.state OPERATOR(pg_catalog.=) 'active' FROM @extschema@.crawl_jobs AS j "
		"WHERE j.id OPERATOR(pg_catalog.=) changed.job_id), false), "
		"locked.id "
		"FROM locked LEFT JOIN changed ON changed.id OPERATOR(pg_catalog.=) locked.id "
		"ORDER BY locked.id",
	.nargs = 5,
	.argtypes = {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT4OID, INT8ARRAYOID},
	.expect = SPI_OK_SELECT
};

static JcQuery chunk_state = {
	.sql = "SELECT c.status, c.retry_count, c.lease_token, c.job_id, j.state, "
		"c.error_message "
		"FROM @extschema@.job_chunks AS c "
		"JOIN @extschema@.crawl_jobs AS j ON j.id OPERATOR(pg_catalog.=) c.job_id "
		"WHERE c.id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * Explain why a change of the chunk matched no row, and raise the error.
 * done is the past participle of the change ("marked completed"); from is
 * the status it must start from; token_null is ' ' when the caller gave
 * lease token token.
 */
static void
pg_attribute_noreturn()
refuse(int64 chunk_id, char token_null, int64 token, const char *done,
	   const char *from)
{
	Datum		values[1];
	HeapTuple	row;
	TupleDesc	tupdesc;
	char	   *status;
	int32		retries;
	int64		current_token;
	bool		holds_token;
	bool		isnull;

	values[0] = Int64GetDatum(chunk_id);
	if (jc_execute(&chunk_state, values, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("chunk %lld does not exist", (long long) chunk_id)));

	row = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	status = SPI_getvalue(row, tupdesc, 1);
	retries = DatumGetInt32(SPI_getbinval(row, tupdesc, 2, &isnull));
	current_token = DatumGetInt64(SPI_getbinval(row, tupdesc, 3, &isnull));
	/* the caller's token is the chunk's last claim (0: never claimed) */
	holds_token = token_null != 'n' && current_token == token && token > 0;

	/*
	 * A chunk completed or failed under the caller's token: perhaps by an
	 * earlier call of the caller's, whose answer it lost (a dropped
	 * connection, a proxy's timeout).  A failed one may also have been
	 * failed by a call without a token, by the take-back of its expired
	 * lease (out of retries, or in a cancelled job), by a cancel once
	 * taken back, or by a release in a cancelled job: its error message
	 * tells.
	 */
	if (holds_token &&
		(strcmp(status, JC_COMPLETED) == 0 || strcmp(status, JC_FAILED) == 0))
	{
		bool		failed = strcmp(status, JC_FAILED) == 0;

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("chunk %lld is already %s under lease token %lld",
						(long long) chunk_id, status, (long long) token),
				 failed ?
				 errdetail("It failed while this token was current, with error message \"%s\"; it cannot be %s.",
						   jc_text_excerpt(SPI_getvalue(row, tupdesc, 6)), done) :
				 errdetail("It was completed while this token was current; it cannot be %s.",
						   done),
				 failed ?
				 errhint("If a call of yours failed it with that message, that change is recorded; but a call without a token fails a chunk with any message, the take-back of an expired lease with \"lease expired\" once out of retries, and a cancel, or the take-back or release of a chunk of a cancelled job, with \"job cancelled\".") :
				 errhint("If a call of yours completed it, that change is recorded.")));
	}

	/*
	 * Otherwise the caller's token is current only on a chunk pending again,
	 * which keeps the token of its last claim: it was taken back when its
	 * lease expired, or released, or it failed and was retried.  Claims'
	 * tokens are positive and, for a chunk, only grow: a smaller one than
	 * the current was handed out before the claim that took the chunk
	 * since, and a larger one by no claim of the chunk that took effect.
	 */
	if (token_null != 'n' &&
		(strcmp(status, JC_PROCESSING) != 0 || current_token != token))
	{
		const char *hint = NULL;

		if (token <= 0)
			hint = "A claim's lease token is always positive.";
		else if (current_token > token)
			hint = "The chunk has been claimed since this token was handed out: its lease expired and was taken back, or it was released, or it failed and was retried, or the claim was undone (rolled back, or lost in a crash).";
		else if (current_token < token)
			hint = "No claim of this chunk that took effect had this token: the claim was undone (rolled back, or lost in a crash), or the token is another chunk's.";
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("chunk %lld is no longer held by lease token %lld",
						(long long) chunk_id, (long long) token),
				 holds_token ?
				 errdetail("The chunk is pending again: its lease expired and was taken back, or it was released, or it failed and was retried, since this token claimed it.") :
				 errdetail("The chunk is %s, and its current lease token is %lld.",
						   status, (long long) current_token),
				 hint != NULL ? errhint("%s", hint) : 0));
	}

	if (strcmp(status, from) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("chunk %lld cannot be %s", (long long) chunk_id, done),
				 errdetail("The chunk is %s; only a %s chunk can be %s.",
						   status, from, done)));

	/* Only a retry can be refused for more: its job, or the retry limit. */
	if (strcmp(from, JC_FAILED) == 0 &&
		strcmp(SPI_getvalue(row, tupdesc, 5), "cancelled") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("chunk %lld cannot be %s", (long long) chunk_id, done),
				 errdetail("Its job %s is cancelled.", SPI_getvalue(row, tupdesc, 4))));
	if (strcmp(from, JC_FAILED) == 0 && retries >= jc_max_retries)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("chunk %lld cannot be %s", (long long) chunk_id, done),
				 errdetail_plural("The chunk has been retried %d time, and jobchunk.max_retries is %d.",
								  "The chunk has been retried %d times, and jobchunk.max_retries is %d.",
								  retries, retries, jc_max_retries),
				 errhint("Raise jobchunk.max_retries to retry it again; only " JC_MAX_RETRIES_SETTERS " can.")));

	/*
	 * Nothing forbids the change now: another transaction changed the chunk
	 * after the change missed it, or a trigger skipped the change.
	 */
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("chunk %lld cannot be %s", (long long) chunk_id, done),
			 errdetail("The chunk changed while the call ran, or a trigger skipped the change.")));
}

/*
 * Refuse a batch call that locked the chunk chunk_id, held by the caller,
 * but whose change (done, a past participle) a trigger skipped: reported as
 * lost, or left out, the chunk would stay held without a word.
 */
static void
pg_attribute_noreturn()
refuse_skipped(int64 chunk_id, const char *done)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("chunk %lld cannot be %s", (long long) chunk_id, done),
			 errdetail("A trigger on job_chunks skipped the change.")));
}

/*
 * Return column 1 of the changed row, copied out of SPI, and end the call's
 * SPI connection (jc_finish()); or explain why nothing changed.
 */
static Datum
changed(uint64 processed, int64 chunk_id, char token_null, int64 token,
		const char *done, const char *from)
{
	Datum		result;
	bool		isnull;

	if (processed != 1)
		refuse(chunk_id, token_null, token, done, from);
	result = jc_result_value(1, &isnull);
	jc_finish();
	return result;
}

/*
 * Return column 1 of the one row changed by a statement that counted with
 * JC_COUNT_AT (column 2: the chunk's job), copied out of SPI, once the
 * change of the job's counts is made (jc_count_changes()), and end the
 * call's SPI connection.
 */
static Datum
counted(int64 processing, int64 completed, int64 failed)
{
	bool		isnull;
	Datum		result = jc_result_value(1, &isnull);

	jc_count_changes(jc_result_int64(0, 2), processing, completed, failed);
	jc_finish();
	return result;
}

/* The optional lease token in argument argno, with its SPI null flag. */
static int64
token_arg(FunctionCallInfo fcinfo, int argno, char *null)
{
	*null = PG_ARGISNULL(argno) ? 'n' : ' ';
	return PG_ARGISNULL(argno) ? 0 : PG_GETARG_INT64(argno);
}

/*
 * jc_mark_processing(chunk_id bigint, task_id text DEFAULT NULL,
 *					  lease interval DEFAULT NULL) RETURNS job_chunks
 */
Datum
jc_mark_processing(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	TimestampTz now;
	Datum		chunk;

	jc_check_nargs(fcinfo, 3);
	jc_check_not_null(fcinfo, 0);
	chunk_id = PG_GETARG_INT64(0);
	now = GetCurrentTimestamp();
	values[0] = Int64GetDatum(chunk_id);
	values[1] = jc_task_id_arg(fcinfo, 1, &nulls[1]);
	values[2] = jc_lease_end_arg(fcinfo, 2, now);
	values[3] = jc_stripe();
	values[4] = Int64GetDatum(now);
	values[5] = jc_stripe_tid(NULL, &nulls[5]);

	jc_claim_begins();
	jc_connect(fcinfo);
	if (jc_execute(&mark_processing, values, nulls, false) != 1)
		refuse(chunk_id, 'n', 0, "marked processing", JC_PENDING);
	chunk = counted(1, 0, 0);
	jc_claim_ends();
	PG_RETURN_DATUM(chunk);
}

/*
 * jc_mark_completed(chunk_id bigint, lease_token bigint DEFAULT NULL)
 *		RETURNS job_chunks
 *
 * With the token that completed the chunk, returns it as it is (see
 * ALREADY_COMPLETED).
 */
Datum
jc_mark_completed(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	int64		token;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	uint64		processed;

	jc_check_nargs(fcinfo, 2);
	jc_check_not_null(fcinfo, 0);
	chunk_id = PG_GETARG_INT64(0);
	token = token_arg(fcinfo, 1, &nulls[1]);
	values[0] = Int64GetDatum(chunk_id);
	values[1] = Int64GetDatum(token);
	values[2] = jc_stripe();
	values[3] = jc_stripe_tid(NULL, &nulls[3]);

	jc_connect(fcinfo);
	processed = jc_execute(&mark_completed, values, nulls, false);
	if (processed == 1)
		PG_RETURN_DATUM(counted(-1, 1, 0));
	if (processed == 0 && nulls[1] != 'n')
		processed = jc_execute(&completed_under_token, values, nulls, false);
	PG_RETURN_DATUM(changed(processed, chunk_id, nulls[1], token,
							"marked completed", JC_PROCESSING));
}

/*
 * jc_mark_failed(chunk_id bigint, error_message text,
 *				  lease_token bigint DEFAULT NULL) RETURNS job_chunks
 */
Datum
jc_mark_failed(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	int64		token;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	jc_check_nargs(fcinfo, 3);
	jc_check_not_null(fcinfo, 0);
	jc_check_not_null(fcinfo, 1);
	chunk_id = PG_GETARG_INT64(0);
	token = token_arg(fcinfo, 2, &nulls[1]);
	values[0] = Int64GetDatum(chunk_id);
	values[1] = Int64GetDatum(token);
	values[2] = PG_GETARG_DATUM(1);
	values[3] = jc_stripe();
	values[4] = jc_stripe_tid(NULL, &nulls[4]);

	jc_connect(fcinfo);
	if (jc_execute(&mark_failed, values, nulls, false) != 1)
		refuse(chunk_id, nulls[1], token, "marked failed", JC_PROCESSING);
	PG_RETURN_DATUM(counted(-1, 0, 1));
}

/*
 * jc_retry(chunk_id bigint) RETURNS job_chunks
 */
Datum
jc_retry(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	int64		job_id;

	jc_check_not_null(fcinfo, 0);
	chunk_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(chunk_id);
	values[1] = Int32GetDatum(jc_max_retries);
	values[2] = jc_stripe();
	values[3] = jc_stripe_tid(NULL, &nulls[3]);

	jc_connect(fcinfo);
	if (jc_execute(&retry, values, nulls, false) != 1)
		refuse(chunk_id, 'n', 0, "retried", JC_FAILED);
	job_id = jc_result_int64(0, 2);
	/* The chunk may be behind this backend's position in the job. */
	jc_forget_position(job_id);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
								   SPI_tuptable->tupdesc, 3, &isnull)))
		jc_notify_claimable(job_id);
	PG_RETURN_DATUM(counted(0, 0, -1));
}

/*
 * jc_heartbeat(chunk_id bigint, lease_token bigint,
 *				extend interval DEFAULT NULL) RETURNS timestamptz
 *
 * Extends the lease of the caller's claim to the time of the call + extend
 * (by default jobchunk.lease_timeout), unless it already ends later, and
 * returns its expiry.
 */
Datum
jc_heartbeat(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	int64		token;
	Datum		values[3];

	jc_check_not_null(fcinfo, 0);
	jc_check_not_null(fcinfo, 1);
	chunk_id = PG_GETARG_INT64(0);
	token = PG_GETARG_INT64(1);
	values[0] = Int64GetDatum(chunk_id);
	values[1] = Int64GetDatum(token);
	values[2] = jc_lease_end_arg(fcinfo, 2, GetCurrentTimestamp());

	jc_connect(fcinfo);
	PG_RETURN_DATUM(changed(jc_execute(&heartbeat, values, NULL, false),
							chunk_id, ' ', token,
							"given a longer lease", JC_PROCESSING));
}

/*
 * Order of two bigints for qsort() and bsearch(), which can be cancelled
 * from here: a batch of millions of ids takes seconds to sort.
 */
static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	CHECK_FOR_INTERRUPTS();
	return (x > y) - (x < y);
}

/*
 * The elements of the bigint[] argument argno, called name, which must have
 * one dimension and no NULLs.
 */
static int64 *
int64_array_arg(FunctionCallInfo fcinfo, int argno, const char *name, int *n)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(argno);
	Datum	   *elems;
	bool	   *nulls;
	int64	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", name)));
	deconstruct_array(array, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, n);
	result = palloc(sizeof(int64) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("element %d of %s is null", i + 1, name)));
		result[i] = DatumGetInt64(elems[i]);
	}
	return result;
}

/*
 * The arguments chunk_ids (argument 0) and lease_tokens (argument 1) of a
 * batch call: returns the chunk ids, in the caller's order, sets *n to their
 * number and, unless tokens is NULL, *tokens to the tokens (NULL if
 * lease_tokens is NULL).  Each chunk may appear at most once, and
 * lease_tokens must match chunk_ids.
 */
static int64 *
batch_args(FunctionCallInfo fcinfo, int *n, int64 **tokens)
{
	int64	   *ids;
	int64	   *sorted;
	int64	   *given_tokens = NULL;
	int			ntokens;

	ids = int64_array_arg(fcinfo, 0, "chunk_ids", n);
	if (!PG_ARGISNULL(1))
	{
		given_tokens = int64_array_arg(fcinfo, 1, "lease_tokens", &ntokens);
		if (ntokens != *n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("lease_tokens must be as long as chunk_ids"),
					 errdetail("The arrays have lengths %d (chunk_ids) and %d (lease_tokens).",
							   *n, ntokens)));
	}

	sorted = palloc(sizeof(int64) * Max(*n, 1));
	memcpy(sorted, ids, sizeof(int64) * *n);
	qsort(sorted, *n, sizeof(int64), compare_int64);
	for (int i = 1; i < *n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (sorted[i] == sorted[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("chunk %lld appears more than once in chunk_ids",
							(long long) sorted[i])));
	}
	if (tokens != NULL)
		*tokens = given_tokens;
	return ids;
}

/*
 * jc_mark_completed(chunk_ids bigint[], lease_tokens bigint[] DEFAULT NULL)
 *		RETURNS SETOF job_chunks
 *
 * Completes every chunk in chunk_ids, each fenced by the lease token at the
 * same position in lease_tokens when given, or none of them.  Returns the
 * completed chunks in id order.
 */
Datum
jc_mark_completed_many(PG_FUNCTION_ARGS)
{
	int			nids;
	int64	   *ids;
	int64	   *tokens;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	uint64		ndone;

	jc_check_not_null(fcinfo, 0);
	ids = batch_args(fcinfo, &nids, &tokens);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[2] = jc_stripe();

	jc_connect(fcinfo);
	ndone = jc_execute(&mark_completed_many, values, nulls, false);

	/*
	 * The others may have been completed under their tokens already (see
	 * ALREADY_COMPLETED): read all the chunks completed under their tokens,
	 * with a new snapshot, the ones just completed among them.
	 */
	if (ndone < (uint64) nids && tokens != NULL)
		ndone = jc_execute(&completed_many_under_tokens, values, NULL, false);

	if (ndone < (uint64) nids)
	{
		/* Name the first chunk, in the caller's order, that was not done. */
		int64	   *done = palloc(sizeof(int64) * Max(ndone, 1));

		for (uint64 i = 0; i < ndone; i++)
			done[i] = jc_result_int64(i, 1);
		for (int i = 0; i < nids; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (bsearch(&ids[i], done, ndone, sizeof(int64), compare_int64) == NULL)
				refuse(ids[i], tokens ? ' ' : 'n', tokens ? tokens[i] : 0,
					   "marked completed", JC_PROCESSING);
		}
		elog(ERROR, "completed %llu of %d chunks, but each was done",
			 (unsigned long long) ndone, nids);
	}

	jc_return_tuptable(fcinfo, 0);
	jc_finish();
	return (Datum) 0;
}

/*
 * jc_heartbeat_batch(chunk_ids bigint[], lease_tokens bigint[],
 *					  extend interval DEFAULT NULL)
 *		RETURNS TABLE (id bigint, lease_expires_at timestamptz)
 *
 * jc_heartbeat() of each chunk in chunk_ids under the lease token at the same
 * position in lease_tokens, but for a chunk whose claim is no longer current
 * it returns a NULL expiry where jc_heartbeat() would refuse: a lost lease is
 * no reason not to extend the others.  One row per chunk, in id order.
 */
Datum
jc_heartbeat_batch(PG_FUNCTION_ARGS)
{
	int			nids;
	Datum		values[3];

	jc_check_not_null(fcinfo, 0);
	jc_check_not_null(fcinfo, 1);
	(void) batch_args(fcinfo, &nids, NULL);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = jc_lease_end_arg(fcinfo, 2, GetCurrentTimestamp());

	jc_connect(fcinfo);
	if (jc_execute(&heartbeat_batch, values, NULL, false) != (uint64) nids)
		elog(ERROR, "heartbeat of %d chunks returned %llu rows",
			 nids, (unsigned long long) SPI_processed);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		bool		expiry_null;
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		(void) SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &expiry_null);
		if (expiry_null &&
			DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull)))
			refuse_skipped(jc_result_int64(i, 1), "given a longer lease");
	}
	jc_return_tuptable(fcinfo, 1);
	jc_finish();
	return (Datum) 0;
}

/*
 * jc_release(chunk_ids bigint[], lease_tokens bigint[])
 *		RETURNS SETOF job_chunks
 *
 * Gives back each chunk in chunk_ids still processing under the lease token
 * at the same position in lease_tokens (under any token when lease_tokens
 * is NULL): it is pending again at once, without a retry counted, or failed
 * in a cancelled job.  Leaves the others as they are: a lost lease is no
 * reason not to give back the rest.  Returns the chunks it changed, in id
 * order.
 */
Datum
jc_release(PG_FUNCTION_ARGS)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			nids;
	int			natts;
	int			job_column;
	bool		isnull;

	jc_check_not_null(fcinfo, 0);
	(void) batch_args(fcinfo, &nids, NULL);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';

	jc_connect(fcinfo);
	(void) jc_execute(&lock_jobs_of_chunks, values, NULL, false);
	values[2] = jc_result_value(1, &isnull);
	nulls[2] = isnull ? 'n' : ' ';
	values[3] = jc_stripe();
	values[4] = jc_result_value(2, &isnull);
	nulls[4] = isnull ? 'n' : ' ';
	(void) jc_execute(&release_chunks, values, nulls, false);

	natts = SPI_tuptable->tupdesc->natts;
	job_column = SPI_fnumber(SPI_tuptable->tupdesc, "job_id");
	if (job_column <= 0)
		elog(ERROR, "release returned no column job_id");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		int64		job_id;

		CHECK_FOR_INTERRUPTS();
		job_id = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc,
											 job_column, &isnull));
		if (isnull)
			refuse_skipped(jc_result_int64(i, natts), "released");

		/* The chunk may be behind this backend's position in the job. */
		jc_forget_position(job_id);
		if (DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, natts - 1,
									   &isnull)))
			jc_notify_claimable(job_id);
	}
	jc_return_tuptable(fcinfo, 2);
	jc_finish();
	return (Datum) 0;
}
