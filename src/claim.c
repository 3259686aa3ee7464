/*-------------------------------------------------------------------------
 *
 * claim.c
 *		Claiming chunks under a lease: jc_next_pending() and jc_claim().
 *
 * A claim that starts at the head of the job's queue (see below) first
 * takes back chunks whose lease has expired, of any job (reaping), unless
 * the call has taken back leases already (see call_reaped): each
 * becomes pending again as a new attempt, with retry_count + 1, or failed
 * once retry_count has reached jobchunk.max_retries or its job is
 * cancelled.  Then one statement
 * picks the first pending chunks of the job in claim order (higher priority
 * first, then older, then lower chunk_index), locks them with FOR UPDATE
 * SKIP LOCKED and marks them processing with a lease and a new fencing
 * token.  Concurrent callers therefore never get the same chunk and never
 * wait for each other: a chunk another transaction holds is skipped, and a
 * chunk claimed meanwhile fails the status test when its new version is
 * rechecked.
 * Chunks of a paused or cancelled job are not claimed.
 *
 * Each claimed chunk leaves a dead entry at the head of the job's pending
 * index until vacuum removes it, and a claim that starts at the head steps
 * over all of them: between two vacuums of a busy job, thousands of index
 * pages.  So each backend remembers, per job, the claim-order key of the
 * last chunk it claimed (its position), and its next claims start there.
 * A claim from a position also skips the chunks whose row a transaction
 * that may still run, or that ended after its snapshot was taken, has
 * marked (xmax set, by a transaction not older than the snapshot's xmin):
 * chunks being claimed right now, and chunks claimed since the statement
 * took its snapshot.  Locking those would follow each to its newest
 * version, lock that although it is no longer pending, and make the worker
 * completing it wait for the claim: with 32 backends on one job, about one
 * such lock per claim, and up to dozens in one.  A mark older than the
 * snapshot's xmin is left by a transaction that locked the row and did not
 * change it (it rolled back, or only locked it), and is not skipped: a
 * cancel of a large job rolled back marks all its pending chunks, and every
 * claim from a position would otherwise read them all and find none.  The
 * test reads xmax as a transaction id, which it is not when several
 * transactions locked the row (a MultiXactId, usually far below the
 * transaction ids: a foreign key's check from another table while the
 * chunk changed, say); such a row is not passed over, and the claim may
 * lock its newest version, as above, or fail with 40001 under REPEATABLE
 * READ.
 *
 * Chunks can become pending behind a position: retried, released, taken
 * back from an expired lease, or left pending by a claim that rolled back.
 * Therefore a backend starts again from the head, taking back expired
 * leases first (unless the call already has: see call_reaped), when it has
 * no position, when the claim from its position finds fewer chunks than
 * asked for (unless the job is being cancelled or purged: see claim_job()),
 * and when jobchunk.rescan_interval has passed since it last did; and it
 * forgets its positions when a transaction or subtransaction aborts or is
 * prepared, and a job's position when it retries or releases a chunk of
 * the job.  With jobchunk.rescan_interval = 0 every claim starts at the
 * head.  Claims across all jobs use the positions in each job they take
 * from, but find the next job by walking job_chunks_claim_idx, which
 * positions do not shorten.
 *
 * A claim across all jobs serves the jobs in turn: among the jobs with
 * pending chunks at the highest priority, it takes from the first job after
 * the one this backend served last (in job id order, wrapping around), so
 * that a job with a million chunks does not starve a newer one.  Only when
 * no chunk at that priority can be claimed does it go down a priority.
 *
 * src/claim.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(jc_next_pending);
PG_FUNCTION_INFO_V1(jc_claim);

/*
 * The job this backend last claimed from across all jobs, and that job as
 * it was when the backend's last transaction committed or was prepared: a
 * claim undone by a rollback gives its job's turn back (see
 * jc_end_turns()).
 */
static int64 last_job_served = 0;
static int64 last_job_kept = 0;

