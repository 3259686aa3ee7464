/*-------------------------------------------------------------------------
 *
 * jobchunk.h
 *		Declarations shared by the jobchunk sources.
 *
 * src/jobchunk.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef JOBCHUNK_H
#define JOBCHUNK_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/hsearch.h"
#include "utils/tuplestore.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"				/* VARDATA_ANY and the like, in postgres.h before 16 */
#endif

/* Chunk statuses, exactly as stored in job_chunks.status */
#define JC_PENDING		"pending"
#define JC_PROCESSING	"processing"
#define JC_COMPLETED	"completed"
#define JC_FAILED		"failed"

/* The version of the SQL definitions this library is for */
#define JC_SQL_VERSION	"1.11"

/* Longest task_id, in characters: job_chunks.task_id is varchar(255) */
#define JC_TASK_ID_MAXLEN	255

/* GUCs, defined in jobchunk.c */
extern int	jc_chunk_size;
extern int	jc_max_retries;
extern int	jc_lease_timeout;
extern int	jc_rescan_interval;
extern bool jc_synchronous_claims;
extern bool jc_notify;

/* Who may change jobchunk.max_retries: GRANT SET ON PARAMETER is new in 15 */
#if PG_VERSION_NUM >= 150000
#define JC_MAX_RETRIES_SETTERS "a superuser, or a role granted SET on it,"
#else
#define JC_MAX_RETRIES_SETTERS "a superuser"
#endif

/*
 * One statement of the extension, prepared once per backend.
 *
 * sql names the extension's objects as @extschema@.name; the plan is made
 * for the schema the calling function lives in.  expect is the SPI_OK_* code
 * a successful execution returns.
 */
#define JC_MAX_ARGS 11

typedef struct JcQuery
{
	const char *sql;
	int			nargs;
	Oid			argtypes[JC_MAX_ARGS];
	int			expect;
	/* private to plans.c */
	SPIPlanPtr	plan;
	Oid			nspid;
	uint64		generation;
	int			generic_made;	/* the generic plan plans.c made, by number */
} JcQuery;

/*
 * The time written to crawl_jobs.updated_at and job_counts.updated_at, which
 * the purges compare with their cutoff: the clock, as GetCurrentTimestamp()
 * is in C, from which leases run (see jc_lease_end_arg()) and tokens are
 * taken.  Neither the start of the statement nor of the transaction would
 * do: a call can come long after both, from a function or a procedure that
 * runs for long (in a procedure that commits, statement_timestamp() stays at
 * the start of the CALL).  A chunk's updated_at is the transaction's start,
 * now(), as for a row changed by hand.
 */
#define JC_CLOCK "pg_catalog.clock_timestamp()"

/*
 * Chunk counts: the SQL of a CTE "counted", to put after the CTE of a
 * statement that changes chunks' statuses (not their number: only
 * jc_create_chunks() adds to a job's total).  For each row d of source
 * (which has a column job_id), the integer expressions processing,
 * completed and failed give the changes of the counts; counted adds them up
 * per job into the job's stripe number stripe in job_counts, in job order so
 * that two statements changing the same stripes lock them in the same order,
 * and sets the stripe's updated_at to JC_CLOCK.  See counts.c.
 */
#define JC_STRIPES 64
#define JC_COUNT(source, processing, completed, failed, stripe) \
	"counted AS (INSERT INTO @extschema@.job_counts AS k " \
	"(job_id, stripe, processing, completed, failed, updated_at) " \
	"SELECT d.job_id, " stripe ", " \
	"pg_catalog.sum(" processing "), pg_catalog.sum(" completed "), " \
	"pg_catalog.sum(" failed "), " JC_CLOCK " " \
	"FROM " source " AS d GROUP BY d.job_id ORDER BY d.job_id " \
	JC_ADD_TO_STRIPE ") "

/* How an insert into job_counts AS k adds to the stripe row that exists */
#define JC_ADD_TO_STRIPE \
	"ON CONFLICT (job_id, stripe) DO UPDATE SET " \
	"processing = k.processing OPERATOR(pg_catalog.+) excluded.processing, " \
	"completed = k.completed OPERATOR(pg_catalog.+) excluded.completed, " \
	"failed = k.failed OPERATOR(pg_catalog.+) excluded.failed, " \
	"updated_at = " JC_CLOCK " "

/*
 * For a statement that changes chunks of one job only, the job's id job: a
 * CTE "counted" that adds changes (a SET list of the counts, each followed
 * by a comma) to the stripe row's version at tid (a parameter: the version
 * this backend wrote last, see counts.c), if that is the job's stripe
 * stripe and still its current version, and the condition when holds;
 * otherwise it changes nothing.  The statement's rows carry JC_COUNTED_TID,
 * the version it wrote, or NULL; after it, jc_count_changes() adds the
 * changes by the row's key if it wrote none.
 */
