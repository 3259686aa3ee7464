--
-- Job controls: jc_pause_job, jc_resume_job, jc_cancel_job, jc_purge_job,
-- jc_purge_jobs
--
SET search_path = jobchunk, public;
-- Every claim starts at the head of the queue, taking back expired leases
-- first (test/specs/positions.spec tests claims from a position).
SET jobchunk.rescan_interval = 0;

DELETE FROM crawl_jobs;
INSERT INTO crawl_jobs (id, name) VALUES (80, 'paused'), (81, 'running'), (82, 'cancelled');
SELECT count(*) FROM jc_create_chunks(80, 2000, 9);
SELECT count(*) FROM jc_create_chunks(81, 1000, 1);
SELECT count(*) FROM jc_create_chunks(82, 2000);
SELECT min(id) AS p0 FROM job_chunks WHERE job_id = 80 \gset
SELECT id, state FROM crawl_jobs ORDER BY id;

-- A paused job's chunks are not claimed, by job or across jobs; its chunks
-- in flight finish normally.
SELECT chunk_index FROM jc_next_pending(80);
SELECT jc_pause_job(80);
SELECT jc_pause_job(80);
SELECT state, updated_at > created_at AS touched FROM crawl_jobs WHERE id = 80;
SELECT count(*) FROM jc_next_pending(80);
SELECT count(*) FROM jc_claim(80, 10);
SELECT job_id, chunk_index FROM jc_next_pending();
SELECT status FROM jc_mark_completed(:p0);
SELECT pending, completed FROM jc_statistics(80);

-- Resumed, they are claimed again.
SELECT jc_resume_job(80);
SELECT state FROM crawl_jobs WHERE id = 80;
SELECT job_id, chunk_index FROM jc_next_pending();

-- Cancelling fails the pending chunks and returns how many; chunks in
-- flight finish; nothing more is claimed; cancelling again fails none.
SELECT job_id, chunk_index FROM jc_next_pending(82);
SELECT jc_cancel_job(82);
SELECT jc_cancel_job(82);
SELECT status, error_message, count(*) FROM job_chunks WHERE job_id = 82
GROUP BY status, error_message ORDER BY status;
SELECT count(*) FROM jc_next_pending(82);
SELECT chunk_index, status FROM jc_mark_completed(
    ARRAY(SELECT id FROM job_chunks WHERE job_id = 82 AND status = 'processing'));
SELECT is_complete, completion_percentage, success_rate FROM jc_progress(82);

-- A chunk in flight whose lease expires in a cancelled job fails.
SELECT jc_pause_job(81);
SELECT count(*) FROM jc_next_pending(81);
SELECT jc_resume_job(81);
SELECT chunk_index FROM jc_next_pending(81);
SELECT jc_cancel_job(81);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE job_id = 81 AND status = 'processing';
SELECT count(*) FROM jc_next_pending();
SELECT status, retry_count, error_message FROM job_chunks WHERE job_id = 81;

-- A cancelled job is final.
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_pause_job(82)'),
    ('SELECT jobchunk.jc_resume_job(82)'),
    ('SELECT jobchunk.jc_retry((SELECT min(id) FROM jobchunk.job_chunks WHERE job_id = 82 AND status = ''failed''))'),
    ('SELECT jobchunk.jc_pause_job(99)'),
    ('SELECT jobchunk.jc_resume_job(99)'),
    ('SELECT jobchunk.jc_cancel_job(99)'),
    ('SELECT jobchunk.jc_pause_job(NULL)'),
    ('SELECT jobchunk.jc_resume_job(NULL)'),
    ('SELECT jobchunk.jc_cancel_job(NULL)')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;
INSERT INTO crawl_jobs (id, name, state) VALUES (83, 'born cancelled', 'cancelled');
SELECT outcome('SELECT jobchunk.jc_create_chunks(83, 100)');

-- A paused job's chunks can still be created and retried; they wait.
INSERT INTO crawl_jobs (id, name) VALUES (84, 'created paused');
SELECT jc_pause_job(84);
SELECT count(*) FROM jc_create_chunks(84, 500);
SELECT status FROM jc_mark_processing((SELECT id FROM job_chunks WHERE job_id = 84));
SELECT status FROM jc_mark_failed((SELECT id FROM job_chunks WHERE job_id = 84), 'x');
SELECT status FROM jc_retry((SELECT id FROM job_chunks WHERE job_id = 84));
SELECT count(*) FROM jc_next_pending(84);

SELECT id, state FROM crawl_jobs ORDER BY id;

