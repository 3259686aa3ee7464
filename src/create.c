/*-------------------------------------------------------------------------
 *
 * create.c
 *		jc_create_chunks(): splitting a job into pending chunks.
 *
 * src/create.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include <limits.h>

#include "catalog/pg_type.h"

PG_FUNCTION_INFO_V1(jc_create_chunks);

/*
 * Lock the job row, so that concurrent creations for one job queue up here,
 * prove the job exists and learn its state.
 */
static JcQuery touch_job = {
	.sql = "UPDATE @extschema@.crawl_jobs AS j SET updated_at = " JC_CLOCK " "
		"WHERE j.id OPERATOR(pg_catalog.=) $1 RETURNING j.state",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_UPDATE_RETURNING
};

/*
 * Whether the job has chunks.  Ordered by chunk_index so that the (job_id,
 * chunk_index) key is the plan: when a few large jobs fill the table, the
 * generic plan would otherwise expect one in so many rows to match and scan
 * the table, all of it for a new job.
 */
static JcQuery job_has_chunks = {
	.sql = "SELECT FROM @extschema@.job_chunks AS c "
		"WHERE c.job_id OPERATOR(pg_catalog.=) $1 ORDER BY c.chunk_index LIMIT 1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * $1 job_id, $2 max_images, $3 priority, $4 chunk size, $5 last chunk_index.
 * Chunk i covers images i * $4 .. i * $4 + $4 - 1, the last one ending at
 * $2 - 1; the sums are arranged so that none can overflow.
 */
static JcQuery insert_chunks = {
	.sql = "INSERT INTO @extschema@.job_chunks AS c "
		"(job_id, chunk_index, priority, image_range) "
		"SELECT $1, s.i, $3, pg_catalog.jsonb_build_object("
		"'start', s.first, "
		"'end', s.first OPERATOR(pg_catalog.+) "
		"LEAST($4 OPERATOR(pg_catalog.-) 1, "
		"$2 OPERATOR(pg_catalog.-) 1 OPERATOR(pg_catalog.-) s.first)) "
		"FROM (SELECT g.i, g.i::bigint OPERATOR(pg_catalog.*) $4 AS first "
		"FROM pg_catalog.generate_series(0, $5) AS g(i)) AS s "
		"RETURNING c.*",
	.nargs = 5,
	.argtypes = {INT8OID, INT8OID, INT4OID, INT8OID, INT4OID},
	.expect = SPI_OK_INSERT_RETURNING
};

/*
 * The job's counts: all its stripe rows (see counts.c), the $2 chunks
 * counted in stripe $3, this backend's.  (A job's chunks are made once, so
 * its stripes are new; ON CONFLICT only guards against rows left by hand.)
 */
static JcQuery insert_counts = {
	.sql = "INSERT INTO @extschema@.job_counts AS k (job_id, stripe, total, updated_at) "
		"SELECT $1, s.i, CASE WHEN s.i OPERATOR(pg_catalog.=) $3 THEN $2 ELSE 0 END, "
		JC_CLOCK " "
		"FROM pg_catalog.generate_series(0, "
		CppAsString2(JC_STRIPES) " OPERATOR(pg_catalog.-) 1) AS s(i) "
		"ON CONFLICT (job_id, stripe) DO UPDATE SET "
		"total = k.total OPERATOR(pg_catalog.+) excluded.total, "
		"updated_at = excluded.updated_at",
	.nargs = 3,
	.argtypes = {INT8OID, INT4OID, INT4OID},
	.expect = SPI_OK_INSERT
};

/*
 * jc_create_chunks(job_id bigint, max_images bigint, priority int DEFAULT 5)
 *		RETURNS SETOF job_chunks
 *
 * Splits images 0 .. max_images - 1 of the job into chunks of
 * jobchunk.chunk_size images, all pending, and returns them in chunk order.
 * A job's chunks are made once, and not for a cancelled job.
 */
Datum
jc_create_chunks(PG_FUNCTION_ARGS)
{
	int64		job_id;
	int64		max_images;
	int32		priority;
	int64		chunk_size = jc_chunk_size;
	int64		nchunks;
	char	   *state;
	Datum		values[5];

	jc_check_not_null(fcinfo, 0);
	jc_check_not_null(fcinfo, 1);
	jc_check_not_null(fcinfo, 2);
	job_id = PG_GETARG_INT64(0);
	max_images = PG_GETARG_INT64(1);
	priority = PG_GETARG_INT32(2);

	if (max_images <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid max_images: %lld", (long long) max_images),
				 errdetail("A job needs at least one image.")));
	if (priority < 0 || priority > 10)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid priority: %d", priority),
				 errdetail("Priority must be between 0 and 10.")));

	nchunks = max_images / chunk_size + (max_images % chunk_size != 0);
	if (nchunks > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a job of %lld images would have too many chunks",
						(long long) max_images),
				 errdetail("With jobchunk.chunk_size %lld that is %lld chunks, and at most %d are possible.",
						   (long long) chunk_size, (long long) nchunks, INT_MAX),
				 errhint("Raise jobchunk.chunk_size.")));

	jc_connect(fcinfo);

	values[0] = Int64GetDatum(job_id);
	if (jc_execute(&touch_job, values, NULL, false) == 0)
	{
		jc_check_job_exists(job_id, false);
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("could not create the chunks of job %lld", (long long) job_id),
				 errdetail("A trigger on crawl_jobs skipped the update that locks the job.")));
	}
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(state, "cancelled") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("chunks cannot be created for job %lld", (long long) job_id),
				 errdetail("The job is cancelled, which is final.")));

	if (jc_execute(&job_has_chunks, values, NULL, false) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("job %lld already has chunks", (long long) job_id),
				 errdetail("A job's chunks are created once."),
				 errhint("Read them with jc_chunks(), or delete the job and create a new one.")));

	values[1] = Int64GetDatum(max_images);
	values[2] = Int32GetDatum(priority);
	values[3] = Int64GetDatum(chunk_size);
	values[4] = Int32GetDatum((int32) (nchunks - 1));
	if (jc_execute_into_result(fcinfo, &insert_chunks, values, NULL, false) !=
		(uint64) nchunks)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("could not create the chunks of job %lld", (long long) job_id),
				 errdetail("A trigger on job_chunks skipped some of the new rows; the job's counts would not match them.")));

	values[1] = Int32GetDatum((int32) nchunks);
	values[2] = jc_stripe();
	if (jc_execute(&insert_counts, values, NULL, false) != JC_STRIPES)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("could not create the chunks of job %lld", (long long) job_id),
				 errdetail("A trigger on job_counts skipped some of the job's counts.")));
	if (strcmp(state, "active") == 0)
		jc_notify_claimable(job_id);

	jc_finish();
	return (Datum) 0;
}
