/*-------------------------------------------------------------------------
 *
 * plans.c
 *		Running the extension's statements through SPI.
 *
 * Every statement is prepared once per backend and kept (SPI_prepare_cursor
 * plus SPI_keepplan), planned once for all parameter values, and run with
 * its arguments passed as parameters.  The statements
 * name the extension's objects schema-qualified; the schema is the one the
 * calling C function belongs to, so a hostile search_path cannot redirect
 * them.  A plan is made again when the function's schema is another one
 * (functions made by hand in another schema), and when that schema or a
 * jobchunk function this backend has called is changed or dropped (the
 * schema renamed; the extension updated, or dropped and perhaps made again
 * at another version).  The old plan is freed at once, or, while one of the
 * extension's statements runs (which may be running it: a jobchunk call
 * from a trigger), when the transaction ends.  Plans are made only for a
 * version of the extension's tables this library runs: each new plan
 * checks it, and so does a statement whose plan was ended while it ran, and
 * a statement run after shared invalidations came in.
 *
 * Each generic plan is made with sequential scans disabled (see
 * make_generic_plan()): a plan made while a table was small would scan it
 * whole for as long as the plan lasts.
 *
 * src/plans.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/htup_details.h"
#include "access/tupconvert.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "storage/sinval.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/syscache.h"

/* Schema of the function being run, set by jc_connect() */
static Oid	current_nspid = InvalidOid;

/* Bumped when a watched object changes (below): plans are then remade */
static uint64 plan_generation = 1;

/*
 * The objects whose changes end the plans: the jobchunk functions this
 * backend has called and their schemas, by syscache and hash value.  A
 * change of one of them (the extension updated, dropped and perhaps made
 * again at another version, its schema renamed) ends every plan.  Changes
 * of other functions and schemas, which anyone may make, leave the plans
 * alone; a cache reset (hashvalue 0, when this backend fell behind the
 * invalidations of others) ends every plan.  When the list is full it
 * starts again, and the plans are remade, since an object no longer listed
 * might change unnoticed.
 */
typedef struct WatchedObject
{
	int			cacheid;
	uint32		hashvalue;
} WatchedObject;

#define MAX_WATCHED 64
static WatchedObject watched[MAX_WATCHED];
static int	nwatched = 0;

/* Plans remade while statements ran, freed when the transaction ends */
static List *retired_plans = NIL;

/* How many of the extension's statements are running, one in another */
static int	statements_running = 0;

/*
 * Whether this backend has checked the version, and the number of shared
 * invalidation messages it had taken in before it did (recheck_version())
 */
static bool version_checked = false;
static uint64 version_checked_at = 0;

/*
 * Check the version again, kept plans or not, whenever shared invalidations
 * (which any session's committed catalog change sends, this one's too) have
 * come in since the last check: this session may run the library of an
 * older version than an ALTER EXTENSION UPDATE has installed since, and an
 * update need not change anything the plans depend on; but it changes the
 * catalogs.
 */
static void
recheck_version(void)
{
	uint64		counter = SharedInvalidMessageCounter;

	if (version_checked && version_checked_at == counter)
		return;
	jc_check_sql_version();
	version_checked = true;
	version_checked_at = counter;
}

/*
 * Syscache callback for functions and schemas: hashvalue 0 stands for all
 * the cache's entries.
 */
void
jc_invalidate_plans(Datum arg, int cacheid, uint32 hashvalue)
{
	for (int i = 0; i < nwatched; i++)
	{
		if (watched[i].cacheid == cacheid &&
			(hashvalue == 0 || watched[i].hashvalue == hashvalue))
		{
			plan_generation++;
			return;
		}
	}
}

/* Add the object oid in syscache cacheid to the watched ones. */
static void
watch(int cacheid, Oid oid)
{
	uint32		hashvalue = GetSysCacheHashValue1(cacheid,
												  ObjectIdGetDatum(oid));

	for (int i = 0; i < nwatched; i++)
	{
		if (watched[i].cacheid == cacheid && watched[i].hashvalue == hashvalue)
			return;
	}
	if (nwatched == MAX_WATCHED)
	{
		nwatched = 0;
		plan_generation++;
	}
	watched[nwatched].cacheid = cacheid;
	watched[nwatched].hashvalue = hashvalue;
	nwatched++;
}

/*
 * Called when a transaction ends (commits, aborts or is prepared).
 */