/* When a claim across all jobs in this backend last took back leases */
static TimestampTz last_reap_any_job = 0;

/*
 * When the outermost claim running in this backend began, or 0.  A call
 * made from a trigger while a claim runs (a claim or a purge) takes back
 * only leases that ended before that, so that it never takes back one the
 * claim has granted: they all end after it.
 */
static TimestampTz claim_began = 0;

/*
 * Whether the running claim call has taken back leases: a call does so
 * once, however many jobs it visits, so that it takes back at most
 * REAP_AT_LEAST (or as many as it claims, if more) in all.
 */
static bool call_reaped = false;

/*
 * A claim that takes back expired leases takes back up to this many, or as
 * many as it claims if that is more, so that many leases expiring at once
 * (a fleet of workers gone) come back in a few claims, none of them slow.
 */
#define REAP_AT_LEAST 100

/*
 * A job's position: where in claim order the last chunk this backend
 * claimed from it is, and when it last claimed from the head.
 */
typedef struct ClaimPosition
{
	int64		job_id;			/* hash key */
	bool		valid;			/* false: claim from the head next time */
	uint64		epoch;			/* valid only while positions_epoch is this */
	int32		priority;
	TimestampTz created_at;
	int32		chunk_index;
	TimestampTz rescanned_at;
} ClaimPosition;

/* Once this many jobs have positions, the next lookup forgets them all */
#define MAX_POSITIONS 1024

static HTAB *positions = NULL;

/*
 * Bumped to forget all positions at once.  An abort only bumps it, and never
 * frees the table: it can happen in the middle of a claim (a subtransaction
 * of a trigger's exception block), in a callback that must not fail.
 */
static uint64 positions_epoch = 0;

/*
 * Taking back expired leases: $1 jobchunk.max_retries, $2 how many at most,
 * $3 the counts' stripe, $4 the time of the call (a parameter, not
 * JC_CLOCK, so that it bounds the scan of job_chunks_lease_idx, whose key is
 * lease_expires_at alone: the scan reads only expired leases, however many
 * chunks are in flight), $5 the job, or NULL for any job.  The earliest
 * expired are taken first.  A chunk taken back becomes pending as a new
 * attempt, or failed once it is out of retries or its job is cancelled.
 * Returns the job of each chunk taken back, and whether it can be claimed
 * now.
 *
 * A claim takes back the expired leases of every job, not only of the job
 * it claims from: a job that no worker claims from any more (its workers
 * died, it was paused or cancelled) gets its chunks back all the same, and
 * one scan of the index serves every job.
 *
 * The job of each expired chunk is locked FOR KEY SHARE before its state is
 * read, so that a concurrent jc_cancel_job(), which locks its job FOR
 * UPDATE, either sees the chunks this statement makes pending or makes this
 * statement see the job cancelled.  A job another transaction holds FOR
 * UPDATE (being cancelled or purged) is skipped, not waited for, since the
 * caller may already hold chunks the cancel waits for; a later call takes
 * its chunks back.  Each chunk's job is locked before the chunk, and only
 * the chunks of the jobs locked are, and count towards $2: a chunk locked
 * and then left unchanged would stay locked until the caller's transaction
 * ends, and its own worker's completion or heartbeat would wait for that;
 * and the expired chunks of a job so held must not use up $2 and keep the
 * later ones of other jobs from being taken back.
 */
#define GIVE_UP \
	"(c.retry_count OPERATOR(pg_catalog.>=) $1 OR x.state OPERATOR(pg_catalog.=) 'cancelled')"
