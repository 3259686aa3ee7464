/*-------------------------------------------------------------------------
 *
 * shard.c
 *		jc_set_shard() and jc_shard(): number a database's jobs and chunks as
 *		one shard of a PL/Proxy cluster, and read the number.
 *
 * Behind a PL/Proxy database (the jobchunk_proxy extension), shard number
 * k hands out job and chunk ids from k << JC_SHARD_SHIFT up (from 1 for
 * shard 0), so that the proxy finds the shard of a job or chunk from its id
 * alone: id >> JC_SHARD_SHIFT, as jobchunk_proxy's jc_shard_of() computes
 * it.  Each shard has 2^48 ids of each kind, far more than it can use.
 *
 * src/shard.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(jc_set_shard);
PG_FUNCTION_INFO_V1(jc_shard);

#define JC_SHARD_SHIFT	48
#define JC_MAX_SHARD	((1 << (63 - JC_SHARD_SHIFT)) - 1)

/* New jobs wait until the transaction ends: none is numbered the old way. */
static JcQuery lock_jobs = {
	.sql = "LOCK TABLE @extschema@.crawl_jobs IN EXCLUSIVE MODE",
	.nargs = 0,
	.expect = SPI_OK_UTILITY
};

/*
 * Two pieces of both statements below, on tables $1 and $2: the sequences
 * of their ids, and the lowest and highest ids they hold (by their primary
 * keys).
 */
#define ID_SEQUENCES \
	"pg_catalog.pg_get_serial_sequence($1, 'id')::pg_catalog.regclass AS jobs, " \
	"pg_catalog.pg_get_serial_sequence($2, 'id')::pg_catalog.regclass AS chunks"
#define IDS_HELD \
	"(SELECT pg_catalog.min(j.id) FROM @extschema@.crawl_jobs AS j) AS jobs_lowest, " \
	"(SELECT pg_catalog.max(j.id) FROM @extschema@.crawl_jobs AS j) AS jobs_highest, " \
	"(SELECT pg_catalog.min(c.id) FROM @extschema@.job_chunks AS c) AS chunks_lowest, " \
	"(SELECT pg_catalog.max(c.id) FROM @extschema@.job_chunks AS c) AS chunks_highest"

/*
 * How the database numbers its ids, for shard $3, whose first id is $4: the
 * sequences of the ids of tables $1 and $2 (qualified names, quoted);
 * whether every id the tables hold (their lowest and highest, by their
 * primary keys) and the last id each sequence handed out, if it has handed
 * out any since it was last set, are of shard $3; and for each sequence
 * that has not, the id it is to go on from: $4, or the one after its
 * table's highest.  (pg_sequence_last_value() is NULL for a sequence not
 * used since it was created or set with is_called false, and tells nothing
 * of where it would go on; the view pg_sequences reads it.  It locks the
 * sequence until the transaction ends.)
 */
#define OF_SHARD(id) \
	"COALESCE(" id " OPERATOR(pg_catalog.>>) " CppAsString2(JC_SHARD_SHIFT) \
	" OPERATOR(pg_catalog.=) $3, true)"
#define NEXT_ID(last, highest) \
	"CASE WHEN " last " IS NULL THEN " \
	"GREATEST($4, " highest " OPERATOR(pg_catalog.+) 1) END"