-- A cancel needs READ COMMITTED: with a transaction snapshot it could miss
-- a chunk a concurrent retry made pending.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT outcome('SELECT jobchunk.jc_cancel_job(80)');
ROLLBACK;

-- A job with chunks pending or processing is not purged, whatever its
-- state, and keeps everything.
SELECT fingerprint() AS before \gset
SELECT id, pending, processing, outcome('SELECT jobchunk.jc_purge_job(' || id || ')')
FROM (VALUES (80), (84)) AS t(id), LATERAL jc_statistics(id)
ORDER BY id;
SELECT fingerprint() = :'before' AS unchanged;
SELECT status FROM jc_mark_processing((SELECT id FROM job_chunks WHERE job_id = 84));
SELECT jc_cancel_job(84);
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_purge_job(84)'),
    ('SELECT jobchunk.jc_purge_job(99)'),
    ('SELECT jobchunk.jc_purge_job(NULL)')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

-- Nor is a job without chunks that is not cancelled: its chunks are still
-- to be created.
INSERT INTO crawl_jobs (id, name) VALUES (85, 'finished'), (86, 'not split yet');
SELECT count(*) FROM jc_create_chunks(85, 500);
SELECT status FROM jc_mark_completed((SELECT id FROM jc_next_pending(85)));
SELECT outcome('SELECT jobchunk.jc_purge_job(86)');

-- A finished job is purged, with its chunks and counts, whether cancelled
-- (82, 84; 83 never had chunks) or not (85): the call returns how many
-- chunks it had.  The other jobs keep theirs.
SELECT status FROM jc_mark_completed((SELECT id FROM job_chunks WHERE job_id = 84));
SELECT j.id, s.total, s.pending, s.processing, j.state
FROM crawl_jobs j, LATERAL jc_statistics(j.id) s ORDER BY j.id;
SELECT jc_purge_job(82), jc_purge_job(83), jc_purge_job(84), jc_purge_job(85);
SELECT j.id, (SELECT count(*) FROM job_chunks c WHERE c.job_id = j.id) AS chunks,
       (SELECT count(*) FROM job_counts k WHERE k.job_id = j.id) AS count_rows
FROM (VALUES (80), (81), (82), (83), (84), (85), (86)) AS j(id) ORDER BY j.id;
SELECT id, state FROM crawl_jobs ORDER BY id;
SELECT outcome('SELECT jobchunk.jc_purge_job(82)');
SELECT total, pending, completed FROM jc_statistics(80);

-- Purging by age: every job finished more than older_than ago, which is
-- when its counts or the job itself last changed, whichever is later.
-- Jobs 81 (cancelled) and 87 finished, and 90 was cancelled without
-- chunks, eight days ago (the times are set back by hand); so did 89, but
-- it is retried and finishes again today, as 88 finishes today.
-- Job 91 also finished eight days ago, but was paused today.  Job 80 is
-- unfinished and 86 has no chunks, though both changed eight days ago.
INSERT INTO crawl_jobs (id, name) VALUES
    (87, 'finished long ago'), (88, 'finished today'),
    (89, 'finished again today'), (90, 'cancelled long ago'),
    (91, 'paused today');
