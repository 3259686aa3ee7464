--
-- jc_job, jc_jobs, jc_chunks and jc_chunk: reading jobs and chunks
--
SET search_path = jobchunk, public;

INSERT INTO crawl_jobs (id, name) VALUES (30, 'read'), (31, 'no chunks');
SELECT count(*) FROM jc_create_chunks(30, 3000);
SELECT min(id) AS c0 FROM job_chunks WHERE job_id = 30 \gset
SELECT status FROM jc_mark_processing(:c0 + 4);
SELECT status FROM jc_mark_processing(:c0 + 1);
SELECT status FROM jc_mark_completed(:c0 + 1);
SELECT status FROM jc_mark_processing(:c0 + 3);
SELECT status FROM jc_mark_failed(:c0 + 3, 'x');

-- All chunks of a job, in chunk_index order.
SELECT chunk_index, status FROM jc_chunks(30);

-- Each status: the reference's get_pending/processing/completed/failed_chunks.
SELECT s AS status, array(SELECT chunk_index FROM jc_chunks(30, s)) AS chunks
FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed']) AS s;

-- A job without chunks has none; a job without chunks in a status too.
SELECT count(*) FROM jc_chunks(31);
SELECT count(*) FROM jc_chunks(31, 'failed');

-- One chunk by id; no row when it does not exist.
SELECT chunk_index, status, image_range FROM jc_chunk(:c0 + 3);
SELECT count(*) FROM jc_chunk(-1);

-- One job by id, with its state; no row when it does not exist.  Its
-- times are those of the row.
SELECT id, name, state FROM jc_job(30);
SELECT jc_pause_job(31);
SELECT id, name, state FROM jc_job(31);
SELECT j.created_at = c.created_at AND j.updated_at = c.updated_at AS same_times
FROM jc_job(31) AS j, crawl_jobs AS c WHERE c.id = 31;
-- Every job, in id order, with the same columns and values: paused,
-- cancelled and active ones, and two thousand more, which a list cut short
-- would miss.
BEGIN;
INSERT INTO crawl_jobs (id, name) VALUES (32, 'to cancel');
SELECT jc_cancel_job(32);
INSERT INTO crawl_jobs (id, name) SELECT g, 'many' FROM generate_series(100001, 102000) AS g;
SELECT state, count(*) FROM jc_jobs() GROUP BY state ORDER BY state;
SELECT (SELECT array_agg(j.id) FROM jc_jobs() AS j)
       = (SELECT array_agg(c.id ORDER BY c.id) FROM crawl_jobs AS c) AS every_job_in_id_order;
SELECT count(*) AS differing FROM jc_jobs() AS j FULL JOIN crawl_jobs AS c USING (id)
WHERE (j.name, j.state, j.created_at, j.updated_at)
      IS DISTINCT FROM (c.name, c.state, c.created_at, c.updated_at);
ROLLBACK;
SELECT id, name, state FROM jc_jobs() WHERE id IN (30, 31);
SELECT jc_resume_job(31);
SELECT count(*) FROM jc_job(-1);
-- jobchunk's columns only: not one an application added, which the
-- table's privileges guard.
BEGIN;
ALTER TABLE crawl_jobs ADD COLUMN api_token text DEFAULT 'secret';
SELECT string_agg(k, ', ') AS columns FROM jc_job(30) AS j, jsonb_object_keys(to_jsonb(j)) AS k;
SELECT string_agg(k, ', ') AS columns FROM jc_jobs() AS j, jsonb_object_keys(to_jsonb(j)) AS k
WHERE j.id = 30;
ROLLBACK;
-- No job, no row.
BEGIN;
DELETE FROM job_counts;
DELETE FROM job_chunks;
DELETE FROM crawl_jobs;
SELECT count(*) FROM jc_jobs();
ROLLBACK;

-- Errors.
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_chunks(99)'),
    ('SELECT jobchunk.jc_chunks(99, ''pending'')'),
    ('SELECT jobchunk.jc_chunks(30, ''done'')'),
    ('SELECT jobchunk.jc_chunks(30, ''PENDING'')'),
    ('SELECT jobchunk.jc_chunks(NULL)'),
    ('SELECT jobchunk.jc_chunk(NULL)'),
    ('SELECT jobchunk.jc_job(NULL)')
) AS t(sql);
-- An unknown status is quoted up to 100 characters, in ASCII: a client
-- encoding that cannot show the others (LATIN1 has no euro sign) still
-- gets the 22023, and a long one is not sent back whole.
SET client_encoding = 'LATIN1';
SELECT count(*) FROM jc_chunks(30, U&'\20AC' || repeat('x', 1000));
RESET client_encoding;
