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
 * While a snapshot is held open (a long transaction, a pg_dump), no version
 * of a stripe row can be removed, and a lookup of the row by its key steps
 * over every version made since: each count grows slower.  So does each in
 * a transaction that changes many chunks one call at a time (an operator's
 * retry of every failed chunk of a job), over the versions it wrote.  So
 * statements that count for one job (claims, and the changes of one chunk
 * by id: jc_mark_processing(), completions, failures, retries) add to the
 * version of a stripe row that this backend wrote last (a claim: of its
 * job's; a change by id: of any job's, see jc_stripe_tid()), by its ctid
 * (JC_COUNT_AT), when that is the job's stripe row and still the row's
 * current version; only when it is not (never written by this backend,
 * written since by another backend or by a statement that counts by key,
 * rolled back, or moved by VACUUM FULL) does a second statement of the
 * call look the row up by its key (jc_count_changes()): in the same
 * transaction, so that any other snapshot sees the counts agree with the
 * chunks.  Updating by ctid also saves the key's lookup in the common
 * case.  The statements that change many chunks at once (batches,
 * releases, cancels, take-backs) count by key, once a statement.
 *
 * src/counts.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"
#include "storage/itemptr.h"
#include "storage/proc.h"

/* How many stripes this backend has moved on by, modulo JC_STRIPES */
static int	stripes_moved = 0;

/* The version of its stripe row of a job that this backend wrote last */
typedef struct StripeVersion
{
	int64		job_id;			/* hash key */
	ItemPointerData tid;
} StripeVersion;

/* Per job, and the last written of all; forgotten past this many jobs */
#define MAX_VERSIONS 1024
static HTAB *versions = NULL;
static StripeVersion last_version;
static bool last_version_valid = false;

/*
 * Called when a transaction is prepared.
 */
void
jc_move_stripe_on(void)
{
	stripes_moved = (stripes_moved + 1) % JC_STRIPES;
	if (versions != NULL)
		hash_destroy(versions);
	versions = NULL;
	last_version_valid = false;
}

/*
 * The version of its stripe row of job job_id that this backend wrote last,
 * as the parameter of a JC_COUNT_AT statement (a copy, in the current
 * memory context: a call made from a trigger while the statement runs may
 * change what is remembered); of any job when job_id is NULL (a statement
 * that changes a chunk named by id: its job is likely the one counted
 * last).  Sets *null to 'n' when there is none.
 */
Datum
jc_stripe_tid(const int64 *job_id, char *null)
{
	StripeVersion *version = NULL;
	ItemPointer tid;

	if (job_id == NULL)
		version = last_version_valid ? &last_version : NULL;
	else if (versions != NULL)
		version = hash_search(versions, job_id, HASH_FIND, NULL);
	*null = version != NULL ? ' ' : 'n';
	if (version == NULL)
		return (Datum) 0;
	tid = palloc(sizeof(ItemPointerData));
	ItemPointerCopy(&version->tid, tid);
	return PointerGetDatum(tid);
}

/* Remember tid as the version of job job_id's stripe row last written */
static void
remember_version(int64 job_id, ItemPointer tid)
{
	StripeVersion *version;

	versions = jc_job_table(versions, "jobchunk stripe versions",
							sizeof(StripeVersion), MAX_VERSIONS);
	version = hash_search(versions, &job_id, HASH_ENTER, NULL);
	ItemPointerCopy(tid, &version->tid);
	last_version = *version;
	last_version_valid = true;
}

/* Add changes $3, $4 and $5 to stripe $2 of job $1, found by its key */
static JcQuery count_by_key = {
	.sql = "INSERT INTO @extschema@.job_counts AS k "
		"(job_id, stripe, processing, completed, failed, updated_at) "
		"VALUES ($1, $2, $3, $4, $5, " JC_CLOCK ") "
		JC_ADD_TO_STRIPE "RETURNING k.ctid",
	.nargs = 5,
	.argtypes = {INT8OID, INT4OID, INT8OID, INT8OID, INT8OID},
	.expect = SPI_OK_INSERT_RETURNING
};

/*
 * After a JC_COUNT_AT statement that changed chunks of job job_id, whose
 * rows carry stripe_tid: remember the stripe row version that it wrote;
 * or, if it wrote none, add its changes of the job's counts to the row by
 * its key, in a statement of its own, and remember the version that wrote.
 * Replaces the statement's result.
 */
void
jc_count_changes(int64 job_id, int64 processing, int64 completed,
				 int64 failed)
{
	int			column = SPI_fnumber(SPI_tuptable->tupdesc, "stripe_tid");
	Datum		values[5];
	bool		isnull;
	Datum		tid;

	if (column <= 0)
		elog(ERROR, "column stripe_tid is missing");
	tid = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column,
						&isnull);
	if (isnull)
	{
		values[0] = Int64GetDatum(job_id);
		values[1] = jc_stripe();
		values[2] = Int64GetDatum(processing);
		values[3] = Int64GetDatum(completed);
		values[4] = Int64GetDatum(failed);
		if (jc_execute(&count_by_key, values, NULL, false) != 1)
			return;
		tid = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							&isnull);
	}
	remember_version(job_id, (ItemPointer) DatumGetPointer(tid));
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