SELECT count(*) FROM jc_create_chunks(87, 1000);
SELECT count(*) FROM jc_create_chunks(88, 500);
SELECT count(*) FROM jc_create_chunks(89, 500);
SELECT count(*) FROM jc_create_chunks(91, 500);
SELECT count(*) FROM jc_mark_completed(ARRAY(SELECT id FROM jc_claim(87, 2)));
-- (Job 88 finishes in a transaction that began earlier: its counts take
-- the time of the completing statement, not of the transaction's start.)
BEGIN;
SELECT pg_sleep(0.01);
SELECT status FROM jc_mark_completed((SELECT id FROM jc_next_pending(88)));
SELECT max(updated_at) > now() AS stamped_by_statement FROM job_counts WHERE job_id = 88;
COMMIT;
SELECT status FROM jc_mark_failed((SELECT id FROM jc_next_pending(89)), 'x');
SELECT status FROM jc_mark_completed((SELECT id FROM jc_next_pending(91)));
SELECT jc_cancel_job(90);
UPDATE job_counts SET updated_at = updated_at - interval '8 days'
WHERE job_id IN (80, 81, 87, 89, 91);
UPDATE crawl_jobs SET updated_at = updated_at - interval '8 days'
WHERE id IN (80, 81, 86, 87, 89, 90, 91);
SELECT status FROM jc_retry((SELECT id FROM job_chunks WHERE job_id = 89));
SELECT status FROM jc_mark_completed((SELECT id FROM jc_next_pending(89)));
SELECT jc_pause_job(91);
SELECT j.id, j.state, s.total, s.pending, s.processing,
       (SELECT max(k.updated_at) FROM job_counts k WHERE k.job_id = j.id)
           < now() - interval '7 days' AS counts_old,
       j.updated_at < now() - interval '7 days' AS job_old
FROM crawl_jobs j, LATERAL jc_statistics(j.id) s ORDER BY j.id;

-- Seven days: 81, 87 and 90 go, with their chunks and counts.
SELECT * FROM jc_purge_jobs('7 days');
SELECT j.id, (SELECT count(*) FROM job_chunks c WHERE c.job_id = j.id) AS chunks,
       (SELECT count(*) FROM job_counts k WHERE k.job_id = j.id) AS count_rows
FROM (VALUES (81), (87), (90)) AS j(id) ORDER BY j.id;
SELECT * FROM jc_purge_jobs('7 days');

-- Zero: every finished job, so 88, 89 and 91 too; 80 keeps its chunks.
SELECT count(*) AS chunks_before FROM job_chunks WHERE job_id = 80 \gset
SELECT * FROM jc_purge_jobs('0');
SELECT id, state FROM crawl_jobs ORDER BY id;
SELECT count(*) = :chunks_before AS kept FROM job_chunks WHERE job_id = 80;

-- Purging takes back expired leases first, as a claim would (the leases
-- are set back here, rather than waited for): jc_purge_job those of its
-- job, jc_purge_jobs those of every job.  A cancelled job whose last worker
-- died is then purged without waiting for a claim: its chunk fails ('job
-- cancelled'), and the job is finished.
INSERT INTO crawl_jobs (id, name) VALUES (92, 'cancelled, by age'),
    (93, 'cancelled, by age'), (94, 'active'), (95, 'cancelled'),
    (96, 'active');
SELECT count(*) FROM generate_series(92, 96) AS id, LATERAL jc_create_chunks(id, 500);
SELECT count(*) FROM generate_series(92, 96) AS id, LATERAL jc_next_pending(id);
SELECT jc_cancel_job(92), jc_cancel_job(93), jc_cancel_job(95);

-- An active job's chunk goes back to pending, so the job is not finished:
-- the purge is refused and, like every refusal, changes nothing.
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE job_id = 96;
SELECT fingerprint() AS before \gset
SELECT outcome('SELECT jobchunk.jc_purge_job(96)');
SELECT fingerprint() = :'before' AS unchanged;

UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE job_id = 95;
SELECT j.id, p.processing_chunks, p.is_complete
FROM crawl_jobs AS j, LATERAL jc_progress(j.id) AS p
WHERE j.id IN (95, 96) ORDER BY j.id;
SELECT jc_purge_job(95);
SELECT job_id, status, error_message FROM job_chunks WHERE job_id IN (95, 96);

-- By age: the chunks of 92 and 93 fail now, so the jobs finish now, and a
-- later call purges them; 94's and 96's become pending.
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE job_id IN (92, 93, 94);
SELECT * FROM jc_purge_jobs('0');
SELECT job_id, status, error_message, lease_expires_at
FROM job_chunks WHERE job_id IN (92, 93, 94, 96) ORDER BY job_id;
SELECT * FROM jc_purge_jobs('0');
SELECT id, state FROM crawl_jobs ORDER BY id;

-- More expired leases than one batch of the purge's take-back (1,000).
INSERT INTO crawl_jobs (id, name) VALUES (97, 'a fleet gone');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(97, 1200);
RESET jobchunk.chunk_size;
SELECT count(*) FROM jc_claim(97, 1200);
SELECT jc_cancel_job(97);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE job_id = 97;
SELECT jc_purge_job(97);
SELECT count(*) AS left_over FROM job_chunks WHERE job_id = 97;

-- Job 0 is a job like any other: purging it takes back its own expired
-- leases, not every job's (0 once stood for "any job" inside the library).
INSERT INTO crawl_jobs (id, name) VALUES (0, 'job zero'), (98, 'active');
SELECT count(*) FROM jc_create_chunks(98, 500);
SELECT count(*) FROM jc_next_pending(98);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE job_id = 98;
SELECT jc_cancel_job(0);
SELECT jc_purge_job(0);
SELECT job_id, status, retry_count, error_message FROM job_chunks WHERE job_id = 98;
DELETE FROM crawl_jobs WHERE id = 98;
