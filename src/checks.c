/*-------------------------------------------------------------------------
 *
 * checks.c
 *		Checks shared by the jobchunk functions: of their arguments and their
 *		number, that a job exists, and that the extension's SQL objects are
 *		of a version this library runs; and the excerpts of text their
 *		errors quote.
 *
 * The SQL functions are not STRICT: a NULL where a value is needed is an
 * error that names the argument, not a silent NULL result.
 *
 * src/checks.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

static JcQuery job_exists = {
	.sql = "SELECT FROM @extschema@.crawl_jobs AS j WHERE j.id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * Raise invalid_parameter_value if argument argno (from 0) is NULL, naming
 * it as the function's SQL declaration does, or by its number if that
 * leaves it unnamed.
 */
void
jc_check_not_null(FunctionCallInfo fcinfo, int argno)
{
	Oid			fn_oid = fcinfo->flinfo->fn_oid;
	HeapTuple	proctup;
	Oid		   *argtypes;
	/* cppcheck 2.3 (Debian 11) reports the test of argnames below here */
	// cppcheck-suppress nullPointerRedundantCheck
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
	/* a function made by hand may leave its arguments unnamed */
	if (argnames != NULL && argno < nargs && argnames[argno][0] != '\0')
		argname = argnames[argno];
	else
		argname = psprintf("argument %d", argno + 1);
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
static void
check_task_id(text *task_id)
{
	int			len = pg_mbstrlen_with_len(VARDATA_ANY(task_id),
										   VARSIZE_ANY_EXHDR(task_id));

	if (len > JC_TASK_ID_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task_id is too long"),
				 errdetail("It has %d characters; at most %d are allowed.",
						   len, JC_TASK_ID_MAXLEN)));
}

/* The most characters of a caller's or a stored text an error of ours quotes */
#define TEXT_EXCERPT_LEN 100

/*
 * The start of text, or all of it when short, in ASCII: each character
 * outside it is shown as "?", so that the error quoting it can be shown in
 * any client encoding (a failed conversion would replace the error).  ""
 * for NULL.
 */
char *
jc_text_excerpt(const char *text)
{
	StringInfoData excerpt;
	int			shown = 0;

	initStringInfo(&excerpt);
	for (const char *c = text; c != NULL && *c != '\0'; c += pg_mblen(c))
	{
		if (shown++ == TEXT_EXCERPT_LEN)
		{
			appendStringInfoString(&excerpt, "...");
			break;
		}
		appendStringInfoChar(&excerpt, IS_HIGHBIT_SET(*c) ? '?' : *c);
	}
	return excerpt.data;
}

/*
 * Raise no_data_found for job_id, which names no job.  (P0002, of PL/pgSQL's
 * class, is what a SELECT INTO STRICT of no row raises; the README documents
 * it as jobchunk's "not found" since 1.0.)
 */
void
jc_report_no_job(int64 job_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("job %lld does not exist", (long long) job_id)));
}

/*
 * Raise no_data_found unless job_id names a job: as of the calling
 * statement's snapshot when read_only (for a reading function, whose rows
 * come from that snapshot), or of a new one (after a write that found no
 * job: the job may have been deleted since the statement began, or created).
 * Needs an SPI connection.
 */
void
jc_check_job_exists(int64 job_id, bool read_only)
{
	Datum		values[1];

	values[0] = Int64GetDatum(job_id);
	if (jc_execute(&job_exists, values, NULL, read_only) == 0)
		jc_report_no_job(job_id);
}

/*
 * Whether version a ("major.minor") is later than version b.  Only chooses
 * a hint: a major that does not parse counts as 0, and when either has no
 * minor, equal majors make the versions equal.
 */
static bool
version_later(const char *a, const char *b)
{
	char	   *a_end;
	char	   *b_end;
	long		a_major = strtol(a, &a_end, 10);
	long		b_major = strtol(b, &b_end, 10);

	if (a_major != b_major)
		return a_major > b_major;
	if (*a_end != '.' || *b_end != '.')
		return false;
	return strtol(a_end + 1, NULL, 10) > strtol(b_end + 1, NULL, 10);
}

/*
 * The SQL definitions and the library of the extension are of different
 * versions (installed, when known): a new library installed and ALTER
 * EXTENSION UPDATE not run yet, or run after this session loaded the old
 * library.  Its own SQLSTATE, feature_not_supported, keeps it apart from the
 * errors a worker acts on (a lost lease is object_not_in_prerequisite_state).
 */
static void
report_version_mismatch(const char *installed)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("the SQL definitions of extension jobchunk do not match its library"),
			 installed ? errdetail("The installed version is %s; the library is for %s.",
								   installed, JC_SQL_VERSION) : 0,
			 installed == NULL ?
			 errhint("Run ALTER EXTENSION jobchunk UPDATE, or, if it has been run since this session loaded the library, reconnect.") :
			 version_later(installed, JC_SQL_VERSION) ?
			 errhint("This session loaded the library before the extension was updated: reconnect. If new sessions get this error too, install the library of version %s.",
					 installed) :
			 errhint("Run ALTER EXTENSION jobchunk UPDATE.")));
}

