--
-- ALTER EXTENSION jobchunk UPDATE from 1.0 through 1.1, 1.2, 1.3, 1.4, 1.5,
-- 1.6, 1.7, 1.8, 1.9 and 1.10 to 1.11, holding data: the data survive,
-- chunks in flight get a lease, the counts a time of change, and the new
-- functions work; then back to 1.10 and 1.9, and forward again.
--
CREATE EXTENSION jobchunk VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SET search_path = jobchunk, public;

-- A column added to job_chunks and dropped again, before the updates add
-- theirs after it: the row type keeps a dropped column in the middle, which
-- the functions' own rows (RETURNING c.*) do not have.
ALTER TABLE job_chunks ADD COLUMN scratch integer;
ALTER TABLE job_chunks DROP COLUMN scratch;

-- The rows 1.0 left behind.  The library installed is already 1.11's, which
-- refuses to run on older definitions: the rows are written directly.
INSERT INTO crawl_jobs (name) VALUES ('old'), ('older');
INSERT INTO job_chunks (job_id, chunk_index, status, priority, image_range,
                        error_message, retry_count, task_id)
VALUES (1, 0, 'completed', 7, '{"start": 0, "end": 499}', NULL, 0, 'old-1'),
       (1, 1, 'processing', 7, '{"start": 500, "end": 999}', NULL, 0, 'old-2'),
       (1, 2, 'pending', 7, '{"start": 1000, "end": 1499}', 'Timeout', 1, NULL),
       (1, 3, 'pending', 7, '{"start": 1500, "end": 1999}', NULL, 0, NULL),
       (1, 4, 'failed', 7, '{"start": 2000, "end": 2499}', 'Gone', 3, 'old-3'),
       (2, 0, 'processing', 5, '{"start": 0, "end": 499}', NULL, 0, 'old-2'),
       (2, 1, 'pending', 5, '{"start": 500, "end": 999}', NULL, 0, NULL);

SELECT outcome('SELECT jobchunk.jc_next_pending(1)');
SELECT outcome('SELECT jobchunk.jc_statistics(1)');

CREATE TEMP TABLE before AS
SELECT id, job_id, chunk_index, status, priority, image_range, error_message,
       retry_count, task_id, created_at, updated_at
FROM job_chunks;
CREATE TEMP TABLE jobs_before AS SELECT * FROM crawl_jobs;

ALTER EXTENSION jobchunk UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';

-- Every row kept its values.
SELECT count(*) AS chunks, count(*) FILTER (WHERE b IS NOT DISTINCT FROM
    (SELECT x FROM (SELECT id, job_id, chunk_index, status, priority, image_range,
                           error_message, retry_count, task_id, created_at, updated_at
                    FROM job_chunks c WHERE c.id = b.id) x)) AS unchanged
FROM before b;
SELECT count(*) AS jobs FROM jobs_before b JOIN crawl_jobs j USING (id)
WHERE (b.name, b.created_at, b.updated_at) IS NOT DISTINCT FROM (j.name, j.created_at, j.updated_at);

-- Chunks in flight hold a lease of five minutes from the update, token 1.
SELECT id, status, lease_token,
       lease_expires_at BETWEEN now() AND now() + interval '5 minutes' AS leased
FROM job_chunks ORDER BY id;
SELECT id, state FROM crawl_jobs ORDER BY id;

-- The library runs none of 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7 and 1.8; it
-- runs 1.9, 1.10 and 1.11.
SELECT outcome('SELECT jobchunk.jc_statistics(1)');
ALTER EXTENSION jobchunk UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT outcome('SELECT jobchunk.jc_statistics(1)');

-- The counts keep their values, and count as changed at the update.
CREATE TEMP TABLE counts_before AS SELECT * FROM job_counts;
BEGIN;
ALTER EXTENSION jobchunk UPDATE TO '1.3';
SELECT count(*) AS stripes,
       count(*) FILTER (WHERE (b.total, b.processing, b.completed, b.failed)
                              = (k.total, k.processing, k.completed, k.failed)
                        AND k.updated_at = now()) AS kept_and_stamped