static JcQuery numbering = {
	.sql = "SELECT s.jobs, s.chunks, "
		OF_SHARD("s.jobs_lowest") " AND " OF_SHARD("s.jobs_highest") " AND "
		OF_SHARD("s.chunks_lowest") " AND " OF_SHARD("s.chunks_highest") " AND "
		OF_SHARD("s.jobs_last") " AND " OF_SHARD("s.chunks_last") ", "
		NEXT_ID("s.jobs_last", "s.jobs_highest") ", "
		NEXT_ID("s.chunks_last", "s.chunks_highest") " "
		"FROM (SELECT q.jobs, q.chunks, "
		"pg_catalog.pg_sequence_last_value(q.jobs) AS jobs_last, "
		"pg_catalog.pg_sequence_last_value(q.chunks) AS chunks_last, "
		IDS_HELD " FROM (SELECT " ID_SEQUENCES ") AS q) AS s",
	.nargs = 4,
	.argtypes = {TEXTOID, TEXTOID, INT8OID, INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * The sequences of the ids of tables $1 and $2 (qualified names, quoted),
 * and the shards of the lowest and highest ids the tables hold.
 */
#define SHARD_NUMBER(id) id " OPERATOR(pg_catalog.>>) " CppAsString2(JC_SHARD_SHIFT)
static JcQuery numbers_held = {
	.sql = "SELECT h.jobs, h.chunks, "
		SHARD_NUMBER("h.jobs_lowest") ", " SHARD_NUMBER("h.jobs_highest") ", "
		SHARD_NUMBER("h.chunks_lowest") ", " SHARD_NUMBER("h.chunks_highest") " "
		"FROM (SELECT " ID_SEQUENCES ", " IDS_HELD ") AS h",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID},
	.expect = SPI_OK_SELECT
};

/*
 * Sequence seq's last_value: the last id it handed out, or, when it has
 * handed out none since it was last set, the one it goes on from, which
 * only the sequence itself shows then.  Its name comes from the catalogs,
 * quoted.  Needs an SPI connection.
 */
static int64
sequence_position(Oid seq)
{
	char	   *schema = get_namespace_name(get_rel_namespace(seq));
	char	   *name = get_rel_name(seq);
	bool		isnull;
	Datum		position;

	if (schema == NULL || name == NULL)
		elog(ERROR, "cache lookup failed for sequence %u", seq);
	if (SPI_execute(psprintf("SELECT last_value FROM %s",
							 quote_qualified_identifier(schema, name)),
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read sequence %u", seq);
	position = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "sequence %u has no last_value", seq);
	return DatumGetInt64(position);
}

/*
 * The parameters $1 and $2 of the statements above: the names of the
 * extension's tables crawl_jobs and job_chunks, qualified and quoted.
 */
static void
table_names(Datum *values)
{
	const char *schema = get_namespace_name(jc_schema());

	if (schema == NULL)
		elog(ERROR, "cache lookup failed for schema %u", jc_schema());
	values[0] = CStringGetTextDatum(quote_qualified_identifier(schema, "crawl_jobs"));
	values[1] = CStringGetTextDatum(quote_qualified_identifier(schema, "job_chunks"));
}

/* Sequence $1 goes on from $2. */
static JcQuery set_next_id = {
	.sql = "SELECT pg_catalog.setval($1, $2, false)",
	.nargs = 2,
	.argtypes = {REGCLASSOID, INT8OID},
	.expect = SPI_OK_SELECT
};

/*
 * jc_set_shard(shard integer) RETURNS void
 *
 * A database can become shard k when every id it holds or has handed out
 * is shard k's: a new database, or one that is shard k already (so that a
 * set-up script can be run again).  Ids handed out before of another shard
 * would not lead the proxy to it, and ids moved back could be handed out
 * twice.  (A database whose ids are all below 2^48, as they are unless
 * jc_set_shard() moved them, is shard 0 as it is.)  Each sequence that has
 * handed out no id since it was last set (new, or restarted by TRUNCATE
 * ... RESTART IDENTITY) then goes on from shard k's first id, or above its
 * table's ids, unless it stands further on in shard k's range already;
 * until the first id the number can be set again.  Like setval(), setting
 * it is not undone by a rollback.
 */
Datum
jc_set_shard(PG_FUNCTION_ARGS)
{
	int32		shard;
	Datum		sequences[2];
	Datum		next_ids[2];
	bool		moved[2];
	Datum		values[4];
	bool		isnull;

	jc_check_not_null(fcinfo, 0);
	shard = PG_GETARG_INT32(0);
	if (shard < 0 || shard > JC_MAX_SHARD)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid shard number: %d", shard),
				 errdetail("A shard number is between 0 and %d.", JC_MAX_SHARD)));

	/* The check below must see the jobs committed while the lock was awaited. */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("jc_set_shard() needs isolation level READ COMMITTED"),
				 errdetail("Under REPEATABLE READ or SERIALIZABLE it could miss a job created concurrently."),
				 errhint("Set the shard number in a READ COMMITTED transaction.")));

	jc_connect(fcinfo);
	jc_execute(&lock_jobs, NULL, NULL, false);
	table_names(values);
	values[2] = Int64GetDatum(shard);
	values[3] = Int64GetDatum(shard == 0 ? 1 : (int64) shard << JC_SHARD_SHIFT);
	jc_execute(&numbering, values, NULL, false);
	if (!DatumGetBool(jc_result_value(3, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot make this database shard %d", shard),
				 errdetail("It has numbered jobs or chunks already, whose ids would not lead to it."),
				 errhint("Set the shard number of a new database, before its first job.")));
	for (int i = 0; i < 2; i++)
	{
		sequences[i] = jc_result_value(i + 1, &isnull);
		next_ids[i] = jc_result_value(i + 4, &isnull);
		moved[i] = !isnull;
	}

	/*
	 * A sequence already further on in shard k's range (set there for ids
	 * kept free, say) stays where it is: moved back, it would hand out ids
	 * a second time.
	 */
	for (int i = 0; i < 2; i++)
	{
		int64		position;

		if (!moved[i])
			continue;
		position = sequence_position(DatumGetObjectId(sequences[i]));
		if ((position >> JC_SHARD_SHIFT) == shard &&
			position >= DatumGetInt64(next_ids[i]))
			moved[i] = false;
	}

	/*
	 * setval() is not undone by a rollback: a cancel or a timeout between
	 * the two would leave the jobs numbered for this shard and the chunks
	 * not.  Neither statement waits for a lock another session holds for
	 * long (numbering locked both sequences, and they are named by OID),
	 * short of one on a system catalog.
	 */
	HOLD_INTERRUPTS();
	for (int i = 0; i < 2; i++)
	{
		if (!moved[i])
			continue;
		values[0] = sequences[i];
		values[1] = next_ids[i];
		jc_execute(&set_next_id, values, NULL, false);
	}
	RESUME_INTERRUPTS();
	jc_finish();
	PG_RETURN_VOID();
}