static JcQuery take_back_expired = {
	.sql = "WITH expired AS ("
		"SELECT e.id, e.job_id, j.state FROM @extschema@.job_chunks AS e "
		"CROSS JOIN LATERAL (SELECT l.state FROM @extschema@.crawl_jobs AS l "
		"WHERE l.id OPERATOR(pg_catalog.=) e.job_id FOR KEY SHARE SKIP LOCKED) AS j "
		"WHERE e.status OPERATOR(pg_catalog.=) 'processing' "
		"AND e.lease_expires_at OPERATOR(pg_catalog.<) $4 "
		"AND ($5 IS NULL OR e.job_id OPERATOR(pg_catalog.=) $5) "
		"ORDER BY e.lease_expires_at LIMIT $2 FOR UPDATE OF e SKIP LOCKED), "
		"reaped AS ("
		"UPDATE @extschema@.job_chunks AS c SET "
		"status = CASE WHEN " GIVE_UP " THEN 'failed' ELSE 'pending' END, "
		"retry_count = CASE WHEN " GIVE_UP " THEN c.retry_count "
		"ELSE c.retry_count OPERATOR(pg_catalog.+) 1 END, "
		"task_id = CASE WHEN " GIVE_UP " THEN c.task_id END, "
		"error_message = CASE WHEN x.state OPERATOR(pg_catalog.=) 'cancelled' "
		"THEN 'job cancelled' ELSE 'lease expired' END, "
		"lease_expires_at = NULL, updated_at = pg_catalog.now() "
		"FROM expired AS x "
		"WHERE c.id OPERATOR(pg_catalog.=) x.id "
		"RETURNING c.job_id, c.status, x.state), "
		JC_COUNT("reaped", "-1", "0",
				 "CASE WHEN d.status OPERATOR(pg_catalog.=) 'failed' THEN 1 ELSE 0 END", "$3")
		"SELECT job_id, status OPERATOR(pg_catalog.=) 'pending' "
		"AND state OPERATOR(pg_catalog.=) 'active' FROM reaped",
	.nargs = 5,
	.argtypes = {INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID, INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * Whether the job job_id is active: the SQL of a condition.  A scalar
 * sub-select, which the planner runs as a probe of the job's key for each
 * row, where an EXISTS in the walks below became a hash of every job, made
 * again for every claim (54 ms a claim across jobs with 100,000 jobs).
 */
#define JOB_IS_ACTIVE(job_id) \
	"COALESCE((SELECT j.state OPERATOR(pg_catalog.=) 'active' " \
	"FROM @extschema@.crawl_jobs AS j " \
	"WHERE j.id OPERATOR(pg_catalog.=) " job_id "), false) "

/*
 * $1 job_id, $2 task_id, $3 the end of the lease, $4 how many, $5 the
 * counts' stripe, $6 the least lease token (see JC_NEXT_TOKEN), $7 the
 * version of the stripe's row this backend wrote last (see JC_COUNT_AT),
 * and for a claim from a position, $8 to $10 its priority, created_at and
 * chunk_index, and $11 the xmin of the caller's snapshot (rows marked
 * before it are not skipped: see the top of the file; NULL skips every
 * marked row).  The rows come back in claim order.  Within a job
 * chunk_index orders as id does; ordering by it makes
 * job_chunks_job_claim_idx the only index that provides the order
 * (job_chunks_claim_idx would have to step over other jobs' chunks).  From
 * a position, the scan starts at the position's key and stays at its
 * priority (a job's chunks all have the priority given to
 * jc_create_chunks()).
 */
#define CLAIM(from_position) \
	"WITH claimed AS (" \
	"UPDATE @extschema@.job_chunks AS c " \
	"SET status = 'processing', task_id = $2, " \
	JC_NEXT_TOKEN("$6") \
	"lease_expires_at = $3, " \
	"updated_at = pg_catalog.now() " \
	"WHERE c.id OPERATOR(pg_catalog.=) ANY (ARRAY(" \
	"SELECT n.id FROM @extschema@.job_chunks AS n " \
	"WHERE n.job_id OPERATOR(pg_catalog.=) $1 " \
	"AND n.status OPERATOR(pg_catalog.=) 'pending' " \
	from_position \
	"AND " JOB_IS_ACTIVE("$1") \
	"ORDER BY n.priority DESC, n.created_at, n.chunk_index " \
	"LIMIT $4 FOR UPDATE SKIP LOCKED)) " \
	"RETURNING c.*), " \
	JC_COUNT_AT("$1", \
				"processing = k.processing OPERATOR(pg_catalog.+) " \
				"(SELECT pg_catalog.count(*) FROM claimed), ", \
				"$5", "$7", "EXISTS (SELECT FROM claimed)") \
	"SELECT *, " JC_COUNTED_TID " FROM claimed " \
	"ORDER BY priority DESC, created_at, chunk_index"

static JcQuery claim_from_head = {
	.sql = CLAIM(""),
	.nargs = 7,
	.argtypes = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID, INT4OID, INT8OID,
	TIDOID},
	.expect = SPI_OK_SELECT
};

/* Lock the job $1 FOR KEY SHARE, unless a cancel or a purge holds it */
static JcQuery try_lock_job = JC_LOCK_JOB("KEY SHARE SKIP LOCKED");

static JcQuery claim_from_position = {
	.sql = CLAIM("AND n.priority OPERATOR(pg_catalog.=) $8 "
				 "AND (n.created_at, n.chunk_index) OPERATOR(pg_catalog.>=) ($9, $10) "
				 "AND (n.xmax OPERATOR(pg_catalog.=) 0 "
				 "OR pg_catalog.age(n.xmax) OPERATOR(pg_catalog.>) pg_catalog.age($11)) "),
	.nargs = 11,
	.argtypes = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID, INT4OID, INT8OID,
	TIDOID, INT4OID, TIMESTAMPTZOID, INT4OID, XIDOID},
	.expect = SPI_OK_SELECT
};