FROM counts_before b JOIN job_counts k USING (job_id, stripe);
COMMIT;
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT outcome('SELECT jobchunk.jc_statistics(1)');
ALTER EXTENSION jobchunk UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
-- Each job with chunks has all 64 stripes now, the new ones zero.
SELECT job_id, count(*) AS stripes, sum(total) AS total
FROM job_counts GROUP BY job_id ORDER BY job_id;
SELECT outcome('SELECT jobchunk.jc_statistics(1)');
-- 1.5: the six check constraints of job_chunks become one, which every row
-- passes.  Its function may be run by anyone, since every writer of the
-- table runs it: even where default privileges revoke EXECUTE from PUBLIC.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER EXTENSION jobchunk UPDATE TO '1.5';
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
SELECT count(*) AS default_acls FROM pg_default_acl;
SELECT has_function_privilege('public',
    'jc_chunk_is_valid(text, timestamptz, integer, integer, integer, bigint)',
    'EXECUTE') AS anyone_may_check;
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT conname, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE conrelid = 'job_chunks'::regclass AND contype = 'c';
SELECT count(*) AS chunks, count(*) FILTER (WHERE b IS NOT DISTINCT FROM
    (SELECT x FROM (SELECT id, job_id, chunk_index, status, priority, image_range,
                           error_message, retry_count, task_id, created_at, updated_at
                    FROM job_chunks c WHERE c.id = b.id) x)) AS unchanged
FROM before b;
SELECT outcome('SELECT jobchunk.jc_statistics(1)');
-- 1.6: expired leases are found by their expiry alone.
ALTER EXTENSION jobchunk UPDATE TO '1.6';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT pg_get_indexdef('job_chunks_lease_idx'::regclass);
SELECT outcome('SELECT jobchunk.jc_statistics(1)');
-- 1.7: the claims plan without incremental sort.
ALTER EXTENSION jobchunk UPDATE TO '1.7';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT proname, proconfig FROM pg_proc
WHERE pronamespace = 'jobchunk'::regnamespace AND proconfig <> '{"search_path=pg_catalog, pg_temp"}'
ORDER BY 1;
SELECT outcome('SELECT jobchunk.jc_statistics(1)');
-- 1.8: heartbeats of many.
ALTER EXTENSION jobchunk UPDATE TO '1.8';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT outcome('SELECT jobchunk.jc_statistics(1)');
-- 1.9: giving chunks back.  The library runs it as it is: calls work
-- before the update to 1.10, which only adds jc_job and jc_shard.
ALTER EXTENSION jobchunk UPDATE TO '1.9';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT total, pending, processing FROM jc_statistics(1);
SELECT outcome('SELECT jobchunk.jc_job(1)');
-- 1.10: reading a job.  The library runs it as it is too.
ALTER EXTENSION jobchunk UPDATE TO '1.10';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT id, name, state FROM jc_job(1);
SELECT outcome('SELECT jobchunk.jc_jobs()');
-- 1.11: listing the jobs.
ALTER EXTENSION jobchunk UPDATE TO '1.11';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT id, name, state FROM jc_jobs();

