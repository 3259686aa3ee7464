/*-------------------------------------------------------------------------
 *
 * statistics.c
 *		A job's progress: jc_statistics(), jc_progress(), jc_is_complete().
 *
 * All three read the same exact counts of the job's chunks by status
 * (jc_count_chunks(), which jc_purge_job() uses too), taken in one statement
 * and so consistent with each other and with the rows, in time independent
 * of the size of the job (see counts.c).
 *
 * completion_percentage is the share of chunks in a final status (completed
 * or failed), success_rate the share completed, both from 0 to 100 rounded
 * half away from zero to two places, and 0 for a job without chunks.
 *
 * src/statistics.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(jc_statistics);
PG_FUNCTION_INFO_V1(jc_progress);
PG_FUNCTION_INFO_V1(jc_is_complete);

/*
 * The job's existence and its counts, summed over the stripes: a few rows
 * of job_counts whatever the size of the job.
 */
static JcQuery count_chunks = {
	.sql = "SELECT EXISTS (SELECT FROM @extschema@.crawl_jobs AS j "
		"WHERE j.id OPERATOR(pg_catalog.=) $1), "
		"COALESCE(pg_catalog.sum(k.total), 0)::bigint, "
		"COALESCE(pg_catalog.sum(k.processing), 0)::bigint, "
		"COALESCE(pg_catalog.sum(k.completed), 0)::bigint, "
		"COALESCE(pg_catalog.sum(k.failed), 0)::bigint "
		"FROM @extschema@.job_counts AS k "
		"WHERE k.job_id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * Count the chunks of job job_id into *counts, raising no_data_found if there
 * is no such job.  Needs an SPI connection.  read_only as for jc_execute():
 * false takes a new snapshot, which in READ COMMITTED sees what committed
 * while the caller waited for a lock.
 */
void
jc_count_chunks(int64 job_id, JcCounts *counts, bool read_only)
{
	Datum		values[1];
	bool		isnull;

	values[0] = Int64GetDatum(job_id);
	if (jc_execute(&count_chunks, values, NULL, read_only) != 1)
		elog(ERROR, "counting the chunks of a job returned no row");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull)))
		jc_report_no_job(job_id);

	counts->total = jc_result_int64(0, 2);
	counts->processing = jc_result_int64(0, 3);
	counts->completed = jc_result_int64(0, 4);
	counts->failed = jc_result_int64(0, 5);
	counts->pending = counts->total - counts->completed - counts->failed -
		counts->processing;
}

/*
 * Count the chunks of the job called through fcinfo (its first argument).
 */
static void
count_job_chunks(FunctionCallInfo fcinfo, JcCounts *counts)
{
	jc_check_not_null(fcinfo, 0);
	jc_connect(fcinfo);
	jc_count_chunks(PG_GETARG_INT64(0), counts, true);
	jc_finish();
}

/*
 * 100 * part / total as a numeric rounded to two places; 0 when total is 0.
 * A job has at most 2^31 chunks, so the products cannot overflow.
 */
static Datum
percentage(int64 part, int64 total)
{
	int64		hundredths = 0;
	char		buf[64];

	if (total > 0)
		hundredths = (part * 20000 / total + 1) / 2;
	snprintf(buf, sizeof(buf), "%lld.%02d",
			 (long long) (hundredths / 100), (int) (hundredths % 100));
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static bool
is_complete(const JcCounts *counts)
{
	return counts->total > 0 && counts->pending == 0 && counts->processing == 0;
}

/*
 * Put the columns jc_statistics() and jc_progress() share, from job_id to
 * success_rate, into values from values[*i] on.
 */
static void
put_statistics(FunctionCallInfo fcinfo, const JcCounts *counts,
			   Datum *values, int *i)
{
	values[(*i)++] = PG_GETARG_DATUM(0);
	values[(*i)++] = Int64GetDatum(counts->total);
	values[(*i)++] = Int64GetDatum(counts->pending);
	values[(*i)++] = Int64GetDatum(counts->processing);
	values[(*i)++] = Int64GetDatum(counts->completed);
	values[(*i)++] = Int64GetDatum(counts->failed);
	values[(*i)++] = percentage(counts->completed + counts->failed, counts->total);
	values[(*i)++] = percentage(counts->completed, counts->total);
}

/*
 * The row type of the function's result, which must have natts columns (a
 * function declared by hand might not).
 */
static TupleDesc
result_tupdesc(FunctionCallInfo fcinfo, int natts)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != natts)
		elog(ERROR, "incorrect number of output arguments");
	return BlessTupleDesc(tupdesc);
}

/* The number of jc_statistics()'s columns */
#define JC_STATISTICS_COLS 8

/*
 * jc_statistics(INOUT job_id bigint, OUT total bigint, OUT pending bigint,
 *				 OUT processing bigint, OUT completed bigint, OUT failed bigint,
 *				 OUT completion_percentage numeric, OUT success_rate numeric)
 */
Datum
jc_statistics(PG_FUNCTION_ARGS)
{
	JcCounts	counts;
	TupleDesc	tupdesc = result_tupdesc(fcinfo, JC_STATISTICS_COLS);
	Datum		values[JC_STATISTICS_COLS];
	bool		nulls[JC_STATISTICS_COLS] = {0};
	int			i = 0;

	count_job_chunks(fcinfo, &counts);

	put_statistics(fcinfo, &counts, values, &i);
	Assert(i == tupdesc->natts);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* The number of jc_progress()'s columns */
#define JC_PROGRESS_COLS 10

/*
 * jc_progress(INOUT job_id bigint, OUT total_chunks bigint,
 *			   OUT pending_chunks bigint, OUT processing_chunks bigint,
 *			   OUT completed_chunks bigint, OUT failed_chunks bigint,
 *			   OUT completion_percentage numeric, OUT success_rate numeric,
 *			   OUT is_complete boolean, OUT "timestamp" timestamptz)
 *
 * timestamp is when the reading was taken.
 */
Datum
jc_progress(PG_FUNCTION_ARGS)
{
	JcCounts	counts;
	TupleDesc	tupdesc = result_tupdesc(fcinfo, JC_PROGRESS_COLS);
	Datum		values[JC_PROGRESS_COLS];
	bool		nulls[JC_PROGRESS_COLS] = {0};
	int			i = 0;

	count_job_chunks(fcinfo, &counts);

	put_statistics(fcinfo, &counts, values, &i);
	values[i++] = BoolGetDatum(is_complete(&counts));
	values[i++] = TimestampTzGetDatum(GetCurrentTimestamp());
	Assert(i == tupdesc->natts);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * jc_is_complete(job_id bigint) RETURNS boolean
 */
Datum
jc_is_complete(PG_FUNCTION_ARGS)
{
	JcCounts	counts;

	count_job_chunks(fcinfo, &counts);
	PG_RETURN_BOOL(is_complete(&counts));
}
