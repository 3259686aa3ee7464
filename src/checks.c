/*-------------------------------------------------------------------------
 *
 * checks.c
 *		Checks shared by the jobchunk functions: of their arguments, and that
 *		a job exists.
 *
 * The SQL functions are not STRICT: a NULL where a value is needed is an
 * error that names the argument, not a silent NULL result.
 *
 * src/checks.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

static JcQuery job_exists = {
	.sql = "SELECT FROM @extschema@.crawl_jobs AS j WHERE j.id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * Raise invalid_parameter_value if argument argno (from 0) is NULL, naming
 * it as the function's SQL declaration does.
 */
void
jc_check_not_null(FunctionCallInfo fcinfo, int argno)
{
	Oid			fn_oid = fcinfo->flinfo->fn_oid;
	HeapTuple	proctup;
	Oid		   *argtypes;
	char	  **argnames;
	char	   *argmodes;
	int			nargs;
	char	   *argname;

	if (!PG_ARGISNULL(argno))
		return;

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	nargs = get_func_arg_info(proctup, &argtypes, &argnames, &argmodes);
	if (argnames == NULL || argno >= nargs)
		elog(ERROR, "function %u has no name for argument %d", fn_oid, argno);
	argname = argnames[argno];
	ReleaseSysCache(proctup);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must not be null", argname),
			 errdetail("Function %s needs a value for %s.",
					   format_procedure(fn_oid), argname)));
}

/*
 * Raise invalid_parameter_value if task_id is longer than the column holds.
 */
void
jc_check_task_id(text *task_id)
{
	int			len = pg_mbstrlen_with_len(VARDATA_ANY(task_id),
										   VARSIZE_ANY_EXHDR(task_id));

	if (len > JC_TASK_ID_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task_id is %d characters long, but at most %d are allowed",
						len, JC_TASK_ID_MAXLEN)));
}

/*
 * Raise no_data_found unless job_id names a job.  Needs an SPI connection.
 */
void
jc_check_job_exists(int64 job_id)
{
	Datum		values[1];

	values[0] = Int64GetDatum(job_id);
	if (jc_execute(&job_exists, values, NULL, true) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("job " INT64_FORMAT " does not exist", job_id)));
}
