/*-------------------------------------------------------------------------
 *
 * cancel_lock.c
 *		The lock a cancel holds on its job, which claims look for.
 *
 * jc_cancel_job() locks every pending chunk of its job before it fails
 * them, and holds those locks until its transaction ends: seconds, for a
 * large job.  A claim from the head of the job meanwhile would try, and
 * fail, to lock each of them (FOR UPDATE SKIP LOCKED): 0.25 s a claim with
 * 300,000.  So the cancel also holds an advisory lock on the job, and a
 * claim tries that lock before it claims from the head, and lets it go at
 * once: when it cannot have it, it takes nothing from the job.
 *
 * A claim holds the lock only for that moment, and waits for nothing while
 * it does, so the cancel waits for no claim on it; and a claim neither
 * keeps a lock of the job's, which the cancel would wait for until the
 * claim's transaction ended (a prepared transaction too), nor changes the
 * job's row (locking it FOR KEY SHARE, as workers of one job claiming at
 * the same time would, makes a new MultiXactId each time).  The lock is
 * an advisory lock in the database, with the job id in its two keys and
 * JC_CANCEL_LOCK_CLASS where the SQL-level advisory locks have 1 or 2, so
 * that it is never one an application takes; pg_locks shows it with that
 * number as objsubid.
 *
 * src/cancel_lock.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "miscadmin.h"
#include "storage/lock.h"

/* 'J' 'C' */
#define JC_CANCEL_LOCK_CLASS 0x4A43

static void
cancel_locktag(LOCKTAG *tag, int64 job_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId,
						 (uint32) ((uint64) job_id >> 32),
						 (uint32) job_id,
						 JC_CANCEL_LOCK_CLASS);
}

/*
 * Mark the job as being cancelled until this transaction ends.  Waits only
 * for claims looking at the mark that moment.
 */
void
jc_mark_cancel_running(int64 job_id)
{
	LOCKTAG		tag;

	cancel_locktag(&tag, job_id);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Whether another transaction is cancelling the job, without waiting.  Our
 * own transaction's cancel does not count, as a lock never conflicts with
 * locks of the same backend.
 */
bool
jc_cancel_running(int64 job_id)
{
	LOCKTAG		tag;

	cancel_locktag(&tag, job_id);
	if (LockAcquire(&tag, ShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ShareLock, false);
	return false;
}
