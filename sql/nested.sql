--
-- jobchunk calls made by a trigger on the extension's tables while the
-- statement that fired it runs: a completion that completes the next chunk
-- after a schema change has made every plan be remade (the plan of the
-- statement that fired the trigger is freed only when the transaction
-- ends), and a claim that claims again from the same job (each works on a
-- copy of the backend's position in the job); and triggers that skip the
-- rows a call inserts, which it refuses, changing nothing; jobchunk
-- functions made by hand in another schema, called from a trigger or
-- declared unlike the library's; and changes of other functions and
-- schemas, which leave the plans alone.
--
SET search_path = jobchunk, public;
INSERT INTO crawl_jobs (id, name) VALUES (110, 'nested');
SELECT count(*) FROM jc_create_chunks(110, 3000);
SELECT min(id) AS c0 FROM job_chunks WHERE job_id = 110 \gset

CREATE FUNCTION public.nested() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.chunk_index = 0 AND NEW.status = 'completed' THEN
        ALTER SCHEMA jobchunk RENAME TO jobchunk_renamed;
        ALTER SCHEMA jobchunk_renamed RENAME TO jobchunk;
        PERFORM jobchunk.jc_mark_completed(NEW.id + 1);
    ELSIF NEW.chunk_index = 2 AND NEW.status = 'processing' THEN
        PERFORM jobchunk.jc_next_pending(110, 'nested');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER nested AFTER UPDATE ON job_chunks
FOR EACH ROW EXECUTE FUNCTION public.nested();

-- Chunks 0 and 1 are claimed; completing 0 completes 1 from the trigger.
SELECT chunk_index, status FROM jc_claim(110, 2, 'outer');
SELECT chunk_index, status FROM jc_mark_completed(:c0);
-- Claiming 2 claims 3 from the trigger; the next claim goes on with 4.
SELECT chunk_index, task_id FROM jc_next_pending(110, 'outer');
SELECT chunk_index, task_id FROM jc_next_pending(110, 'outer');

SELECT chunk_index, status, task_id FROM jc_chunks(110);
SELECT total, pending, processing, completed, failed FROM jc_statistics(110);

DROP TRIGGER nested ON job_chunks;
DROP FUNCTION public.nested();
DELETE FROM crawl_jobs WHERE id = 110;

-- A jobchunk function made by hand in another schema, called from a trigger
-- while a call runs: the call's later statements still run against its own
-- schema's tables, and the other schema's stay empty.
CREATE SCHEMA nested_other;
CREATE TABLE nested_other.crawl_jobs (LIKE crawl_jobs INCLUDING ALL);
CREATE TABLE nested_other.job_chunks (LIKE job_chunks INCLUDING ALL);
CREATE TABLE nested_other.job_counts (LIKE job_counts INCLUDING ALL);
CREATE FUNCTION nested_other.jc_chunk(chunk_id bigint) RETURNS SETOF job_chunks
AS '$libdir/jobchunk', 'jc_chunk' LANGUAGE C;
CREATE FUNCTION public.other_schema() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nested_other.jc_chunk(0);
    RETURN NEW;
END
$$;
CREATE TRIGGER other_schema BEFORE UPDATE ON crawl_jobs
FOR EACH ROW EXECUTE FUNCTION public.other_schema();
INSERT INTO crawl_jobs (id, name) VALUES (111, 'other schema');
SELECT count(*) FROM jc_create_chunks(111, 1000);
SELECT (SELECT count(*) FROM job_chunks WHERE job_id = 111) AS chunks,
       (SELECT count(*) FROM job_counts WHERE job_id = 111) AS stripes,
       (SELECT count(*) FROM nested_other.job_chunks) AS other_chunks,
       (SELECT count(*) FROM nested_other.job_counts) AS other_stripes;
DROP TRIGGER other_schema ON crawl_jobs;
DROP FUNCTION public.other_schema();
DROP FUNCTION nested_other.jc_chunk(bigint);
-- Such a function may leave its arguments unnamed: a NULL is refused by
-- the argument's number.
CREATE FUNCTION nested_other.jc_pause_job(bigint) RETURNS void
AS '$libdir/jobchunk', 'jc_pause_job' LANGUAGE C;
SELECT nested_other.jc_pause_job(NULL);
DROP FUNCTION nested_other.jc_pause_job(bigint);
-- Or declare a result of other columns than the library's.
CREATE FUNCTION nested_other.jc_progress(INOUT job_id bigint, OUT total bigint,
    OUT pending bigint, OUT processing bigint, OUT completed bigint,
    OUT failed bigint, OUT completion numeric, OUT success numeric,
    OUT is_complete boolean, OUT at timestamptz, OUT extra bigint)
AS '$libdir/jobchunk', 'jc_progress' LANGUAGE C;
SELECT * FROM nested_other.jc_progress(111);
DROP FUNCTION nested_other.jc_progress(bigint);
DROP TABLE nested_other.job_counts, nested_other.job_chunks, nested_other.crawl_jobs;
DROP SCHEMA nested_other;
DELETE FROM crawl_jobs WHERE id = 111;

-- A trigger that skips the new job, or some of the new chunks: the call is
-- refused (09000), and changes nothing.
CREATE FUNCTION public.skip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'crawl_jobs' THEN
        RETURN NULL;
    ELSIF TG_TABLE_NAME = 'job_counts' THEN
        IF NEW.stripe % 2 = 1 THEN
            RETURN NULL;
        END IF;
    ELSIF NEW.chunk_index % 2 = 1 THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
INSERT INTO crawl_jobs (id, name) VALUES (111, 'half skipped');
CREATE TRIGGER skip BEFORE INSERT ON crawl_jobs
FOR EACH ROW EXECUTE FUNCTION public.skip();
CREATE TRIGGER skip BEFORE INSERT ON job_chunks
FOR EACH ROW EXECUTE FUNCTION public.skip();
SELECT fingerprint() AS before \gset
SELECT outcome('SELECT jobchunk.jc_create_job(''skipped'')');
SELECT outcome('SELECT count(*) FROM jobchunk.jc_create_chunks(111, 4000)');
SELECT fingerprint() = :'before' AS unchanged;
DROP TRIGGER skip ON crawl_jobs;
DROP TRIGGER skip ON job_chunks;
-- A trigger that skips every change of a job: creating chunks, pausing,
-- resuming (job 113 is paused) and cancelling are refused too, rather than
-- doing nothing.
INSERT INTO crawl_jobs (id, name) VALUES (113, 'paused');
SELECT jc_pause_job(113);
CREATE TRIGGER skip BEFORE UPDATE ON crawl_jobs
FOR EACH ROW EXECUTE FUNCTION public.skip();
SELECT fingerprint() AS before \gset
SELECT outcome('SELECT count(*) FROM jobchunk.jc_create_chunks(111, 4000)');
SELECT outcome('SELECT jobchunk.jc_create_chunks(-1, 4000)');
SELECT outcome('SELECT jobchunk.jc_pause_job(111)');
SELECT outcome('SELECT jobchunk.jc_resume_job(113)');
SELECT outcome('SELECT jobchunk.jc_cancel_job(111)');
SELECT fingerprint() = :'before' AS unchanged;
DROP TRIGGER skip ON crawl_jobs;
DELETE FROM crawl_jobs WHERE id = 113;
-- A trigger that skips some of a new job's counts, or some of the chunks a
-- cancel fails: refused too (the counts would not match the rows; a
-- cancelled job with pending chunks would never finish).
CREATE TRIGGER skip BEFORE INSERT ON job_counts
FOR EACH ROW EXECUTE FUNCTION public.skip();
SELECT fingerprint() AS before \gset
SELECT outcome('SELECT count(*) FROM jobchunk.jc_create_chunks(111, 4000)');
SELECT fingerprint() = :'before' AS unchanged;
DROP TRIGGER skip ON job_counts;
SELECT count(*) FROM jc_create_chunks(111, 4000);
SELECT status FROM jc_mark_failed((jc_mark_processing(
    (SELECT id FROM job_chunks WHERE job_id = 111 AND chunk_index = 1))).id, 'odd');
SELECT array_agg(c.id ORDER BY c.id) AS held, array_agg(c.lease_token ORDER BY c.id) AS tokens
FROM job_chunks AS k, jc_mark_processing(k.id) AS c
WHERE k.job_id = 111 AND k.chunk_index IN (4, 5) \gset
CREATE TRIGGER skip BEFORE UPDATE ON job_chunks
FOR EACH ROW EXECUTE FUNCTION public.skip();
SELECT fingerprint() AS before \gset
SELECT outcome('SELECT jobchunk.jc_cancel_job(111)');
-- A batch heartbeat of chunks held, one of whose changes a trigger skipped,
-- is refused (09000) rather than reporting that chunk lost.
SELECT replace(outcome(format('SELECT jobchunk.jc_heartbeat_batch(%L, %L)',
                              :'held', :'tokens')),
               (:'held'::bigint[])[2]::text, '<id of chunk 5>') AS heartbeat_batch;
-- So is a release.
SELECT replace(outcome(format('SELECT jobchunk.jc_release(%L, %L)', :'held', :'tokens')),
               (:'held'::bigint[])[2]::text, '<id of chunk 5>') AS release;
-- A change of a chunk by id that a trigger skipped is refused as one that
-- met a concurrent change (55000), the retry too, whose limit and job allow it.
SELECT c.chunk_index,
       replace(outcome(format('SELECT jobchunk.jc_%s(%s)', f, c.id)), c.id::text, '<id>')
FROM job_chunks AS c, (VALUES ('mark_processing'), ('retry')) AS t(f)
WHERE c.job_id = 111 AND c.chunk_index IN (1, 3)
AND c.status = CASE f WHEN 'retry' THEN 'failed' ELSE 'pending' END
ORDER BY c.chunk_index;
SELECT fingerprint() = :'before' AS unchanged;
DROP TRIGGER skip ON job_chunks;
SELECT count(*) FROM jc_mark_completed(:'held'::bigint[], :'tokens'::bigint[]);
-- A trigger that skips the deletion of a finished job: jc_purge_job is
-- refused, and jc_purge_jobs does not report it purged.
SELECT jc_cancel_job(111);
CREATE TRIGGER skip BEFORE DELETE ON crawl_jobs
FOR EACH ROW EXECUTE FUNCTION public.skip();
SELECT fingerprint() AS before \gset
SELECT outcome('SELECT jobchunk.jc_purge_job(111)');
SELECT fingerprint() = :'before' AS unchanged;
BEGIN;  -- (other tests' finished jobs are purged too: rolled back)
SELECT count(*) FILTER (WHERE job_id = 111) AS reported_purged
FROM jc_purge_jobs('0');
SELECT count(*) AS still_there FROM crawl_jobs WHERE id = 111;
ROLLBACK;
DROP TRIGGER skip ON crawl_jobs;
DROP FUNCTION public.skip();
SELECT jc_purge_job(111);

-- A transaction that calls jobchunk after each of 2,000 changes of a
-- function of its own and of the schema public, and of jobchunk's schema
-- (renamed and back), keeps no plan it replaced: changes of other functions
-- and schemas leave the plans alone, and a plan replaced while no jobchunk
-- statement runs is freed at once.  (When every change of any function
-- retired the plans in use, each kept until the transaction ended, this
-- grew by about 100 MB.)
INSERT INTO crawl_jobs (id, name) VALUES (112, 'functions changed');
SELECT count(*) FROM jc_create_chunks(112, 3000);
DO $$
DECLARE
    before bigint := (SELECT sum(total_bytes) FROM pg_catalog.pg_backend_memory_contexts);
BEGIN
    FOR i IN 1 .. 2000 LOOP
        EXECUTE format('CREATE OR REPLACE FUNCTION pg_temp.churn() RETURNS int '
                       'LANGUAGE sql AS %L', 'SELECT ' || i);
        GRANT USAGE ON SCHEMA public TO PUBLIC;
        ALTER SCHEMA jobchunk RENAME TO jobchunk_renamed;
        ALTER SCHEMA jobchunk_renamed RENAME TO jobchunk;
        PERFORM jobchunk.jc_is_complete(112);
        PERFORM jobchunk.jc_statistics(112);
    END LOOP;
    RAISE NOTICE 'memory grew by less than 10 MB: %',
        (SELECT sum(total_bytes) FROM pg_catalog.pg_backend_memory_contexts)
        - before < 10000000;
END
$$;
DELETE FROM crawl_jobs WHERE id = 112;
