--
-- The statements the functions run use the intended indexes, and none scans
-- job_chunks sequentially, on a table large enough for the planner to care.
-- The scans are read from the statistics views around each call, so that it
-- is the functions' own statements that are checked.
--
SET search_path = jobchunk, public;

DELETE FROM crawl_jobs;
INSERT INTO crawl_jobs (id, name) VALUES (90, 'big'), (91, 'small');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(90, 100000);
SELECT count(*) FROM jc_create_chunks(91, 100);
RESET jobchunk.chunk_size;
ANALYZE crawl_jobs, job_chunks, job_counts;

-- The scans of each table and index of the extension so far.
CREATE FUNCTION pg_temp.scans() RETURNS TABLE (relation name, scans bigint)
LANGUAGE sql AS $$
    SELECT relname || ' (seq)', seq_scan FROM pg_stat_user_tables
    WHERE schemaname = 'jobchunk'
    UNION ALL
    SELECT indexrelname, idx_scan FROM pg_stat_user_indexes
    WHERE schemaname = 'jobchunk'
$$;
CREATE TEMP TABLE before_call (relation name, scans bigint);

-- used(sql) runs the statement, repeated so that kept plans turn generic;
-- report() then lists job_chunks and those of its indexes that were scanned
-- (the other tables are small, and the planner may read them whole).
CREATE FUNCTION pg_temp.used(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..8 LOOP
        EXECUTE sql;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE FUNCTION pg_temp.report() RETURNS TABLE (relation name, scanned boolean)
LANGUAGE sql AS $$
    SELECT a.relation, a.scans > b.scans
    FROM pg_temp.scans() AS a JOIN before_call AS b USING (relation)
    WHERE a.relation LIKE 'job\_chunks%' AND
          (a.scans > b.scans OR a.relation = 'job_chunks (seq)')
    ORDER BY 1
$$;

-- Claims from one job, and across jobs.  The first claim of a job starts at
-- the head, after taking back expired leases (job_chunks_lease_idx); the
-- next ones go on from the backend's position in the job.
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used('SELECT jobchunk.jc_next_pending(90)');
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();

TRUNCATE before_call;
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used('SELECT jobchunk.jc_next_pending()');
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();

-- Completing a chunk by id, with its token (the claims go on from their
-- position).
TRUNCATE before_call;
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used('SELECT jobchunk.jc_mark_completed(c.id, c.lease_token) FROM jobchunk.jc_next_pending(90) AS c');
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();

-- Keeping, giving back and completing a batch: by primary key.
SELECT array_agg(id) AS ids, array_agg(lease_token) AS tokens FROM jc_claim(90, 4) \gset
TRUNCATE before_call;
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used(format('SELECT count(*) FROM jobchunk.jc_heartbeat_batch(%L, %L)',
                           :'ids', :'tokens'));
SELECT pg_temp.used(format('SELECT count(*) FROM jobchunk.jc_release(%L, %L)',
                           (:'ids'::bigint[])[1:2], (:'tokens'::bigint[])[1:2]));
SELECT pg_temp.used(format('SELECT count(*) FROM jobchunk.jc_mark_completed(%L::bigint[], %L::bigint[])',
                           (:'ids'::bigint[])[3:4], (:'tokens'::bigint[])[3:4]));
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();
SELECT status, count(*) FROM job_chunks WHERE id = ANY (:'ids') GROUP BY status ORDER BY status;

-- Statistics, progress and completion: job_chunks is not read at all.
TRUNCATE before_call;
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used('SELECT jobchunk.jc_statistics(90), jobchunk.jc_progress(90), jobchunk.jc_is_complete(90)');
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();

-- Failed chunks of a job.
TRUNCATE before_call;
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used('SELECT jobchunk.jc_chunks(90, ''failed'')');
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();

-- Creating a job's chunks looks for chunks of the job on its (job_id,
-- chunk_index) key: with two jobs in the table, a scan of the table for a
-- job of none would look as cheap to the planner, and read it all.
INSERT INTO crawl_jobs (id, name) SELECT g, 'new' FROM generate_series(92, 99) AS g;
TRUNCATE before_call;
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used('SELECT count(*) FROM jobchunk.jc_create_chunks((SELECT min(j.id)
    FROM jobchunk.crawl_jobs AS j WHERE j.id > 91
    AND NOT EXISTS (SELECT FROM jobchunk.job_counts AS k WHERE k.job_id = j.id)), 10)');
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();
DELETE FROM crawl_jobs WHERE id > 91;

SELECT total, pending, processing, completed FROM jc_statistics(90);

