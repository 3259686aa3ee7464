--
-- jc_next_pending: claiming the next chunk
--
SET search_path = jobchunk, public;

-- Start from no chunks, so that claims from any job see only these.
DELETE FROM crawl_jobs;

INSERT INTO crawl_jobs (id, name) VALUES (20, 'low'), (21, 'high'), (22, 'empty');
SELECT count(*) FROM jc_create_chunks(20, 1500, 2);
SELECT count(*) FROM jc_create_chunks(21, 1000, 9);

-- A job's chunks come in chunk order, each becoming processing with the
-- caller's task id.
SELECT job_id, chunk_index, status, task_id, updated_at = now() AS stamped
FROM jc_next_pending(20, 'w1');
SELECT job_id, chunk_index, status, task_id FROM jc_next_pending(20);

-- Across all jobs the higher priority comes first.
SELECT job_id, chunk_index, task_id FROM jc_next_pending(NULL, 'w2');
SELECT job_id, chunk_index FROM jc_next_pending();
SELECT job_id, chunk_index FROM jc_next_pending();

-- Across jobs at one priority, the jobs take turns, in job id order from the
-- job served last; within a job older chunks come first, then lower ids: one
-- of job 25's chunks is made an hour older.
INSERT INTO crawl_jobs (id, name) VALUES (23, 'older'), (25, 'newer');
SELECT count(*) FROM jc_create_chunks(23, 1000, 2);
SELECT count(*) FROM jc_create_chunks(25, 1000, 2);
UPDATE job_chunks SET created_at = created_at - interval '1 hour'
WHERE job_id = 25 AND chunk_index = 1;
SELECT job_id, chunk_index FROM jc_next_pending();
-- A claim undone by a rollback, of its transaction or of a savepoint, gives
-- its job's turn back: job 25 is still the next one served.
BEGIN;
SELECT job_id, chunk_index FROM jc_next_pending();
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT job_id, chunk_index FROM jc_next_pending();
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT job_id, chunk_index FROM jc_next_pending();
SELECT job_id, chunk_index FROM jc_next_pending();
SELECT job_id, chunk_index FROM jc_next_pending();

-- A job with many chunks does not starve a newer one at the same priority:
-- job 26 has 100 chunks, job 27 three, made later; claims alternate.
INSERT INTO crawl_jobs (id, name) VALUES (26, 'big'), (27, 'small');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(26, 100, 4);
SELECT count(*) FROM jc_create_chunks(27, 3, 4);
RESET jobchunk.chunk_size;
CREATE TEMP TABLE claims (n int, claim text);
DO $$
BEGIN
    FOR n IN 1..8 LOOP
        INSERT INTO claims
        SELECT n, job_id || '/' || chunk_index FROM jobchunk.jc_next_pending();
    END LOOP;
END
$$;
SELECT string_agg(claim, ' ' ORDER BY n) AS claims FROM claims;
-- A higher priority still comes first: a new job at priority 5 goes ahead.
INSERT INTO crawl_jobs (id, name) VALUES (28, 'urgent');
SELECT count(*) FROM jc_create_chunks(28, 500, 5);
SELECT job_id, chunk_index FROM jc_next_pending();
SELECT job_id, chunk_index FROM jc_next_pending();
-- Finish the rest of the big job, so that the claims below see only the
-- chunks they are about.
SELECT count(*) FROM jc_mark_completed(ARRAY(SELECT id FROM jc_claim(26, 1000)));

-- A retried chunk is pending again and claimable in its old place.
SELECT status FROM jc_mark_failed((SELECT id FROM job_chunks WHERE job_id = 20 AND chunk_index = 0), 'x');
SELECT retry_count FROM jc_retry((SELECT id FROM job_chunks WHERE job_id = 20 AND chunk_index = 0));
SELECT job_id, chunk_index, retry_count FROM jc_next_pending(20);

-- Nothing left to claim: no row, for a job and for all jobs.
SELECT count(*) FROM jc_next_pending(20);
SELECT count(*) FROM jc_next_pending(22);
SELECT count(*) FROM jc_next_pending();
SELECT status, count(*) FROM job_chunks GROUP BY status ORDER BY status;

-- Errors change nothing.
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_next_pending(99)'),
    ('SELECT jobchunk.jc_next_pending(20, repeat(''x'', 256))'),
    ('SELECT jobchunk.jc_next_pending(NULL, repeat(''x'', 256))')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

-- The reference's "process all chunks" loop: claim, work, complete or fail.
INSERT INTO crawl_jobs (id, name) VALUES (24, 'process all');
SELECT count(*) FROM jc_create_chunks(24, 5000);
DO $$
DECLARE
    chunk jobchunk.job_chunks;
BEGIN
    LOOP
        SELECT * INTO chunk FROM jobchunk.jc_next_pending(24, 'loop');
        EXIT WHEN NOT FOUND;
        IF chunk.chunk_index % 4 = 3 THEN
            PERFORM jobchunk.jc_mark_failed(chunk.id, 'Timeout');
        ELSE
            PERFORM jobchunk.jc_mark_completed(chunk.id);
        END IF;
    END LOOP;
END
$$;
SELECT status, count(*), string_agg(chunk_index::text, ',' ORDER BY chunk_index)
FROM job_chunks WHERE job_id = 24 GROUP BY status ORDER BY status;

-- A job created earlier in the claim's own statement exists for the claim:
-- no chunk to claim, and no error.
SELECT count(*) FROM jc_next_pending(jc_create_job('created by the statement'));
DELETE FROM crawl_jobs WHERE name = 'created by the statement';
