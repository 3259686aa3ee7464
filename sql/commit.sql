--
-- A transaction that wrote nothing but claims commits without waiting for
-- its WAL to be flushed, unless jobchunk.synchronous_claims is on; any other
-- write in the transaction, before, between or after the claims, keeps its
-- commit synchronous.  Told apart by pg_stat_wal.wal_write: a synchronous
-- commit writes the WAL out itself, an asynchronous one leaves it to the
-- WAL writer, which writes many commits at once.
--
SET search_path = jobchunk, public;

INSERT INTO crawl_jobs (id, name) VALUES (100, 'commits');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(100, 2000);
RESET jobchunk.chunk_size;
CREATE TABLE public.other_writes (n int);
-- No autovacuum may write WAL out meanwhile.
ALTER TABLE job_chunks SET (autovacuum_enabled = off);
ALTER TABLE job_counts SET (autovacuum_enabled = off);

-- run(body) runs body 100 times, each time in a transaction of its own.
CREATE PROCEDURE pg_temp.run(body text) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..100 LOOP
        EXECUTE body;
        COMMIT;
    END LOOP;
END
$$;

-- Claims only: asynchronous.
SELECT pg_stat_force_next_flush();
SELECT wal_write AS before FROM pg_stat_wal \gset
CALL pg_temp.run('SELECT count(*) FROM jobchunk.jc_next_pending(100)');
SELECT pg_stat_force_next_flush();
SELECT wal_write - :before < 60 AS "100 claims: few WAL writes" FROM pg_stat_wal;
SELECT pg_stat_force_next_flush();
SELECT wal_write AS before FROM pg_stat_wal \gset
CALL pg_temp.run('SELECT count(*) FROM jobchunk.jc_claim(100, 2); SELECT count(*) FROM jobchunk.jc_mark_processing((SELECT min(id) FROM jobchunk.job_chunks WHERE job_id = 100 AND status = ''pending''))');
SELECT pg_stat_force_next_flush();
SELECT wal_write - :before < 60 AS "100 batch claims with a claim by id: few WAL writes" FROM pg_stat_wal;

-- The same with jobchunk.synchronous_claims = on: one write per commit.
SET jobchunk.synchronous_claims = on;
SELECT pg_stat_force_next_flush();
SELECT wal_write AS before FROM pg_stat_wal \gset
CALL pg_temp.run('SELECT count(*) FROM jobchunk.jc_next_pending(100)');
SELECT pg_stat_force_next_flush();
SELECT wal_write - :before >= 90 AS "100 durable claims: a WAL write each" FROM pg_stat_wal;
RESET jobchunk.synchronous_claims;

-- Another write after the claim, before it, or between two: synchronous.
SELECT pg_stat_force_next_flush();
SELECT wal_write AS before FROM pg_stat_wal \gset
CALL pg_temp.run('SELECT count(*) FROM jobchunk.jc_next_pending(100); INSERT INTO public.other_writes VALUES (1)');
SELECT pg_stat_force_next_flush();
SELECT wal_write - :before >= 90 AS "claim, then a write: a WAL write each" FROM pg_stat_wal;
SELECT pg_stat_force_next_flush();
SELECT wal_write AS before FROM pg_stat_wal \gset
CALL pg_temp.run('INSERT INTO public.other_writes VALUES (1); SELECT count(*) FROM jobchunk.jc_next_pending(100)');
SELECT pg_stat_force_next_flush();
SELECT wal_write - :before >= 90 AS "a write, then a claim: a WAL write each" FROM pg_stat_wal;
SELECT pg_stat_force_next_flush();
SELECT wal_write AS before FROM pg_stat_wal \gset
CALL pg_temp.run('SELECT count(*) FROM jobchunk.jc_next_pending(100); INSERT INTO public.other_writes VALUES (1); SELECT count(*) FROM jobchunk.jc_next_pending(100)');
SELECT pg_stat_force_next_flush();
SELECT wal_write - :before >= 90 AS "a claim, a write, a claim: a WAL write each" FROM pg_stat_wal;

-- Completions wait for their flush.
SELECT pg_stat_force_next_flush();
SELECT wal_write AS before FROM pg_stat_wal \gset
CALL pg_temp.run('SELECT count(*) FROM jobchunk.jc_mark_completed((SELECT min(id) FROM jobchunk.job_chunks WHERE job_id = 100 AND status = ''processing''))');
SELECT pg_stat_force_next_flush();
SELECT wal_write - :before >= 90 AS "100 completions: a WAL write each" FROM pg_stat_wal;

SELECT count(*) FILTER (WHERE status = 'processing') AS processing,
       count(*) FILTER (WHERE status = 'completed') AS completed
FROM job_chunks WHERE job_id = 100;
DROP TABLE public.other_writes;
ALTER TABLE job_chunks RESET (autovacuum_enabled);
ALTER TABLE job_counts RESET (autovacuum_enabled);
DELETE FROM crawl_jobs WHERE id = 100;