-- A claim from the backend's position reads a page or two of the job's
-- pending index, however many entries the claims before it left dead at the
-- head; a claim that starts at the head reads them all.  No vacuum may run
-- in between, and only the setting decides where a claim starts.
ALTER TABLE job_chunks SET (autovacuum_enabled = off);
SET jobchunk.rescan_interval = '1h';
DO $$
BEGIN
    FOR i IN 1..5000 LOOP
        PERFORM jobchunk.jc_mark_completed(c.id, c.lease_token)
        FROM jobchunk.jc_next_pending(90) AS c;
    END LOOP;
END
$$;
CREATE FUNCTION pg_temp.claim_index_pages() RETURNS bigint LANGUAGE sql AS $$
    SELECT idx_blks_hit + idx_blks_read FROM pg_statio_user_indexes
    WHERE indexrelid = 'jobchunk.job_chunks_job_claim_idx'::regclass
$$;
SELECT pg_stat_force_next_flush();
SELECT pg_temp.claim_index_pages() AS before \gset
SELECT count(*) FROM jc_next_pending(90);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.claim_index_pages() - :before AS from_position \gset
SET jobchunk.rescan_interval = 0;
SELECT pg_stat_force_next_flush();
SELECT pg_temp.claim_index_pages() AS before \gset
SELECT count(*) FROM jc_next_pending(90);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.claim_index_pages() - :before AS from_head \gset
SELECT :from_position <= 8 AS few_pages_from_position, :from_head >= 25 AS dead_entries_from_head;
RESET jobchunk.rescan_interval;
ALTER TABLE job_chunks RESET (autovacuum_enabled);

-- Taking back expired leases reads only the expired ones, however many
-- chunks are in flight (5,000 here, none expired): a claim across all jobs
-- that takes back leases reads no entry of job_chunks_lease_idx, nor of
-- job_chunks_task_id_idx, the other index of processing chunks.
SELECT count(*) FROM jc_claim(90, 5000, 'w', interval '1 hour');
ANALYZE job_chunks;
CREATE FUNCTION pg_temp.lease_entries_read() RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(idx_tup_read) FROM pg_stat_user_indexes
    WHERE indexrelid IN ('jobchunk.job_chunks_lease_idx'::regclass,
                         'jobchunk.job_chunks_task_id_idx'::regclass)
$$;
SET jobchunk.rescan_interval = 0;
SELECT pg_stat_force_next_flush();
SELECT pg_temp.lease_entries_read() AS before \gset
SELECT count(*) FROM jc_next_pending();
SELECT pg_stat_force_next_flush();
SELECT pg_temp.lease_entries_read() - :before AS lease_entries_read;
RESET jobchunk.rescan_interval;

-- A cancel that rolled back leaves every pending chunk of the job marked
-- (xmax: it locked them and changed none).  Claims from a position pass
-- over marks of transactions that may still run or ended after their
-- snapshot, not over these: each claim reads a few pages of the pending
-- index (from its root down), not the whole job's hundreds.  (The first
-- claim after the rollback starts at the head: a rollback ends the
-- backend's positions.)
SET jobchunk.rescan_interval = '1h';
BEGIN;
SELECT jc_cancel_job(90) > 80000 AS cancelled;
ROLLBACK;
SELECT count(*) FROM jc_next_pending(90);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.claim_index_pages() AS before \gset
DO $$
BEGIN
    FOR i IN 1..10 LOOP
        PERFORM jobchunk.jc_next_pending(90);
    END LOOP;
END
$$;
SELECT pg_stat_force_next_flush();
SELECT pg_temp.claim_index_pages() - :before <= 50 AS few_pages_after_cancel_rolled_back;
RESET jobchunk.rescan_interval;

-- Claims and completions of one job add to the backend's stripe row of
-- job_counts by the version of it they wrote last (its ctid), not by a
-- search of job_counts_pkey, which steps over every version of the row
-- while a snapshot is held open: ten cycles search it at most once.  Once
-- another transaction has written the row, that version is no longer
-- current, and the next cycle finds the row by its key; after VACUUM FULL
-- has moved every row of job_counts, the version's ctid may be another
-- row's: the counts stay equal to the rows.
CREATE FUNCTION pg_temp.counts_key_scans() RETURNS bigint LANGUAGE sql AS $$
    SELECT idx_scan FROM pg_stat_user_indexes
    WHERE indexrelid = 'jobchunk.job_counts_pkey'::regclass
$$;
CREATE FUNCTION pg_temp.counts_seq_scans() RETURNS bigint LANGUAGE sql AS $$
    SELECT seq_scan FROM pg_stat_user_tables
    WHERE relid = 'jobchunk.job_counts'::regclass