void
jc_free_retired_plans(void)
{
	ListCell   *lc;

	foreach(lc, retired_plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	list_free(retired_plans);
	retired_plans = NIL;
}

/*
 * Connect to SPI for the C function called through fcinfo, and remember the
 * schema its statements run against; watch both.
 */
void
jc_connect(FunctionCallInfo fcinfo)
{
	watch(PROCOID, fcinfo->flinfo->fn_oid);
	current_nspid = get_func_namespace(fcinfo->flinfo->fn_oid);
	if (!OidIsValid(current_nspid))
		elog(ERROR, "cache lookup failed for function %u",
			 fcinfo->flinfo->fn_oid);
	watch(NAMESPACEOID, current_nspid);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
jc_finish(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * Whether the plan cache gave query's plan a generic plan of its own, made
 * under the caller's settings (see make_generic_plan()).  A custom plan,
 * which plan_cache_mode = force_custom_plan makes at every run, leaves the
 * generic one as it is.
 */
static bool
planned_by_cache(JcQuery *query)
{
	CachedPlanSource *source = linitial(SPI_plan_get_plan_sources(query->plan));

	return source->gplan != NULL &&
		source->gplan->generation != query->generic_made;
}

/*
 * The plan of query for the current schema, prepared on first use.
 */
static SPIPlanPtr
get_plan(JcQuery *query)
{
	const char *schema;
	const char *rest;
	const char *mark;
	StringInfoData sql;
	SPIPlanPtr	plan;
	uint64		generation;

	/*
	 * Take in the invalidations committed since the last statement took a
	 * lock, so that a plan is not deemed current because the invalidation
	 * that would end it has not been read yet.
	 */
	AcceptInvalidationMessages();

	recheck_version();

	if (query->plan != NULL &&
		query->nspid == current_nspid &&
		query->generation == plan_generation &&
		!planned_by_cache(query))
		return query->plan;

	/*
	 * The old plan may be running: a jobchunk call made by a trigger on the
	 * extension's tables comes here while the statement that fired the
	 * trigger runs its plan, which may be this one.  So while any statement
	 * runs it is freed only when the transaction ends.
	 */
	if (query->plan != NULL && statements_running == 0)
	{
		SPI_freeplan(query->plan);
		query->plan = NULL;
	}
	else if (query->plan != NULL)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(TopMemoryContext);

		retired_plans = lappend(retired_plans, query->plan);
		MemoryContextSwitchTo(oldcontext);
		query->plan = NULL;
	}

	schema = get_namespace_name(current_nspid);
	if (schema == NULL)
		elog(ERROR, "cache lookup failed for schema %u", current_nspid);
	schema = quote_identifier(schema);

	initStringInfo(&sql);
	rest = query->sql;
	while ((mark = strstr(rest, "@extschema@")) != NULL)
	{
		appendBinaryStringInfo(&sql, rest, (int) (mark - rest));
		appendStringInfoString(&sql, schema);
		rest = mark + strlen("@extschema@");
	}
	appendStringInfoString(&sql, rest);

	/*
	 * A generic plan from the start: the statements are written so that the
	 * intended index serves every parameter value, and planning each call
	 * anew would cost more than running it.  Preparing takes locks, which
	 * reads invalidations; if one ended the plan meanwhile (the extension
	 * was made again), check the version again and prepare again.
	 */
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		generation = plan_generation;
		jc_check_sql_version();
		plan = SPI_prepare_cursor(sql.data, query->nargs, query->argtypes,
								  CURSOR_OPT_GENERIC_PLAN);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql.data, SPI_result_code_string(SPI_result));
		if (generation == plan_generation)
			break;
		SPI_freeplan(plan);
	}
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");

	query->plan = plan;
	query->nspid = current_nspid;
	query->generation = generation;
	pfree(sql.data);
	return plan;
}

/* The schema of the jobchunk function being run (see jc_connect()) */
Oid
jc_schema(void)
{
	return current_nspid;
}

/*
 * Check the result of running query.  If the plans were ended, or other
 * sessions' invalidations came in, while it ran, PostgreSQL's plan cache may
 * have planned it again by name, for tables of another version made
 * meanwhile (the call waited for a lock on a table while the extension was
 * dropped and made again, or updated): check the version, which refuses the
 * call, rolling its statement back.
 */
static void
check_result(JcQuery *query, int result)
{
	if (query->generation != plan_generation)
		version_checked = false;
	recheck_version();
	if (result != query->expect)
		elog(ERROR, "unexpected SPI result %s for \"%s\"",
			 SPI_result_code_string(result), query->sql);
}

/*
 * Free the rows of the statement run last.  SPI keeps every result until
 * SPI_finish(), so a call that runs a statement per job or per chunk (a
 * purge of many jobs) would otherwise hold them all.  Callers read each
 * result before they run the next statement.
 */
