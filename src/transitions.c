/*-------------------------------------------------------------------------
 *
 * transitions.c
 *		Status changes of one chunk, named by its id.
 *
 *		pending    -> processing	jc_mark_processing()
 *		processing -> completed		jc_mark_completed()
 *		processing -> failed		jc_mark_failed()
 *		failed     -> pending		jc_retry(), at most jobchunk.max_retries times
 *
 * Each change is one UPDATE that matches only a chunk in the status it starts
 * from.  When it matches nothing, the chunk is read again to tell the caller
 * why: it does not exist, or its status (or retry count) forbids the change.
 *
 * src/transitions.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(jc_mark_processing);
PG_FUNCTION_INFO_V1(jc_mark_completed);
PG_FUNCTION_INFO_V1(jc_mark_failed);
PG_FUNCTION_INFO_V1(jc_retry);

static JcQuery mark_processing = {
	.sql = "UPDATE @extschema@.job_chunks AS c "
		"SET status = 'processing', task_id = $2, updated_at = pg_catalog.now() "
		"WHERE c.id OPERATOR(pg_catalog.=) $1 "
		"AND c.status OPERATOR(pg_catalog.=) 'pending' "
		"RETURNING c",
	.nargs = 2,
	.argtypes = {INT8OID, TEXTOID},
	.expect = SPI_OK_UPDATE_RETURNING
};

static JcQuery mark_completed = {
	.sql = "UPDATE @extschema@.job_chunks AS c "
		"SET status = 'completed', error_message = NULL, updated_at = pg_catalog.now() "
		"WHERE c.id OPERATOR(pg_catalog.=) $1 "
		"AND c.status OPERATOR(pg_catalog.=) 'processing' "
		"RETURNING c",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_UPDATE_RETURNING
};

static JcQuery mark_failed = {
	.sql = "UPDATE @extschema@.job_chunks AS c "
		"SET status = 'failed', error_message = $2, updated_at = pg_catalog.now() "
		"WHERE c.id OPERATOR(pg_catalog.=) $1 "
		"AND c.status OPERATOR(pg_catalog.=) 'processing' "
		"RETURNING c",
	.nargs = 2,
	.argtypes = {INT8OID, TEXTOID},
	.expect = SPI_OK_UPDATE_RETURNING
};

static JcQuery retry = {
	.sql = "UPDATE @extschema@.job_chunks AS c "
		"SET status = 'pending', retry_count = c.retry_count OPERATOR(pg_catalog.+) 1, "
		"task_id = NULL, updated_at = pg_catalog.now() "
		"WHERE c.id OPERATOR(pg_catalog.=) $1 "
		"AND c.status OPERATOR(pg_catalog.=) 'failed' "
		"AND c.retry_count OPERATOR(pg_catalog.<) $2 "
		"RETURNING c",
	.nargs = 2,
	.argtypes = {INT8OID, INT4OID},
	.expect = SPI_OK_UPDATE_RETURNING
};

static JcQuery chunk_state = {
	.sql = "SELECT c.status, c.retry_count FROM @extschema@.job_chunks AS c "
		"WHERE c.id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * Return the changed chunk, or explain why the change matched no row.
 * done is the past participle of the change ("completed"), from the status
 * it must start from.
 */
static Datum
changed_chunk(uint64 processed, int64 chunk_id, const char *done,
			  const char *from)
{
	Datum		values[1];
	char	   *status;
	int32		retries;
	bool		isnull;
	Datum		result;

	if (processed == 1)
	{
		result = jc_result_value(1, &isnull);
		jc_finish();
		return result;
	}

	values[0] = Int64GetDatum(chunk_id);
	if (jc_execute(&chunk_state, values, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("chunk " INT64_FORMAT " does not exist", chunk_id)));

	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(status, from) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("chunk " INT64_FORMAT " cannot be %s", chunk_id, done),
				 errdetail("The chunk is %s; only a %s chunk can be %s.",
						   status, from, done)));

	/* Only the retry limit is left to explain. */
	retries = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 2, &isnull));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("chunk " INT64_FORMAT " cannot be %s", chunk_id, done),
			 errdetail_plural("The chunk has been retried %d time, and jobchunk.max_retries is %d.",
							  "The chunk has been retried %d times, and jobchunk.max_retries is %d.",
							  retries, retries, jc_max_retries),
			 errhint("Raise jobchunk.max_retries to retry it again.")));
	pg_unreachable();
}

/*
 * jc_mark_processing(chunk_id bigint, task_id text DEFAULT NULL)
 *		RETURNS job_chunks
 */
Datum
jc_mark_processing(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	jc_check_not_null(fcinfo, 0);
	chunk_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(chunk_id);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
	{
		jc_check_task_id(PG_GETARG_TEXT_PP(1));
		values[1] = PG_GETARG_DATUM(1);
	}

	jc_connect(fcinfo);
	PG_RETURN_DATUM(changed_chunk(jc_execute(&mark_processing, values, nulls, false),
								  chunk_id, "marked processing", JC_PENDING));
}

/*
 * jc_mark_completed(chunk_id bigint) RETURNS job_chunks
 */
Datum
jc_mark_completed(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	Datum		values[1];

	jc_check_not_null(fcinfo, 0);
	chunk_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(chunk_id);

	jc_connect(fcinfo);
	PG_RETURN_DATUM(changed_chunk(jc_execute(&mark_completed, values, NULL, false),
								  chunk_id, "marked completed", JC_PROCESSING));
}

/*
 * jc_mark_failed(chunk_id bigint, error_message text) RETURNS job_chunks
 */
Datum
jc_mark_failed(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	Datum		values[2];

	jc_check_not_null(fcinfo, 0);
	jc_check_not_null(fcinfo, 1);
	chunk_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(chunk_id);
	values[1] = PG_GETARG_DATUM(1);

	jc_connect(fcinfo);
	PG_RETURN_DATUM(changed_chunk(jc_execute(&mark_failed, values, NULL, false),
								  chunk_id, "marked failed", JC_PROCESSING));
}

/*
 * jc_retry(chunk_id bigint) RETURNS job_chunks
 */
Datum
jc_retry(PG_FUNCTION_ARGS)
{
	int64		chunk_id;
	Datum		values[2];

	jc_check_not_null(fcinfo, 0);
	chunk_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(chunk_id);
	values[1] = Int32GetDatum(jc_max_retries);

	jc_connect(fcinfo);
	PG_RETURN_DATUM(changed_chunk(jc_execute(&retry, values, NULL, false),
								  chunk_id, "retried", JC_FAILED));
}