#define JC_COUNT_AT(job, changes, stripe, tid, when) \
	"counted AS (UPDATE @extschema@.job_counts AS k SET " changes \
	"updated_at = " JC_CLOCK " " \
	"WHERE k.ctid OPERATOR(pg_catalog.=) " tid " " \
	"AND k.job_id OPERATOR(pg_catalog.=) " job " " \
	"AND k.stripe OPERATOR(pg_catalog.=) " stripe " AND " when " " \
	"RETURNING k.ctid) "

/* The column a statement counting with JC_COUNT_AT returns its rows with */
#define JC_COUNTED_TID "(SELECT ctid FROM counted) AS stripe_tid"

/*
 * A statement that locks job $1 with the row lock strength given, which may
 * end in SKIP LOCKED, and returns its state: no row if there is no such job,
 * or if the lock was skipped.
 */
#define JC_LOCK_JOB(strength) { \
	.sql = "SELECT j.state FROM @extschema@.crawl_jobs AS j " \
		"WHERE j.id OPERATOR(pg_catalog.=) $1 FOR " strength, \
	.nargs = 1, \
	.argtypes = {INT8OID}, \
	.expect = SPI_OK_SELECT \
}

/*
 * The SET clause of a claim that gives the chunk its next lease token: the
 * old one + 1 or the parameter least, whichever is larger.  Claims pass
 * the time of the call (in microseconds since 2000) as least, so that tokens
 * increase with time as well as with each claim: a token handed out by a
 * claim that a crash undid (see commit.c) is not handed out again after the
 * restart, as long as the clock has not gone back across it.
 */
#define JC_NEXT_TOKEN(least) \
	"lease_token = pg_catalog.int8larger(c.lease_token OPERATOR(pg_catalog.+) 1, " \
	least "), "

/* commit.c */
extern void jc_claim_begins(void);
extern void jc_claim_ends(void);
extern void jc_claims_pre_commit(void);
extern void jc_claims_forget(void);

/*
 * plans.c.  Running a statement frees the rows of the one run before it in
 * the same call (SPI would keep them all until jc_finish()), and so does
 * every helper that runs one (jc_check_job_exists(), jc_count_changes(),
 * jc_count_chunks(), jc_take_back_expired()): read SPI_tuptable, or copy
 * out what is needed, before running the next statement.
 */
extern void jc_invalidate_plans(Datum arg, int cacheid, uint32 hashvalue);
extern void jc_free_retired_plans(void);
extern void jc_connect(FunctionCallInfo fcinfo);
extern Oid	jc_schema(void);
extern void jc_finish(void);
extern uint64 jc_execute(JcQuery *query, Datum *values, const char *nulls,
						 bool read_only);
extern uint64 jc_execute_into_result(FunctionCallInfo fcinfo, JcQuery *query,
									 Datum *values, const char *nulls,
									 bool read_only);
extern void jc_return_tuptable(FunctionCallInfo fcinfo, int extra);
extern Tuplestorestate *jc_result_store(FunctionCallInfo fcinfo);
extern Datum jc_result_value(int column, bool *isnull);
extern int64 jc_result_int64(uint64 row, int column);

/* checks.c */
extern void jc_check_not_null(FunctionCallInfo fcinfo, int argno);
extern char *jc_text_excerpt(const char *text);
extern void jc_report_no_job(int64 job_id) pg_attribute_noreturn();
extern void jc_check_job_exists(int64 job_id, bool read_only);
extern void jc_check_nargs(FunctionCallInfo fcinfo, int nargs);
extern void jc_check_sql_version(void);
extern bool jc_interval_fields_within(const Interval *interval, int years);
extern char *jc_interval_text(const Interval *interval);
extern Datum jc_lease_end_arg(FunctionCallInfo fcinfo, int argno,
							  TimestampTz start);
extern Datum jc_task_id_arg(FunctionCallInfo fcinfo, int argno, char *null);

/* claim.c */
extern uint64 jc_take_back_expired(const int64 *job_id, int n, TimestampTz now);
extern void jc_forget_position(int64 job_id);
extern void jc_forget_positions(void);
extern void jc_end_turns(bool committed);
extern HTAB *jc_job_table(HTAB *table, const char *name, Size entrysize,
						  long max);

/* cascades.c */
extern void jc_check_cascades(void);

/* counts.c */
extern Datum jc_stripe(void);
extern Datum jc_stripe_tid(const int64 *job_id, char *null);
extern void jc_count_changes(int64 job_id, int64 processing, int64 completed,
							 int64 failed);
extern void jc_move_stripe_on(void);

/* statistics.c */
typedef struct JcCounts
{
	int64		total;
	int64		pending;
	int64		processing;
	int64		completed;
	int64		failed;
} JcCounts;

extern void jc_count_chunks(int64 job_id, JcCounts *counts, bool read_only);

/* notify.c */
extern void jc_notify_claimable(int64 job_id);

/* cancel_lock.c */
extern void jc_mark_cancel_running(int64 job_id);
extern bool jc_cancel_running(int64 job_id);

#endif							/* JOBCHUNK_H */