static void
forget_last_result(void)
{
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Make the generic plan of query's plan, unless it has a valid one, with
 * sequential scans disabled while the planner runs.  Every statement has an
 * index that serves it whatever the parameters; but a plan is kept until an
 * ANALYZE or a VACUUM of its tables, or a change of their definition, ends
 * it, and the planner prefers a sequential scan of a table of a few pages,
 * whose size it reads when it plans.  Planned for a new database, whose
 * tables hold a job or two, a claim or a batch completion would otherwise
 * read the whole of job_chunks for as long as its plan lasts: in one
 * transaction that makes many jobs and works on them (which no ANALYZE
 * sees), an operator's loop over 3,000 jobs took 5 ms a job at first and
 * 117 ms a job on average.  Planning under a GUC nesting level affects only
 * the planner: the plan runs under the caller's settings.
 *
 * The plan cache may still plan again by itself, under the caller's
 * settings, when it finds the plan out of date only as it runs it (the
 * session made its first temporary table, so that pg_temp in the
 * functions' search_path now names a schema; an invalidation came in as the
 * statement took its first lock).  So the number of the generic plan made
 * here is kept, and get_plan() prepares the statement anew when its generic
 * plan has another (see planned_by_cache()).
 */
static void
make_generic_plan(JcQuery *query, SPIPlanPtr plan)
{
	CachedPlanSource *source = linitial(SPI_plan_get_plan_sources(plan));
	CachedPlan *cplan;
	int			nestlevel;

	if (source->is_valid && source->gplan != NULL && source->gplan->is_valid)
		return;
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	cplan = SPI_plan_get_cached_plan(plan);
	AtEOXact_GUC(true, nestlevel);
	if (cplan == NULL)
		elog(ERROR, "SPI_plan_get_cached_plan failed");
	query->generic_made = cplan->generation;
#if PG_VERSION_NUM >= 140000
	ReleaseCachedPlan(cplan, CurrentResourceOwner);
#else
	ReleaseCachedPlan(cplan, true);
#endif
}

/*
 * Run query's plan to the end with the given parameters (nulls as for
 * SPI_execute_plan), its rows going to dest, or to SPI_tuptable when dest is
 * NULL; return SPI's result code.  While it runs it is counted in
 * statements_running (see get_plan()).  A jobchunk function that the
 * statement calls (from a trigger) may belong to another schema: the
 * caller's schema is set back after the statement, however it ends.
 */
static int
run_plan(JcQuery *query, SPIPlanPtr plan, Datum *values, const char *nulls,
		 bool read_only, DestReceiver *dest)
{
	volatile int result = 0;
	Oid			nspid = current_nspid;

	statements_running++;
	PG_TRY();
	{
#if PG_VERSION_NUM >= 140000
		SPIExecuteOptions options;
		ParamListInfo params = makeParamList(query->nargs);

		make_generic_plan(query, plan);
		for (int i = 0; i < query->nargs; i++)
		{
			ParamExternData *prm = &params->params[i];

			prm->value = values[i];
			prm->isnull = nulls != NULL && nulls[i] == 'n';
			prm->pflags = PARAM_FLAG_CONST;
			prm->ptype = query->argtypes[i];
		}
		memset(&options, 0, sizeof(options));
		options.params = params;
		options.read_only = read_only;
		options.dest = dest;
		result = SPI_execute_plan_extended(plan, &options);
#else
		Assert(dest == NULL);
		make_generic_plan(query, plan);
		result = SPI_execute_plan(plan, values, nulls, read_only, 0);
#endif
	}
	PG_FINALLY();
	{
		statements_running--;
		current_nspid = nspid;
	}
	PG_END_TRY();
	return result;
}

/*
 * Execute query with the given parameters (nulls as for SPI_execute_plan)
 * and return the number of rows it processed; the rows themselves, if any,
 * are in SPI_tuptable until the next statement.
 */
uint64
jc_execute(JcQuery *query, Datum *values, const char *nulls, bool read_only)
{
	SPIPlanPtr	plan;

	forget_last_result();
	plan = get_plan(query);
	check_result(query, run_plan(query, plan, values, nulls, read_only, NULL));
	return SPI_processed;
}

/*
 * Make the set-returning function called through fcinfo return its rows
 * materialised in a tuplestore, created on first use; later rows add to it.
 * A function that may return no row at all calls this first.
 */
Tuplestorestate *
jc_result_store(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcontext;
	TupleDesc	tupdesc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (rsinfo->setResult != NULL)
		return rsinfo->setResult;
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));

	/* get_call_result_type() returns a copy, made in this context */
	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setDesc = tupdesc;
	rsinfo->setResult =
		tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
							  false, work_mem);
	MemoryContextSwitchTo(oldcontext);

	return rsinfo->setResult;
}