/*
 * Walking the jobs with pending chunks, by priority and then job id, and
 * whether each is active.  The ORDER BY is the whole claim order, so that
 * job_chunks_claim_idx is the only index that provides it: the (job_id,
 * chunk_index) key would look cheaper for "the first job after $2" while
 * stepping over every chunk of the jobs in between that is not pending.
 */
#define JOB_AFTER(job_id) \
	"SELECT n.job_id, " JOB_IS_ACTIVE("n.job_id") "AS active " \
	"FROM @extschema@.job_chunks AS n " \
	"WHERE n.status OPERATOR(pg_catalog.=) 'pending' " \
	"AND n.priority OPERATOR(pg_catalog.=) $1 " \
	"AND n.job_id OPERATOR(pg_catalog.>) " job_id " " \
	"ORDER BY n.priority DESC, n.job_id, n.created_at, n.id LIMIT 1"

/*
 * The first active job at priority $1 after job $2: the walk steps over
 * the jobs that are not active (paused) in one statement, one index
 * descent each.
 */
static JcQuery next_job_at_priority = {
	.sql = "WITH RECURSIVE walk AS ((" JOB_AFTER("$2") ") "
		"UNION ALL SELECT a.* FROM walk AS w CROSS JOIN LATERAL ("
		JOB_AFTER("w.job_id") ") AS a WHERE NOT w.active) "
		"SELECT $1, w.job_id FROM walk AS w WHERE w.active",
	.nargs = 2,
	.argtypes = {INT4OID, INT8OID},
	.expect = SPI_OK_SELECT
};

/* The first job below a priority; INT_MAX finds the first of all. */
static JcQuery first_job_below_priority = {
	.sql = "SELECT n.priority, n.job_id, " JOB_IS_ACTIVE("n.job_id")
		"FROM @extschema@.job_chunks AS n "
		"WHERE n.status OPERATOR(pg_catalog.=) 'pending' "
		"AND n.priority OPERATOR(pg_catalog.<) $1 "
		"ORDER BY n.priority DESC, n.job_id, n.created_at, n.id LIMIT 1",
	.nargs = 1,
	.argtypes = {INT4OID},
	.expect = SPI_OK_SELECT
};

/*
 * Run a walking query; on a row, set *priority and *job_id from it, and
 * *active unless it is NULL (next_job_at_priority finds active jobs only).
 */
