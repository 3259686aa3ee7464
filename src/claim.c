/*-------------------------------------------------------------------------
 *
 * claim.c
 *		jc_next_pending(): claiming the next chunk atomically.
 *
 * One statement picks the first pending chunk in claim order (higher
 * priority first, then older, then lower id), locks it with FOR UPDATE SKIP
 * LOCKED and marks it processing.  Concurrent callers therefore never get the
 * same chunk and never wait for each other: a chunk another transaction is
 * claiming is skipped, and a chunk claimed meanwhile fails the status test
 * when its new version is rechecked.
 *
 * src/claim.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"

PG_FUNCTION_INFO_V1(jc_next_pending);

#define CLAIM(job_filter) \
	"UPDATE @extschema@.job_chunks AS c " \
	"SET status = 'processing', task_id = $2, updated_at = pg_catalog.now() " \
	"WHERE c.id OPERATOR(pg_catalog.=) (" \
	"SELECT n.id FROM @extschema@.job_chunks AS n " \
	"WHERE " job_filter "n.status OPERATOR(pg_catalog.=) 'pending' " \
	"ORDER BY n.priority DESC, n.created_at, n.id " \
	"LIMIT 1 FOR UPDATE SKIP LOCKED) " \
	"RETURNING c.*"

/* Two statements, so that each is planned for its own partial index. */
static JcQuery claim_from_job = {
	.sql = CLAIM("n.job_id OPERATOR(pg_catalog.=) $1 AND "),
	.nargs = 2,
	.argtypes = {INT8OID, TEXTOID},
	.expect = SPI_OK_UPDATE_RETURNING
};

static JcQuery claim_from_any_job = {
	.sql = CLAIM(""),
	.nargs = 2,
	.argtypes = {INT8OID, TEXTOID},
	.expect = SPI_OK_UPDATE_RETURNING
};

/*
 * jc_next_pending(job_id bigint DEFAULT NULL, task_id text DEFAULT NULL)
 *		RETURNS SETOF job_chunks
 *
 * Claims the next pending chunk of the job, or of any job when job_id is
 * NULL, and returns it as processing; returns no row when none is pending.
 */
Datum
jc_next_pending(PG_FUNCTION_ARGS)
{
	bool		any_job = PG_ARGISNULL(0);
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	if (any_job)
		nulls[0] = 'n';
	else
		values[0] = PG_GETARG_DATUM(0);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
	{
		jc_check_task_id(PG_GETARG_TEXT_PP(1));
		values[1] = PG_GETARG_DATUM(1);
	}

	jc_connect(fcinfo);
	jc_execute_into_result(fcinfo,
						   any_job ? &claim_from_any_job : &claim_from_job,
						   values, nulls, false);

	/* Nothing to claim: a job id that names no job is the caller's mistake. */
	if (SPI_processed == 0 && !any_job)
		jc_check_job_exists(PG_GETARG_INT64(0));

	jc_finish();
	return (Datum) 0;
}