/*
 * Add the rows in SPI_tuptable, less their last extra columns, to the result
 * of the set-returning function called through fcinfo.  They must have the
 * function's row type's columns, in its order; a row type with dropped
 * columns (a table's, after ALTER TABLE ... DROP COLUMN) has more attributes
 * than the rows, so they are converted.
 */
void
jc_return_tuptable(FunctionCallInfo fcinfo, int extra)
{
	Tuplestorestate *tupstore = jc_result_store(fcinfo);
	TupleDesc	tupdesc = SPI_tuptable->tupdesc;
	TupleDesc	rowdesc = tupdesc;
	TupleConversionMap *map;
	Datum	   *values = NULL;
	bool	   *nulls = NULL;

	if (extra > 0)
	{
		rowdesc = CreateTemplateTupleDesc(tupdesc->natts - extra);
		for (int i = 1; i <= rowdesc->natts; i++)
			TupleDescCopyEntry(rowdesc, (AttrNumber) i, tupdesc, (AttrNumber) i);
		values = palloc(tupdesc->natts * sizeof(Datum));
		nulls = palloc(tupdesc->natts * sizeof(bool));
	}
	map = convert_tuples_by_position(rowdesc,
									 ((ReturnSetInfo *) fcinfo->resultinfo)->setDesc,
									 "row type of query does not match function result type");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		HeapTuple	tuple = row;

		CHECK_FOR_INTERRUPTS();
		if (extra > 0)
		{
			heap_deform_tuple(row, tupdesc, values, nulls);
			tuple = heap_form_tuple(rowdesc, values, nulls);
		}
		if (map != NULL)
		{
			HeapTuple	mapped = execute_attr_map_tuple(tuple, map);

			if (tuple != row)
				heap_freetuple(tuple);
			tuple = mapped;
		}
		tuplestore_puttuple(tupstore, tuple);

		/* The tuplestore keeps a copy: free ours, or a batch keeps two. */
		if (tuple != row)
			heap_freetuple(tuple);
	}
}

/*
 * Execute query and add its rows to the result of the set-returning function
 * called through fcinfo; return their number.
 */
uint64
jc_execute_into_result(FunctionCallInfo fcinfo, JcQuery *query,
					   Datum *values, const char *nulls, bool read_only)
{
	Tuplestorestate *tupstore = jc_result_store(fcinfo);
	SPIPlanPtr	plan;

	forget_last_result();
	plan = get_plan(query);

#if PG_VERSION_NUM >= 140000
	{
		/* Stream the rows straight into the tuplestore. */
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
		DestReceiver *dest = CreateDestReceiver(DestTuplestore);

		SetTuplestoreDestReceiverParams(dest, tupstore,
										rsinfo->econtext->ecxt_per_query_memory,
										false, rsinfo->setDesc,
										"row type of query does not match function result type");
		check_result(query, run_plan(query, plan, values, nulls, read_only, dest));
		dest->rDestroy(dest);
	}
#else
	(void) tupstore;
	check_result(query, run_plan(query, plan, values, nulls, read_only, NULL));
	jc_return_tuptable(fcinfo, 0);
#endif
	return SPI_processed;
}

/*
 * Column number column (from 1) of the first row of the last statement's
 * result, copied out of SPI's memory so that it outlives jc_finish().
 */
Datum
jc_result_value(int column, bool *isnull)
{
	Datum		value;
	TupleDesc	tupdesc = SPI_tuptable->tupdesc;

	if (SPI_processed == 0)
		elog(ERROR, "statement returned no row");
	value = SPI_getbinval(SPI_tuptable->vals[0], tupdesc, column, isnull);
	if (*isnull)
		return (Datum) 0;
	return SPI_datumTransfer(value,
							 TupleDescAttr(tupdesc, column - 1)->attbyval,
							 TupleDescAttr(tupdesc, column - 1)->attlen);
}

/*
 * Column number column (from 1) of row row (from 0) of the last statement's
 * result, a bigint that is not null.
 */
int64
jc_result_int64(uint64 row, int column)
{
	bool		isnull;
	Datum		value;

	if (row >= SPI_processed)
		elog(ERROR, "statement returned only %llu rows",
			 (unsigned long long) SPI_processed);
	value = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						  column, &isnull);
	if (isnull)
		elog(ERROR, "statement returned null in column %d", column);
	return DatumGetInt64(value);
}