static bool
find_job(JcQuery *query, Datum *values, int32 *priority, int64 *job_id,
		 bool *active)
{
	bool		isnull;

	/* Not read-only: the walk must see the chunks taken back as pending. */
	if (jc_execute(query, values, NULL, false) == 0)
		return false;
	*priority = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	*job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 2, &isnull));
	if (active != NULL)
		*active = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 3, &isnull));
	return true;
}

/*
 * Take back up to n chunks whose leases expired before now (or before the
 * running claim began, see claim_began), of the job *job_id, or of any job
 * when job_id is NULL (every bigint, 0 too, can be a job's id), and wake
 * workers for the jobs that got chunks back; return how many.  Fewer than
 * n: no other expired lease can be taken back now.  Needs an SPI
 * connection.
 */
uint64
jc_take_back_expired(const int64 *job_id, int n, TimestampTz now)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', job_id == NULL ? 'n' : ' '};
	uint64		reaped;

	values[0] = Int32GetDatum(jc_max_retries);
	values[1] = Int32GetDatum(n);
	values[2] = jc_stripe();
	values[3] = TimestampTzGetDatum(claim_began != 0 && claim_began < now ?
									claim_began : now);
	values[4] = job_id == NULL ? (Datum) 0 : Int64GetDatum(*job_id);
	reaped = jc_execute(&take_back_expired, values, nulls, false);

	for (uint64 i = 0; i < reaped; i++)
	{
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
									   SPI_tuptable->tupdesc, 2, &isnull)))
			jc_notify_claimable(DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc,
															1, &isnull)));
	}
	return reaped;
}

/*
 * Take back up to n expired leases of any job, as a claim does, and note
 * that the call has (see call_reaped).
 */
static void
reap_any_job(int n, TimestampTz now)
{
	jc_take_back_expired(NULL, n, now);
	call_reaped = true;
}

/*
 * Whether jobchunk.rescan_interval has passed from since to now; a clock
 * that went back ends the interval, too.
 */
static bool
rescan_due(TimestampTz since, TimestampTz now)
{
	return now < since ||
		TimestampDifferenceExceeds(since, now, jc_rescan_interval);
}

/*
 * Forget every position, when a transaction or subtransaction aborts (its
 * claims are undone) or is prepared (it may be rolled back later); forget
 * too when claims across all jobs last took back leases, as that may be
 * undone as well.  Called from a transaction callback, which must not fail:
 * so it only bumps the epoch and resets the time.
 */
void
jc_forget_positions(void)
{
	positions_epoch++;
	last_reap_any_job = 0;
}

/*
 * Keep the jobs' turns when a transaction commits or is prepared
 * (committed true); when a transaction or subtransaction aborts, go back to
 * the turns as they were at the last commit.  A subtransaction's rollback
 * so also gives back the turns of its parent's claims, which only makes the
 * next claim across jobs start at a job served a little earlier.  Called
 * from a transaction callback: it must not fail.
 */
void
jc_end_turns(bool committed)
{
	if (committed)
		last_job_kept = last_job_served;
	else
		last_job_served = last_job_kept;
}

/*
 * Forget this backend's position in the job, so that its next claim of the
 * job starts from the head.
 */
void
jc_forget_position(int64 job_id)
{
	if (positions != NULL)
		(void) hash_search(positions, &job_id, HASH_REMOVE, NULL);
}

/*
 * A table of this backend keyed by job id (an int64 first in each entry of
 * entrysize bytes), ready for one more entry: table, or a new one when
 * table is NULL or holds max entries already (those are forgotten, so that
 * a backend serving ever new jobs does not grow without end).
 */
HTAB *
jc_job_table(HTAB *table, const char *name, Size entrysize, long max)
{
	HASHCTL		ctl;

	if (table != NULL && hash_get_num_entries(table) < max)
		return table;
	if (table != NULL)
		hash_destroy(table);
	ctl.keysize = sizeof(int64);
	ctl.entrysize = entrysize;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS);
}

