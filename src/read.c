/*-------------------------------------------------------------------------
 *
 * read.c
 *		Reading jobs and chunks: jc_job(), jc_jobs(), jc_chunks() and
 *		jc_chunk().
 *
 * src/read.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(jc_job);
PG_FUNCTION_INFO_V1(jc_jobs);
PG_FUNCTION_INFO_V1(jc_chunks);
PG_FUNCTION_INFO_V1(jc_chunk);

/* Jobs, with the columns of crawl_jobs that jc_job() and jc_jobs() return */
#define SELECT_JOBS "SELECT j.id, j.name, j.state, j.created_at, j.updated_at " \
	"FROM @extschema@.crawl_jobs AS j "

static JcQuery job_by_id = {
	.sql = SELECT_JOBS "WHERE j.id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

static JcQuery all_jobs = {
	.sql = SELECT_JOBS "ORDER BY j.id",
	.nargs = 0,
	.expect = SPI_OK_SELECT
};

static JcQuery chunks_of_job = {
	.sql = "SELECT c.* FROM @extschema@.job_chunks AS c "
		"WHERE c.job_id OPERATOR(pg_catalog.=) $1 "
		"ORDER BY c.chunk_index",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * One statement for each status, so that each is planned for the partial
 * index on chunks in that status, if any: the pending and failed ones are
 * keyed by job; those of processing chunks are not (they are keyed by lease
 * end and task id), so listing a job's processing chunks reads every chunk
 * in flight, as many as there are workers.
 */
#define CHUNKS_IN_STATUS(status) { \
	.sql = "SELECT c.* FROM @extschema@.job_chunks AS c " \
		"WHERE c.job_id OPERATOR(pg_catalog.=) $1 " \
		"AND c.status OPERATOR(pg_catalog.=) '" status "' " \
		"ORDER BY c.chunk_index", \
	.nargs = 1, \
	.argtypes = {INT8OID}, \
	.expect = SPI_OK_SELECT \
}

static const char *const statuses[] = {
	JC_PENDING, JC_PROCESSING, JC_COMPLETED, JC_FAILED
};

static JcQuery chunks_in_status[] = {
	CHUNKS_IN_STATUS(JC_PENDING),
	CHUNKS_IN_STATUS(JC_PROCESSING),
	CHUNKS_IN_STATUS(JC_COMPLETED),
	CHUNKS_IN_STATUS(JC_FAILED)
};

static JcQuery chunk_by_id = {
	.sql = "SELECT c.* FROM @extschema@.job_chunks AS c "
		"WHERE c.id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * The statement that reads the chunks in the named status.
 */
static JcQuery *
chunks_in(const char *status)
{
	for (size_t i = 0; i < lengthof(statuses); i++)
		if (strcmp(status, statuses[i]) == 0)
			return &chunks_in_status[i];

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid chunk status: \"%s\"", jc_text_excerpt(status)),
			 errhint("The statuses are " JC_PENDING ", " JC_PROCESSING
					 ", " JC_COMPLETED " and " JC_FAILED ".")));
}

/*
 * The row query reads by the id in the function's first argument, or none:
 * the result of jc_job() and jc_chunk().
 */
static Datum
return_row_by_id(FunctionCallInfo fcinfo, JcQuery *query)
{
	Datum		values[1];

	jc_check_not_null(fcinfo, 0);
	values[0] = PG_GETARG_DATUM(0);

	jc_connect(fcinfo);
	jc_execute_into_result(fcinfo, query, values, NULL, true);
	jc_finish();
	return (Datum) 0;
}

/*
 * jc_job(job_id bigint) RETURNS TABLE (id bigint, name text, state text,
 *		created_at timestamptz, updated_at timestamptz)
 *
 * The job, or no row when there is none: jobchunk's columns of its row, not
 * those an application added to crawl_jobs, which its privileges guard.
 */
Datum
jc_job(PG_FUNCTION_ARGS)
{
	return return_row_by_id(fcinfo, &job_by_id);
}

/*
 * jc_jobs() RETURNS TABLE (id bigint, name text, state text,
 *		created_at timestamptz, updated_at timestamptz)
 *
 * Every job, in id order, with the columns jc_job() returns.
 */
Datum
jc_jobs(PG_FUNCTION_ARGS)
{
	jc_connect(fcinfo);
	jc_execute_into_result(fcinfo, &all_jobs, NULL, NULL, true);
	jc_finish();
	return (Datum) 0;
}

/*
 * jc_chunks(job_id bigint, status text DEFAULT NULL) RETURNS SETOF job_chunks
 *
 * The job's chunks in chunk_index order, only those in status unless it is
 * NULL.
 */
Datum
jc_chunks(PG_FUNCTION_ARGS)
{
	int64		job_id;
	JcQuery    *query = &chunks_of_job;
	Datum		values[1];

	jc_check_not_null(fcinfo, 0);
	job_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(job_id);
	if (!PG_ARGISNULL(1))
		query = chunks_in(text_to_cstring(PG_GETARG_TEXT_PP(1)));

	jc_connect(fcinfo);
	jc_check_job_exists(job_id, true);
	jc_execute_into_result(fcinfo, query, values, NULL, true);
	jc_finish();
	return (Datum) 0;
}

/*
 * jc_chunk(chunk_id bigint) RETURNS SETOF job_chunks
 *
 * The chunk, or no row when there is none.
 */
Datum
jc_chunk(PG_FUNCTION_ARGS)
{
	return return_row_by_id(fcinfo, &chunk_by_id);
}