$$;
CREATE FUNCTION pg_temp.cycles(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        PERFORM jobchunk.jc_mark_completed(c.id, c.lease_token)
        FROM jobchunk.jc_next_pending(90) AS c;
    END LOOP;
END
$$;
SELECT pg_temp.cycles(1);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() AS before, pg_temp.counts_seq_scans() AS seq_before \gset
SELECT pg_temp.cycles(10);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() - :before <= 1 AS counted_by_version,
       pg_temp.counts_seq_scans() = :seq_before AS no_sequential_scan;
-- So do claims across jobs, which take turns between jobs 90 and 91: the
-- version is remembered per job.
CREATE FUNCTION pg_temp.cycles_any(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        PERFORM jobchunk.jc_mark_completed(c.id, c.lease_token)
        FROM jobchunk.jc_next_pending() AS c;
    END LOOP;
END
$$;
SELECT pg_temp.cycles_any(2);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() AS before, completed AS done_91 FROM jc_statistics(91) \gset
SELECT pg_temp.cycles_any(10);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() - :before <= 1 AS counted_by_version_across_jobs,
       completed - :done_91 AS cycles_of_job_91
FROM jc_statistics(91);
-- So do jc_mark_processing, failures and retries, which an operator's loop
-- over thousands of chunks makes in one transaction: by key, each would
-- step over every version of the row the transaction had written, and the
-- loop would slow down with every chunk.
CREATE FUNCTION pg_temp.fail_and_retry(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    chunk bigint;
BEGIN
    FOR i IN 1..n LOOP
        SELECT min(id) INTO chunk FROM jobchunk.job_chunks
        WHERE job_id = 90 AND status = 'pending' AND retry_count = 0;
        PERFORM jobchunk.jc_mark_processing(chunk);
        PERFORM jobchunk.jc_mark_failed(chunk, 'site down');
        PERFORM jobchunk.jc_retry(chunk);
    END LOOP;
END
$$;
SELECT pg_temp.fail_and_retry(1);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() AS before \gset
SELECT pg_temp.fail_and_retry(10);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() - :before <= 1 AS changes_by_id_counted_by_version;
UPDATE job_counts SET updated_at = updated_at WHERE job_id = 90;
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() AS before \gset
SELECT pg_temp.cycles(10);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.counts_key_scans() - :before BETWEEN 1 AND 2 AS counted_by_key_once;
VACUUM FULL job_counts;
SELECT pg_temp.cycles(10);
SELECT s.total = count(*) AND s.pending = count(*) FILTER (WHERE c.status = 'pending')
       AND s.processing = count(*) FILTER (WHERE c.status = 'processing')
       AND s.completed = count(*) FILTER (WHERE c.status = 'completed')
       AND s.failed = count(*) FILTER (WHERE c.status = 'failed') AS counts_equal_rows
FROM jc_statistics(90) AS s, job_chunks AS c WHERE c.job_id = 90
GROUP BY s.total, s.pending, s.processing, s.completed, s.failed;

-- Jobs whose priorities follow the table's physical order (made so here by
-- CLUSTER), each created at its own time: the planner then finds
-- job_chunks_claim_idx cheap for a claim of one job, followed by an
-- incremental sort by chunk_index, which reads and sorts every pending
-- chunk of the job.  The claim functions turn incremental sort off, and
-- their claims keep to the job's own index, from the head and from a
-- position.
SET jobchunk.chunk_size = 1;
DO $$
BEGIN
    FOR g IN 101..120 LOOP
        INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (g, 'sorted');
        PERFORM jobchunk.jc_create_chunks(g, 2000, g % 5 * 2 + 1);
        COMMIT;
    END LOOP;
END
$$;
RESET jobchunk.chunk_size;
CREATE INDEX job_chunks_by_priority ON job_chunks (priority, chunk_index);
CLUSTER job_chunks USING job_chunks_by_priority;
DROP INDEX job_chunks_by_priority;
ANALYZE job_chunks;
TRUNCATE before_call;
SELECT pg_stat_force_next_flush();
INSERT INTO before_call SELECT * FROM pg_temp.scans();
SELECT pg_temp.used('SELECT jobchunk.jc_next_pending(103)');
SELECT pg_stat_force_next_flush();
SELECT * FROM pg_temp.report();
DELETE FROM crawl_jobs WHERE id > 100;

-- Claims across jobs ask whether each job they walk to is active by its
-- key: with many jobs (here 20,000 more, without chunks), an EXISTS over
-- crawl_jobs in the walk was planned as a hash of every job, made again for
-- every claim.
INSERT INTO crawl_jobs (id, name) SELECT g, 'idle' FROM generate_series(1000, 20999) AS g;
ANALYZE crawl_jobs;
SELECT pg_stat_force_next_flush();
SELECT seq_scan AS before FROM pg_stat_user_tables
WHERE relid = 'jobchunk.crawl_jobs'::regclass \gset
SELECT pg_temp.used('SELECT jobchunk.jc_next_pending()');
SELECT pg_stat_force_next_flush();
SELECT seq_scan - :before AS jobs_read_whole FROM pg_stat_user_tables
WHERE relid = 'jobchunk.crawl_jobs'::regclass;
DELETE FROM crawl_jobs WHERE id BETWEEN 1000 AND 20999;

-- A claim across all jobs takes back expired leases once: when that left
-- none to take back, the claim of the job it walks to, which starts at the
-- head (a new session has no position), does not look again.
\c
SELECT pg_stat_force_next_flush();
SELECT idx_scan AS before FROM pg_stat_user_indexes
WHERE indexrelid = 'jobchunk.job_chunks_lease_idx'::regclass \gset
SELECT count(*) FROM jobchunk.jc_next_pending();
SELECT pg_stat_force_next_flush();
SELECT idx_scan - :before AS lease_index_scans FROM pg_stat_user_indexes
WHERE indexrelid = 'jobchunk.job_chunks_lease_idx'::regclass;

-- Plans made while the tables are small use the indexes all the same, and
-- keep using them as the tables grow: in one transaction (which no ANALYZE
-- sees) that empties the tables, so that the plans are made again for
-- tables the planner takes for a few pages, and then makes 20 jobs of 100
-- chunks and works on them, no call reads job_chunks or job_counts whole.
-- Before that, the session makes its first temporary table, after which
-- PostgreSQL plans each statement again as it runs it (pg_temp, in the
-- functions' search_path, now names a schema), under the caller's
-- settings: jobchunk then makes those plans anew.
\c
SELECT last_value AS job_ids_before FROM jobchunk.crawl_jobs_id_seq \gset
SELECT last_value AS chunk_ids_before FROM jobchunk.job_chunks_id_seq \gset
BEGIN;
TRUNCATE jobchunk.crawl_jobs CASCADE;
CREATE FUNCTION public.work_on_jobs(jobs int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    j bigint;
    ids bigint[];
    tokens bigint[];
    c jobchunk.job_chunks;
BEGIN
    FOR k IN 1 .. jobs LOOP
        j := jobchunk.jc_create_job('small ' || k);
        PERFORM count(*) FROM jobchunk.jc_create_chunks(j, 50000);
        SELECT array_agg(id), array_agg(lease_token) INTO ids, tokens
        FROM jobchunk.jc_claim(j, 90, 'plans', interval '1 hour');
        PERFORM count(*) FROM jobchunk.jc_heartbeat_batch(ids[1:10], tokens[1:10]);
        PERFORM count(*) FROM jobchunk.jc_release(ids[1:5], tokens[1:5]);
        PERFORM count(*) FROM jobchunk.jc_mark_completed(ids[6:90], tokens[6:90]);
        c := jobchunk.jc_next_pending(j, 'plans');
        PERFORM jobchunk.jc_mark_failed(c.id, 'timeout', c.lease_token);
        PERFORM jobchunk.jc_retry(c.id);
        PERFORM count(*) FROM jobchunk.jc_chunks(j, 'pending');
        PERFORM jobchunk.jc_statistics(j);
        PERFORM jobchunk.jc_cancel_job(j);
        PERFORM jobchunk.jc_purge_job(j);
    END LOOP;
END
$$;
SELECT public.work_on_jobs(1);
CREATE TEMPORARY TABLE first_temporary_table ();
SELECT public.work_on_jobs(1);
CREATE TEMPORARY TABLE read_whole AS
SELECT relid, seq_scan FROM pg_stat_xact_user_tables
WHERE relid IN ('jobchunk.job_chunks'::regclass, 'jobchunk.job_counts'::regclass);
SELECT public.work_on_jobs(20);
SELECT t.relname, t.seq_scan - r.seq_scan AS read_whole
FROM pg_stat_xact_user_tables AS t JOIN read_whole AS r USING (relid)
ORDER BY t.relname;
ROLLBACK;
-- (so that the ids later tests print stay as they were)
SELECT setval('jobchunk.crawl_jobs_id_seq', :job_ids_before) > 0 AS job_ids_as_before,
       setval('jobchunk.job_chunks_id_seq', :chunk_ids_before) > 0 AS chunk_ids_as_before;