/*
 * The position of this backend in the job, invalid when new or forgotten.
 * The pointer is good until the next call of a jobchunk function, which a
 * statement can make (from a trigger): copy what is needed across
 * statements.
 */
static ClaimPosition *
position_of(int64 job_id)
{
	ClaimPosition *position;
	bool		found;

	positions = jc_job_table(positions, "jobchunk claim positions",
							 sizeof(ClaimPosition), MAX_POSITIONS);
	position = hash_search(positions, &job_id, HASH_ENTER, &found);
	if (!found || position->epoch != positions_epoch)
	{
		MemSet(position, 0, sizeof(ClaimPosition));
		position->job_id = job_id;
		position->epoch = positions_epoch;
	}
	return position;
}

/*
 * Store position, read when positions_epoch was epoch, as this backend's
 * position in its job; unless it was forgotten since by a jobchunk function
 * that a statement of the claim ran from a trigger: all positions when a
 * subtransaction aborted (a trigger's exception block), the job's when it
 * retried or released a chunk of the job, or all when it looked up a
 * position with MAX_POSITIONS jobs known.
 */
static void
remember_position(const ClaimPosition *position, uint64 epoch)
{
	ClaimPosition *stored;

	if (positions == NULL || positions_epoch != epoch)
		return;
	stored = hash_search(positions, &position->job_id, HASH_FIND, NULL);
	if (stored != NULL)
		*stored = *position;
}

/* The number of the claimed rows' column name, which they always have */
static int
column_of(TupleDesc tupdesc, const char *name)
{
	int			column = SPI_fnumber(tupdesc, name);

	if (column <= 0)
		elog(ERROR, "claimed rows have no column \"%s\"", name);
	return column;
}

/*
 * Run a claim statement and add the chunks it claimed to the result; when
 * there are any, move the position to the last.  Return how many.
 */
static uint64
run_claim(FunctionCallInfo fcinfo, JcQuery *query, Datum *values,
		  const char *nulls, ClaimPosition *position)
{
	uint64		claimed = jc_execute(query, values, nulls, false);

	if (claimed > 0)
	{
		HeapTuple	last = SPI_tuptable->vals[claimed - 1];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;

		position->priority =
			DatumGetInt32(SPI_getbinval(last, tupdesc,
										column_of(tupdesc, "priority"), &isnull));
		position->created_at =
			DatumGetTimestampTz(SPI_getbinval(last, tupdesc,
											  column_of(tupdesc, "created_at"),
											  &isnull));
		position->chunk_index =
			DatumGetInt32(SPI_getbinval(last, tupdesc,
										column_of(tupdesc, "chunk_index"), &isnull));
		position->valid = true;
		/* all but the last column, stripe_tid */
		jc_return_tuptable(fcinfo, 1);
		jc_count_changes(DatumGetInt64(values[0]), (int64) claimed, 0, 0);
	}
	return claimed;
}

/*
 * Claim up to n chunks of one job into the result; return how many.  From
 * the backend's position in the job while it has one and
 * jobchunk.rescan_interval has not passed; otherwise, or for the chunks
 * still missing, from the head, after taking back expired leases of any job
 * unless the call has already: those that ended before now, the time of the
 * call (see claim()).
 *
 * A claim takes nothing from the head of a job that another transaction is
 * cancelling, and forgets its position in the job: it would try, and fail,
 * to lock every chunk the cancel has locked so far, and one from the
 * position would read each of those after the position (skipping them by
 * their mark).  (A cancel that begins right after the claim looked is
 * stepped over by that one claim.)  A claim from a position does not look
 * for a cancel, to cost nothing more: it may take chunks the cancel has not
 * reached yet.
 *
 * In a transaction that has not changed this backend's stripe of the job
 * before, a claim never waits for the job's row lock, which a cancel or a
 * purge may hold while it waits for chunks this call has claimed (see
 * counts.c).  A claim from the head after one from the position changes
 * the stripe row the first one changed, which checks the row's foreign key
 * again and so locks the job FOR KEY SHARE: the claim takes that lock
 * first, without waiting, and if another transaction holds the job FOR
 * UPDATE (a cancel or a purge), takes nothing more from it.  (A later call
 * in the same transaction changes the row again, and may wait: see the
 * README, *Several changes in one transaction*.)
 */