/*
 * Refuse to run a C function through SQL definitions of another version of
 * the extension, which pass other arguments than the library expects.  The
 * functions whose arguments changed since 1.0 call it.
 */
void
jc_check_nargs(FunctionCallInfo fcinfo, int nargs)
{
	if (PG_NARGS() != nargs)
		report_version_mismatch(NULL);
}

/*
 * The versions of the SQL definitions this library runs: its own, and the
 * earlier ones whose objects are its own but for functions added since.  So
 * the calls go on working between the install of this library and ALTER
 * EXTENSION UPDATE from any of them.
 */
static const char *const sql_versions_run[] = {JC_SQL_VERSION, "1.10", "1.9"};

/*
 * Refuse to run statements on the tables of a version of the extension
 * this library does not run.  The version is read with the catalog
 * snapshot, as the names in the statements are looked up, not with the
 * caller's: a statement that began before the extension was dropped and
 * made again at another version must not see the old version and then
 * prepare statements for the new tables.
 */
void
jc_check_sql_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *installed = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("jobchunk"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		version = heap_getattr(tuple, Anum_pg_extension_extversion,
										   RelationGetDescr(rel), &isnull);

		if (!isnull)
			installed = TextDatumGetCString(version);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	/* No row: the functions were made outside the extension. */
	if (installed == NULL)
		return;
	for (size_t i = 0; i < lengthof(sql_versions_run); i++)
		if (strcmp(installed, sql_versions_run[i]) == 0)
			return;
	report_version_mismatch(installed);
}

/*
 * Whether each field of interval (months, days, microseconds) is within
 * years either way: checked before adding the interval to a timestamp or
 * subtracting it, so that doing so field by field cannot overflow (nor can
 * an infinite interval pass).
 */
bool
jc_interval_fields_within(const Interval *interval, int years)
{
	int64		days = (int64) years * 366;

	return interval->month >= -years * MONTHS_PER_YEAR &&
		interval->month <= years * MONTHS_PER_YEAR &&
		interval->day >= -days && interval->day <= days &&
		interval->time >= -days * USECS_PER_DAY &&
		interval->time <= days * USECS_PER_DAY;
}

/*
 * The interval as text, for an error message.  Before PostgreSQL 15,
 * interval_out() fails ("interval out of range", 22008) on more hours than
 * an int holds, which the checks refuse too: such an interval is shown by
 * its fields instead.
 */
char *
jc_interval_text(const Interval *interval)
{
#if PG_VERSION_NUM < 150000
	int64		hours = interval->time / USECS_PER_HOUR;

	if (hours > INT_MAX || hours < INT_MIN)
		return psprintf("%d months %d days " INT64_FORMAT " microseconds",
						interval->month, interval->day, interval->time);
#endif
	return DatumGetCString(DirectFunctionCall1(interval_out,
											   IntervalPGetDatum(interval)));
}

/* The longest lease, in years */
#define JC_MAX_LEASE_YEARS 100

/*
 * When the lease given by the interval in argument argno ends, as a
 * timestamptz: the lease runs from start, the time of the call, for
 * jobchunk.lease_timeout when the argument is NULL.  It must end after it
 * starts and at most JC_MAX_LEASE_YEARS later, both compared as times from
 * the start of the lease, not as intervals: from the 1st of February,
 * '1 mon -29 days' ends in the past, and an interval comparison would count
 * 100 years as 36,000 days.  The statements take the end, not the interval,
 * so that the lease checked is the lease granted.
 */
Datum
jc_lease_end_arg(FunctionCallInfo fcinfo, int argno, TimestampTz start)
{
	Interval   *lease;
	TimestampTz end;

	if (PG_ARGISNULL(argno))
		return TimestampTzGetDatum(start +
								   (TimeOffset) jc_lease_timeout * USECS_PER_SEC);

	lease = PG_GETARG_INTERVAL_P(argno);
	if (jc_interval_fields_within(lease, JC_MAX_LEASE_YEARS))
	{
		Interval	longest = {0};
		TimestampTz latest;

		longest.month = JC_MAX_LEASE_YEARS * MONTHS_PER_YEAR;
		end = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													  TimestampTzGetDatum(start),
													  IntervalPGetDatum(lease)));
		latest = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														 TimestampTzGetDatum(start),
														 IntervalPGetDatum(&longest)));
		if (end > start && end <= latest)
			return TimestampTzGetDatum(end);
	}

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid lease: %s", jc_interval_text(lease)),
			 errdetail("A lease must end after it starts, and within %d years.",
					   JC_MAX_LEASE_YEARS)));
}

/*
 * The task id in argument argno, checked for length; sets *null to 'n' when
 * it is NULL, as SPI wants it.
 */
Datum
jc_task_id_arg(FunctionCallInfo fcinfo, int argno, char *null)
{
	if (PG_ARGISNULL(argno))
	{
		*null = 'n';
		return (Datum) 0;
	}
	check_task_id(PG_GETARG_TEXT_PP(argno));
	*null = ' ';
	return PG_GETARG_DATUM(argno);
}
