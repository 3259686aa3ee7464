/*-------------------------------------------------------------------------
 *
 * commit.c
 *		Committing claims without waiting for the WAL flush.
 *
 * A transaction that wrote nothing but claims commits asynchronously, as
 * with synchronous_commit = off, unless jobchunk.synchronous_claims is on.
 * A crash can then lose the claims of the last moments before it (at most
 * three times wal_writer_delay), with the expired leases they took back, and
 * nothing else: the WAL is written in order, so a later commit that waited
 * for its flush, such as the completion of a claimed chunk, has made the
 * claim durable too.  A claim lost this way leaves its chunks pending after
 * the restart, as if the worker had died just before claiming, and its
 * lease tokens are not handed out again, because a claim takes its token
 * from the clock (see JC_NEXT_TOKEN in jobchunk.h): the worker that received
 * the lost claim is refused like any worker whose lease was taken back.  A
 * claim needs no durability beyond that, and does not wait for a disk flush
 * that a worker's completion will wait for anyway.  The same holds for a
 * failover to a standby that had not received the claim, as long as the new
 * server's clock is not behind the old one's.
 *
 * "Nothing but claims": the transaction had no transaction id when its
 * first claim began, and this backend has written no WAL since its last
 * claim ended.  Anything else, even in the same transaction, keeps the
 * commit as synchronous as configured.  What triggers on the extension's
 * tables write during a claim counts as part of it, and so does WAL written
 * by other extensions' pre-commit callbacks that run after this one.
 *
 * src/commit.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "utils/guc.h"

typedef enum ClaimsState
{
	NO_CLAIMS,					/* no claim in this transaction yet */
	ONLY_CLAIMS,				/* claims, and nothing else written */
	NOT_ONLY_CLAIMS				/* claims, and other writes */
} ClaimsState;

static ClaimsState claims_state = NO_CLAIMS;

/* XactLastRecEnd when the last claim of the transaction ended */
static XLogRecPtr claims_end = InvalidXLogRecPtr;

/*
 * Called before a transaction commits: makes the commit asynchronous if the
 * transaction wrote nothing but claims.
 */
void
jc_claims_pre_commit(void)
{
	if (claims_state == ONLY_CLAIMS && XactLastRecEnd == claims_end &&
		!jc_synchronous_claims)
		(void) set_config_option("synchronous_commit", "off",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Called when a transaction ends (commits, aborts or is prepared).
 */
void
jc_claims_forget(void)
{
	claims_state = NO_CLAIMS;
	claims_end = InvalidXLogRecPtr;
}

/*
 * Called by a claiming function before it writes anything.
 */
void
jc_claim_begins(void)
{
	if (claims_state == NO_CLAIMS)
		claims_state = TransactionIdIsValid(GetTopTransactionIdIfAny()) ?
			NOT_ONLY_CLAIMS : ONLY_CLAIMS;
	else if (claims_state == ONLY_CLAIMS && XactLastRecEnd != claims_end)
		claims_state = NOT_ONLY_CLAIMS;
}

/*
 * Called by a claiming function after its last write.
 */
void
jc_claim_ends(void)
{
	claims_end = XactLastRecEnd;
}