static uint64
claim_job(FunctionCallInfo fcinfo, int64 job_id, Datum task_id, char task_null,
		  Datum lease, int n, TimestampTz now)
{
	ClaimPosition position = *position_of(job_id);
	uint64		epoch = positions_epoch;
	Datum		values[11];
	char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	uint64		claimed = 0;

	values[0] = Int64GetDatum(job_id);
	values[1] = task_id;
	nulls[1] = task_null;
	values[2] = lease;
	values[4] = jc_stripe();
	values[5] = Int64GetDatum(now);

	if (position.valid && !rescan_due(position.rescanned_at, now))
	{
		values[3] = Int32GetDatum(n);
		values[6] = jc_stripe_tid(&job_id, &nulls[6]);
		values[7] = Int32GetDatum(position.priority);
		values[8] = TimestampTzGetDatum(position.created_at);
		values[9] = Int32GetDatum(position.chunk_index);

		/*
		 * The caller's snapshot: the statement's own under REPEATABLE READ;
		 * under READ COMMITTED an earlier one, whose xmin is not later.
		 */
		if (ActiveSnapshotSet())
			values[10] = TransactionIdGetDatum(GetActiveSnapshot()->xmin);
		else
			nulls[10] = 'n';
		claimed = run_claim(fcinfo, &claim_from_position, values, nulls, &position);
	}

	if (claimed < (uint64) n)
	{
		position.valid = false;
		if (claimed == 0 ? !jc_cancel_running(job_id) :
			jc_execute(&try_lock_job, values, NULL, false) == 1)
		{
			if (!call_reaped)
				reap_any_job(Max(n - (int) claimed, REAP_AT_LEAST), now);
			values[3] = Int32GetDatum(n - (int) claimed);
			values[6] = jc_stripe_tid(&job_id, &nulls[6]);
			position.rescanned_at = now;
			claimed += run_claim(fcinfo, &claim_from_head, values, nulls,
								 &position);
		}
	}
	remember_position(&position, epoch);
	return claimed;
}

/*
 * Claim up to n - *claimed more chunks of the job into the result; return
 * true when that makes n.
 */
static bool
take_from_job(FunctionCallInfo fcinfo, int64 job_id, Datum task_id,
			  char task_null, Datum lease, int n, TimestampTz now,
			  uint64 *claimed)
{
	uint64		taken;

	CHECK_FOR_INTERRUPTS();
	taken = claim_job(fcinfo, job_id, task_id, task_null, lease,
					  n - (int) *claimed, now);
	if (taken > 0)
		last_job_served = job_id;
	*claimed += taken;
	return *claimed == (uint64) n;
}

/*
 * Claim up to n chunks across all jobs into the result.  At each priority,
 * from the highest down, the active jobs are served in id order starting
 * after last_job_served and wrapping around to it.
 */