/*
 * jc_shard() RETURNS integer
 *
 * The shard this database numbers its jobs and chunks for, read from where
 * their sequences stand: 0 for a database never numbered.  The two must
 * agree (a crash between the two setval()s of jc_set_shard() leaves them
 * apart), and so must the ids the tables hold (rows inserted with the ids
 * of another shard would not be found by the proxy).  A proxy's
 * jc_check_shards() asks each partition.  Any role with USAGE on the
 * schema may call it: it names shards, not ids.
 */
Datum
jc_shard(PG_FUNCTION_ARGS)
{
	Datum		values[2];
	Oid			sequences[2];
	int64		shards[2];
	int64		held[4];
	bool		held_null[4];
	bool		isnull;

	jc_connect(fcinfo);
	table_names(values);
	jc_execute(&numbers_held, values, NULL, true);
	for (int i = 0; i < 2; i++)
	{
		sequences[i] = DatumGetObjectId(jc_result_value(i + 1, &isnull));
		if (isnull)
			elog(ERROR, "table of jobchunk without a sequence for its ids");
	}
	for (int i = 0; i < 4; i++)
		held[i] = DatumGetInt64(jc_result_value(i + 3, &held_null[i]));
	for (int i = 0; i < 2; i++)
		shards[i] = sequence_position(sequences[i]) >> JC_SHARD_SHIFT;
	if (shards[0] != shards[1])
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("jobs and chunks of this database are numbered for different shards"),
				 errdetail("Its jobs are numbered for shard " INT64_FORMAT ", its chunks for shard " INT64_FORMAT ".",
						   shards[0], shards[1]),
				 errhint("Call jobchunk.jc_set_shard(k) again with the shard whose ids it has handed out: it moves a sequence that has handed out no id since it was set.")));
	for (int i = 0; i < 4; i++)
	{
		if (held_null[i] || held[i] == shards[0])
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this database holds ids of shard " INT64_FORMAT ", not of its own shard " INT64_FORMAT,
						held[i], shards[0]),
				 i < 2 ?
				 errdetail("Its sequences number jobs and chunks for shard " INT64_FORMAT ", and it holds jobs of shard " INT64_FORMAT ".",
						   shards[0], held[i]) :
				 errdetail("Its sequences number jobs and chunks for shard " INT64_FORMAT ", and it holds chunks of shard " INT64_FORMAT ".",
						   shards[0], held[i]),
				 errhint("The proxy sends the calls for an id to the shard of its number: rows inserted with the ids of another shard belong in that shard's database.")));
	}
	jc_finish();
	PG_RETURN_INT32((int32) shards[0]);
}
