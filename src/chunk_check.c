/*-------------------------------------------------------------------------
 *
 * chunk_check.c
 *		The check constraint of job_chunks: jc_chunk_is_valid().
 *
 * A row of job_chunks is valid when its status is one of the four, it has a
 * lease exactly while it is processing, its chunk_index, retry_count and
 * lease_token are not negative, and its priority is between 0 and 10.
 *
 * These rules were six CHECK constraints of SQL expressions up to 1.4.
 * PostgreSQL reads a CHECK constraint's expression back from its stored
 * text, and plans it, for every statement that writes the table; jobchunk
 * runs one statement per call, and reading back the six expressions (their
 * text constants are stored byte by byte) was about a sixth of the server's
 * time in a claim and a completion.  One call of this function costs a
 * small part of that; the rules are the same.
 *
 * Like a CHECK expression, it is NULL when a value it tests is NULL.  That
 * makes it the same as the six only because the columns other than
 * lease_expires_at are NOT NULL, which PostgreSQL checks first: one NULL
 * passes the whole row here, where it passed only its own expression.  The
 * database's collation is deterministic, so comparing status byte by byte is
 * what its = operator does.
 *
 * What this symbol accepts must never change: a new library is loaded
 * before ALTER EXTENSION UPDATE, and changing the rules here would apply
 * them to new writes without checking the rows already stored.  New rules
 * need a new function, and an update script that swaps the constraint (which
 * checks every row).
 *
 * src/chunk_check.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

PG_FUNCTION_INFO_V1(jc_chunk_is_valid);

/* Whether text t is the C string s */
static bool
text_is(const text *t, const char *s)
{
	size_t		len = strlen(s);

	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/*
 * jc_chunk_is_valid(status, lease_expires_at, chunk_index, priority,
 *					 retry_count, lease_token) RETURNS boolean
 */
Datum
jc_chunk_is_valid(PG_FUNCTION_ARGS)
{
	text	   *status;
	bool		processing;
	int32		chunk_index;
	int32		priority;
	int32		retry_count;
	int64		lease_token;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		PG_ARGISNULL(4) || PG_ARGISNULL(5))
		PG_RETURN_NULL();

	status = PG_GETARG_TEXT_PP(0);
	chunk_index = PG_GETARG_INT32(2);
	priority = PG_GETARG_INT32(3);
	retry_count = PG_GETARG_INT32(4);
	lease_token = PG_GETARG_INT64(5);

	processing = text_is(status, JC_PROCESSING);
	if (!processing && !text_is(status, JC_PENDING) &&
		!text_is(status, JC_COMPLETED) && !text_is(status, JC_FAILED))
		PG_RETURN_BOOL(false);

	PG_RETURN_BOOL(processing == !PG_ARGISNULL(1) &&
				   chunk_index >= 0 &&
				   priority >= 0 && priority <= 10 &&
				   retry_count >= 0 &&
				   lease_token >= 0);
}