-- The new and changed functions work on the old data.
SELECT date_trunc('second', jc_heartbeat(2, 1, interval '1 hour') - now()) AS lease;
SELECT id, date_trunc('second', lease_expires_at - now()) AS lease
FROM jc_heartbeat_batch('{2}', '{1}', interval '2 hours');
SELECT id, status FROM jc_mark_completed(2, 1);
SELECT id, chunk_index,
       lease_token BETWEEN
           (extract(epoch FROM statement_timestamp() - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint
           AND (extract(epoch FROM clock_timestamp() - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint
           AS clock_token
FROM jc_claim(1, 2, 'new');
SELECT id, status, retry_count, task_id FROM jc_release('{3}',
    (SELECT array_agg(lease_token) FROM job_chunks WHERE id = 3));
SELECT id, chunk_index FROM jc_claim(1, 1, 'again');
SELECT id, status FROM jc_mark_completed(ARRAY[3, 4]::bigint[],
    (SELECT array_agg(lease_token ORDER BY id) FROM job_chunks WHERE id IN (3, 4)));
SELECT jc_pause_job(2);
SELECT count(*) FROM jc_next_pending(2);
SELECT id, name, state FROM jc_job(2);
SELECT jc_cancel_job(2);
SELECT * FROM jc_statistics(1);
SELECT * FROM jc_statistics(2);
SELECT jc_purge_job(1);
SELECT outcome('SELECT jobchunk.jc_purge_job(2)');
SELECT id FROM crawl_jobs ORDER BY id;
SELECT * FROM jc_purge_jobs('0');
SELECT id, status FROM jc_mark_completed(6, 1);
SELECT * FROM jc_purge_jobs('0');
SELECT id FROM crawl_jobs ORDER BY id;
-- 1.4: jobs by a call; a database with jobs cannot become a shard.
SELECT jc_create_job('newest');
SELECT id, name, state FROM crawl_jobs ORDER BY id;
SELECT outcome('SELECT jobchunk.jc_set_shard(1)');

-- Back to 1.10 and to 1.9, as before the library of either is installed
-- again, and forward: jc_jobs, then jc_job and jc_shard go and come back,
-- and the other calls work throughout.  An object of the user's that calls
-- one of them holds the way back; grants made on the functions are gone
-- when they come back.
GRANT EXECUTE ON FUNCTION jc_jobs() TO PUBLIC;
CREATE VIEW public.job_list AS SELECT * FROM jobchunk.jc_jobs();
SELECT outcome($$ALTER EXTENSION jobchunk UPDATE TO '1.10'$$);
DROP VIEW public.job_list;
ALTER EXTENSION jobchunk UPDATE TO '1.10';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT outcome('SELECT jobchunk.jc_jobs()');
SELECT id, name, state FROM jc_job((SELECT max(id) FROM crawl_jobs));
CREATE VIEW public.job_states AS SELECT * FROM jobchunk.jc_job(1);
SELECT outcome($$ALTER EXTENSION jobchunk UPDATE TO '1.9'$$);
DROP VIEW public.job_states;
GRANT EXECUTE ON FUNCTION jc_job(bigint) TO PUBLIC;
ALTER EXTENSION jobchunk UPDATE TO '1.9';
SELECT extversion FROM pg_extension WHERE extname = 'jobchunk';
SELECT outcome('SELECT jobchunk.jc_job(1)');
SELECT outcome('SELECT jobchunk.jc_shard()');
SELECT count(*) FROM jc_create_chunks((SELECT max(id) FROM crawl_jobs), 1000);
SELECT (jc_mark_completed(c.id, c.lease_token)).status
FROM jc_claim((SELECT max(id) FROM crawl_jobs), 1, 'at 1.9') AS c;
SELECT total, pending, completed FROM jc_statistics((SELECT max(id) FROM crawl_jobs));
ALTER EXTENSION jobchunk UPDATE TO '1.11';
SELECT name, state FROM jc_job((SELECT max(id) FROM crawl_jobs));
SELECT jc_shard();
SELECT count(*) AS jobs FROM jc_jobs();
SELECT p.oid::regprocedure AS function, count(a.grantee) AS public_grants
FROM pg_proc AS p
LEFT JOIN aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a ON a.grantee = 0
WHERE p.oid IN ('jobchunk.jc_job(bigint)'::regprocedure, 'jobchunk.jc_jobs()'::regprocedure)
GROUP BY p.oid ORDER BY 1;

DROP EXTENSION jobchunk;
DROP SCHEMA jobchunk;
DROP FUNCTION public.outcome(text);
DROP FUNCTION public.fingerprint();