static void
claim_any_job(FunctionCallInfo fcinfo, Datum task_id, char task_null,
			  Datum lease, int n, TimestampTz now)
{
	const int64 cursor = last_job_served;
	int32		priority;
	int64		first;
	bool		first_active;
	uint64		claimed = 0;
	Datum		values[2];

	values[0] = Int32GetDatum(INT_MAX);
	if (!find_job(&first_job_below_priority, values, &priority, &first,
				  &first_active))
		return;

	for (;;)
	{
		int32		same_priority;
		int64		job_id = cursor;
		bool		active;

		values[0] = Int32GetDatum(priority);

		/* The jobs after the last one served ... */
		for (;;)
		{
			values[1] = Int64GetDatum(job_id);
			if (!find_job(&next_job_at_priority, values, &same_priority, &job_id,
						  NULL))
				break;
			if (take_from_job(fcinfo, job_id, task_id, task_null, lease, n,
							  now, &claimed))
				return;
		}

		/* ... then from the first one up to the last one served. */
		for (job_id = first, active = first_active; job_id <= cursor;
			 active = true)
		{
			if (active && take_from_job(fcinfo, job_id, task_id, task_null,
										lease, n, now, &claimed))
				return;
			values[1] = Int64GetDatum(job_id);
			if (!find_job(&next_job_at_priority, values, &same_priority, &job_id,
						  NULL))
				break;
		}

		if (!find_job(&first_job_below_priority, values, &priority, &first,
					  &first_active))
			return;
	}
}

/*
 * The common body of jc_next_pending() and jc_claim(): claim up to n chunks
 * of the job in argument 0 (all jobs when NULL), with the task id and lease
 * in arguments task_arg and lease_arg.
 */
static Datum
claim(FunctionCallInfo fcinfo, int n, int task_arg, int lease_arg)
{
	bool		any_job = PG_ARGISNULL(0);
	int64		job_id = any_job ? 0 : PG_GETARG_INT64(0);
	char		task_null;
	Datum		task_id = jc_task_id_arg(fcinfo, task_arg, &task_null);

	/*
	 * The time of the call, from which its leases run: every take-back in
	 * the call takes back leases that ended before it (or before the claim
	 * this one was called from began), so a call never takes back a lease
	 * it has granted (they all end after it), however long it runs.
	 */
	TimestampTz now = GetCurrentTimestamp();
	Datum		lease = jc_lease_end_arg(fcinfo, lease_arg, now);
	TimestampTz outer = claim_began;
	bool		outer_reaped = call_reaped;

	jc_result_store(fcinfo);
	jc_claim_begins();
	jc_connect(fcinfo);
	if (outer == 0)
		claim_began = now;
	call_reaped = false;
	PG_TRY();
	{
		if (any_job)
		{
			if (rescan_due(last_reap_any_job, now))
			{
				reap_any_job(Max(n, REAP_AT_LEAST), now);
				last_reap_any_job = now;
			}
			claim_any_job(fcinfo, task_id, task_null, lease, n, now);
		}
		else if (claim_job(fcinfo, job_id, task_id, task_null, lease, n, now) == 0)
		{
			/* Nothing to claim: a job id that names no job is the caller's mistake. */
			jc_check_job_exists(job_id, false);
		}
	}
	PG_FINALLY();
	{
		claim_began = outer;
		call_reaped = outer_reaped;
	}
	PG_END_TRY();
	jc_finish();
	jc_claim_ends();
	return (Datum) 0;
}

/*
 * jc_next_pending(job_id bigint DEFAULT NULL, task_id text DEFAULT NULL,
 *				   lease interval DEFAULT NULL) RETURNS SETOF job_chunks
 *
 * Claims the next chunk of the job, or of any job when job_id is NULL, and
 * returns it as processing; returns no row when nothing can be claimed.
 */
Datum
jc_next_pending(PG_FUNCTION_ARGS)
{
	jc_check_nargs(fcinfo, 3);
	return claim(fcinfo, 1, 1, 2);
}

/*
 * jc_claim(job_id bigint, n int, task_id text DEFAULT NULL,
 *			lease interval DEFAULT NULL) RETURNS SETOF job_chunks
 *
 * Claims up to n chunks in one call, as jc_next_pending() claims one.
 */
Datum
jc_claim(PG_FUNCTION_ARGS)
{
	int32		n;

	jc_check_not_null(fcinfo, 1);
	n = PG_GETARG_INT32(1);
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid number of chunks to claim: %d", n),
				 errdetail("A claim takes at least one chunk.")));
	return claim(fcinfo, n, 2, 3);
}
