--
-- Leases and fencing tokens: claims take a lease, expired leases are taken
-- back by the next claim, and a stale worker's token is refused.
--
SET search_path = jobchunk, public;
-- Every claim starts at the head of the queue, taking back expired leases
-- first (test/specs/positions.spec tests claims from a position).
SET jobchunk.rescan_interval = 0;

DELETE FROM crawl_jobs;
INSERT INTO crawl_jobs (id, name) VALUES (60, 'leases');
SELECT count(*) FROM jc_create_chunks(60, 3000);
SELECT min(id) AS c0 FROM job_chunks WHERE job_id = 60 \gset

-- Leases run from the time of the call, and lease tokens come from the
-- clock: the time of the call in microseconds since 2000-01-01, or the
-- chunk's last token + 1 if that is larger.  A call within a statement
-- comes between its start and the moment its result is read:
-- from_clock(token) and lease(expiry) show tokens and leases taken so.
-- masked(text) shows the tokens of this test by name.
CREATE FUNCTION pg_temp.clock_token(t timestamptz) RETURNS bigint LANGUAGE sql AS $$
    SELECT (extract(epoch FROM t - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint
$$;
CREATE FUNCTION pg_temp.from_clock(token bigint) RETURNS boolean LANGUAGE sql AS $$
    SELECT token BETWEEN pg_temp.clock_token(statement_timestamp())
                     AND pg_temp.clock_token(clock_timestamp())
$$;
CREATE FUNCTION pg_temp.lease(expiry timestamptz) RETURNS interval LANGUAGE sql AS $$
    SELECT date_trunc('second', expiry - statement_timestamp())
$$;
CREATE TABLE pg_temp.tokens (name text, token bigint);
CREATE FUNCTION pg_temp.masked(s text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM pg_temp.tokens ORDER BY length(token::text) DESC, token DESC LOOP
        s := replace(s, t.token::text, t.name);
    END LOOP;
    RETURN s;
END
$$;

-- A claim takes a lease of jobchunk.lease_timeout (5 minutes) and the
-- chunk's first token; pending chunks have neither lease nor token.
SELECT chunk_index, pg_temp.from_clock(lease_token) AS clock_token,
       pg_temp.lease(lease_expires_at) AS lease
FROM jc_next_pending(60, 'w1');
INSERT INTO pg_temp.tokens SELECT 't1', lease_token FROM job_chunks WHERE id = :c0;
SELECT token AS t1 FROM pg_temp.tokens WHERE name = 't1' \gset
SELECT chunk_index, lease_token, lease_expires_at FROM job_chunks
WHERE job_id = 60 AND status = 'pending' ORDER BY chunk_index LIMIT 1;

-- The lease can be given per call, and the default per session.
SELECT chunk_index, pg_temp.lease(lease_expires_at) AS lease
FROM jc_next_pending(60, 'w1', interval '30 seconds');
SET jobchunk.lease_timeout = '1h';
SELECT chunk_index, pg_temp.lease(lease_expires_at) AS lease FROM jc_next_pending(60);
RESET jobchunk.lease_timeout;
SELECT chunk_index, pg_temp.from_clock(lease_token) AS clock_token,
       pg_temp.lease(lease_expires_at) AS lease
FROM jc_mark_processing(:c0 + 3, 'w2', interval '2 minutes');
-- A chunk whose last token is ahead of the clock (set so here) takes the
-- last token + 1 at each claim.
CREATE FUNCTION pg_temp.claim_thrice(chunk bigint) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    ahead bigint := pg_temp.clock_token(clock_timestamp() + interval '1 hour');
    tokens bigint[] := '{}';
    c jobchunk.job_chunks;
BEGIN
    UPDATE jobchunk.job_chunks SET lease_token = ahead WHERE id = chunk;
    FOR i IN 1..3 LOOP
        SELECT * INTO c FROM jobchunk.jc_mark_processing(chunk);
        tokens := tokens || (c.lease_token - ahead);
        PERFORM jobchunk.jc_retry((jobchunk.jc_mark_failed(c.id, 'again', c.lease_token)).id);
    END LOOP;
    RETURN tokens;
END
$$;
INSERT INTO crawl_jobs (id, name) VALUES (61, 'tokens');
SELECT count(*) FROM jc_create_chunks(61, 1);
SELECT pg_temp.claim_thrice(id) AS above_clock FROM job_chunks WHERE job_id = 61;
SELECT jc_cancel_job(61);

-- A heartbeat extends the lease from now, by the default or the given time.
SELECT pg_temp.lease(jc_heartbeat(:c0, :t1)) AS lease;
SELECT pg_temp.lease(jc_heartbeat(:c0, :t1, interval '1 hour')) AS lease;
SELECT lease_expires_at > now() + interval '59 minutes' AS extended FROM jc_chunk(:c0);
-- A heartbeat never shortens a lease.
SELECT jc_heartbeat(:c0, :t1, interval '1 second') > now() + interval '59 minutes' AS kept;

-- The lease runs out (set back in time here, rather than waited for).
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0;

-- An expired chunk is claimed again as a new attempt, in the same claim
-- order: retry_count + 1, a new token, a new owner.
SELECT chunk_index, status, retry_count, lease_token > :t1 AS new_token, task_id, error_message
FROM jc_next_pending(60, 'w3');
INSERT INTO pg_temp.tokens SELECT 't2', lease_token FROM job_chunks WHERE id = :c0;
SELECT token AS t2 FROM pg_temp.tokens WHERE name = 't2' \gset

-- The first worker comes back late: its token is refused, and nothing changes.
SELECT fingerprint() AS before \gset
SELECT pg_temp.masked(sql) AS sql, pg_temp.masked(outcome(sql)) AS outcome FROM (VALUES
    ('SELECT jobchunk.jc_mark_completed(' || :c0 || ', ' || :t1 || ')'),
    ('SELECT jobchunk.jc_mark_failed(' || :c0 || ', ''late'', ' || :t1 || ')'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', ' || :t1 || ')'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', 1)'),
    ('SELECT jobchunk.jc_heartbeat(-1, 1)'),
    ('SELECT jobchunk.jc_heartbeat(NULL, 1)'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', NULL)'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', ' || :t2 || ', interval ''0'')'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', ' || :t2 || ', interval ''-1 minute'')'),
    ('SELECT jobchunk.jc_next_pending(60, NULL, interval ''0'')'),
    ('SELECT jobchunk.jc_mark_processing(' || :c0 + 4 || ', NULL, interval ''-1 day'')'),
    ('SELECT jobchunk.jc_next_pending(60, NULL, interval ''101 years'')'),
    ('SELECT jobchunk.jc_mark_completed(' || :c0 + 4 || ', 1)')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

-- The new owner's token works.
SELECT status, lease_token = :t2 AS same_token, lease_expires_at FROM jc_mark_completed(:c0, :t2);

-- A token is refused once the chunk has left processing, even if it was the
-- last one; but a completion repeated with the token that completed the
-- chunk (by a worker that lost the answer to the first) returns the chunk
-- as it is.
SELECT pg_temp.masked(outcome('SELECT jobchunk.jc_mark_completed(' || :c0 || ', ' || :t2 || ')'));
-- A failure under that token is told that the chunk was completed with it.
SELECT pg_temp.masked(outcome('SELECT jobchunk.jc_mark_failed(' || :c0 || ', ''late'', ' || :t2 || ')'));

-- Without a token a call changes the chunk whoever holds it, as in 1.0.
SELECT status, lease_token > 0 AS had_token FROM jc_mark_failed(:c0 + 1, 'no token');

-- An expired lease at the retry limit fails the chunk instead.
SET jobchunk.max_retries = 1;
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 2;
SELECT lease_token AS t3 FROM job_chunks WHERE id = :c0 + 2 \gset
SELECT chunk_index, retry_count, lease_token > :t3 AS new_token FROM jc_next_pending(60);
SELECT lease_token AS t3 FROM job_chunks WHERE id = :c0 + 2 \gset
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 2;
SELECT chunk_index, retry_count FROM jc_next_pending(60);
SELECT status, retry_count, error_message, lease_expires_at, lease_token = :t3 AS last_token
FROM jc_chunk(:c0 + 2);
RESET jobchunk.max_retries;
-- Its late worker is told that the chunk failed under its token, and with
-- which message: not its own.  A worker repeating its own failure sees its
-- message.
SELECT replace(regexp_replace(outcome('SELECT jobchunk.jc_mark_failed(' || :c0 + 2 || ', ''late'', ' || :t3 || ')'),
                              '[0-9]{12,}', '<token>', 'g'), (:c0 + 2)::text, '<id>') AS late_worker;
-- The message is quoted up to 100 characters, in ASCII: a client encoding
-- that cannot show the others (LATIN1 has no emoji) still gets the 55000.
INSERT INTO crawl_jobs (id, name) VALUES (64, 'failing');
SELECT count(*) FROM jc_create_chunks(64, 1000);
SELECT id AS f0, lease_token AS tf FROM jc_next_pending(64) \gset
SELECT status FROM jc_mark_failed(:f0, 'too long to quote whole: ' || repeat(chr(233) || chr(128512), 60), :tf);
SET client_encoding = 'LATIN1';
SELECT replace(regexp_replace(outcome('SELECT jobchunk.jc_mark_failed(' || :f0 || ', ''again'', ' || :tf || ')'),
                              '[0-9]{12,}', '<token>', 'g'), :'f0', '<id>') AS repeated;
RESET client_encoding;
-- A chunk never claimed has token 0, which is refused as another claim's.
SELECT replace(outcome('SELECT jobchunk.jc_mark_completed(' || id || ', 0)'), id::text, '<id>')
       AS never_claimed
FROM job_chunks WHERE job_id = 64 AND status = 'pending';
-- The hint tells a token smaller than the chunk's current one, handed out
-- before the claim that took the chunk since, from a larger one, that no
-- claim of the chunk that took effect had (here a claim rolled back), and
-- says that a claim's token is never 0.
CREATE FUNCTION pg_temp.hint(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN coalesce(nullif(hint, ''), '(none)');
END
$$;
SELECT id AS p0 FROM job_chunks WHERE job_id = 64 AND status = 'pending' \gset
SELECT pg_temp.hint('SELECT jobchunk.jc_heartbeat(' || :p0 || ', 0)') AS never_claimed;
BEGIN;
SELECT lease_token AS undone FROM jc_next_pending(64) \gset
ROLLBACK;
SELECT pg_temp.hint('SELECT jobchunk.jc_heartbeat(' || :p0 || ', ' || :undone || ')') AS undone;
SELECT lease_token AS tp FROM jc_next_pending(64) \gset
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :p0;
SELECT id = :p0 AS same_chunk, lease_token > :tp AS new_token FROM jc_next_pending(64);
SELECT pg_temp.hint('SELECT jobchunk.jc_heartbeat(' || :p0 || ', ' || :tp || ')') AS earlier;
SELECT pg_temp.hint('SELECT jobchunk.jc_heartbeat(' || :p0 || ', ' || :undone || ')') AS undone_then_claimed;
DELETE FROM crawl_jobs WHERE id = 64;

-- A claim across all jobs takes back expired leases of any job.
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 3;
SELECT lease_token AS t4 FROM job_chunks WHERE id = :c0 + 3 \gset
SELECT chunk_index, retry_count, lease_token > :t4 AS new_token, task_id FROM jc_next_pending(NULL, 'w4');

-- So does a claim of one job (63): a job nobody claims from any more (62:
-- its workers died, and it is paused) gets its chunks back all the same.
INSERT INTO crawl_jobs (id, name) VALUES (62, 'abandoned'), (63, 'another');
SELECT count(*) FROM jc_create_chunks(62, 500);
SELECT count(*) FROM jc_create_chunks(63, 500);
SELECT id AS a0, lease_token AS ta FROM jc_next_pending(62, 'gone') \gset
SELECT jc_pause_job(62);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :a0;
SELECT job_id FROM jc_next_pending(63);
SELECT status, retry_count, error_message, task_id, lease_expires_at
FROM jc_chunk(:a0);
SELECT total, pending, processing FROM jc_statistics(62);
SELECT regexp_replace(outcome('SELECT jobchunk.jc_mark_completed(' || :a0 || ', ' || :ta || ')'),
                      '[0-9]{12,}', '<token>', 'g') AS late_worker;
DELETE FROM crawl_jobs WHERE id IN (62, 63);

-- Even when the chunk taken back is the only one left to claim.
SELECT count(*) FROM jc_claim(60, 100);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 5;
SELECT lease_token AS t5 FROM job_chunks WHERE id = :c0 + 5 \gset
SELECT chunk_index, retry_count, lease_token > :t5 AS new_token FROM jc_next_pending();
SELECT count(*) FROM jc_next_pending();

-- A take-back that rolled back is not counted as done: the next claim
-- across all jobs takes the lease back again, however long the rescan
-- interval.
SELECT id AS rb FROM job_chunks
WHERE job_id = 60 AND status = 'processing' ORDER BY id LIMIT 1 \gset
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :rb;
BEGIN;
SET LOCAL jobchunk.rescan_interval = 0;
SELECT chunk_index, retry_count FROM jc_next_pending();
ROLLBACK;
SET jobchunk.rescan_interval = '1h';
SELECT chunk_index, retry_count FROM jc_next_pending();
SET jobchunk.rescan_interval = 0;

-- Only processing chunks have a lease.
SELECT status, count(*), count(lease_expires_at) AS leased
FROM job_chunks WHERE job_id = 60 GROUP BY status ORDER BY status;
SELECT split_part(outcome('UPDATE jobchunk.job_chunks SET lease_expires_at = NULL WHERE status = ''processing'''), ' (', 1);

-- In a procedure that commits, statement_timestamp() stays at the start of
-- the CALL, and now() at the last commit: there a claim, a heartbeat and
-- the counts' time of change count from the call, however long after them.
SELECT id AS cp FROM job_chunks
WHERE job_id = 60 AND status = 'processing' ORDER BY id LIMIT 1 \gset
SELECT status FROM jc_mark_failed(:cp, 'for the procedure');
SELECT status FROM jc_retry(:cp);
CREATE TEMP TABLE retried AS SELECT :cp AS id;
CREATE PROCEDURE pg_temp.worker() LANGUAGE plpgsql AS $$
DECLARE
    c jobchunk.job_chunks;
    claim_call timestamptz;
    heartbeat_call timestamptz;
    extended timestamptz;
BEGIN
    COMMIT;
    PERFORM pg_sleep(0.1);  -- work between the commit and the claim
    claim_call := clock_timestamp();
    SELECT * INTO c FROM jobchunk.jc_next_pending(60, 'proc', interval '10 seconds');
    RAISE NOTICE 'claimed the chunk retried: %, lease from the call: %, token from it: %',
        c.id = (SELECT id FROM pg_temp.retried),
        c.lease_expires_at BETWEEN claim_call + interval '10 seconds'
                               AND clock_timestamp() + interval '10 seconds',
        c.lease_token BETWEEN pg_temp.clock_token(claim_call)
                          AND pg_temp.clock_token(clock_timestamp());
    RAISE NOTICE 'counts changed at it: %',
        (SELECT max(updated_at) FROM jobchunk.job_counts WHERE job_id = 60) >= claim_call;
    PERFORM pg_sleep(0.1);
    heartbeat_call := clock_timestamp();
    extended := jobchunk.jc_heartbeat(c.id, c.lease_token, interval '10 seconds');
    RAISE NOTICE 'heartbeat from its call: %',
        extended BETWEEN heartbeat_call + interval '10 seconds'
                     AND clock_timestamp() + interval '10 seconds';
    COMMIT;
END
$$;
CALL pg_temp.worker();

-- A claim never takes back a lease it granted itself, however short, and so
-- never returns a chunk twice: its take-backs take leases that ended before
-- the call began, and its own end after that.  (Each job's claim in a call
-- took back leases that ended before that claim began: those the call had
-- granted in the jobs before, when claiming them took longer than the
-- lease, here made to by a trigger.)  In a transaction rolled back, with
-- every other job paused.
SELECT last_value AS chunk_ids_before FROM job_chunks_id_seq \gset
BEGIN;
UPDATE crawl_jobs SET state = 'paused' WHERE state = 'active';
INSERT INTO crawl_jobs (id, name) VALUES (64, 'own leases'), (65, 'own leases too');
SET LOCAL jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(64, 2) AS a, jc_create_chunks(65, 2) AS b;
CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(0.01);
    RETURN NEW;
END
$$;
CREATE TRIGGER slow BEFORE UPDATE ON job_chunks
FOR EACH ROW WHEN (NEW.task_id = 'slow') EXECUTE FUNCTION public.slow();
SELECT job_id, chunk_index FROM jc_claim(NULL, 4, 'slow', interval '1 millisecond')
ORDER BY job_id, chunk_index;
SELECT job_id, chunk_index, status, retry_count FROM job_chunks
WHERE job_id IN (64, 65) ORDER BY job_id, chunk_index;
-- Nor does a claim made from a trigger while a claim runs: it takes back no
-- lease the claim it was called from has granted.  (It took back chunks 1
-- and 2, which the outer claim then claimed again from the head: chunk 1
-- came back twice.)
SET LOCAL jobchunk.rescan_interval = '1h';
INSERT INTO crawl_jobs (id, name) VALUES (67, 'outer'), (68, 'inner');
SELECT count(*) FROM jc_create_chunks(67, 3) AS a, jc_create_chunks(68, 1) AS b;
SELECT chunk_index FROM jc_claim(67, 1, 'w', interval '1 hour');
CREATE FUNCTION public.inner_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(0.02);
    PERFORM jobchunk.jc_next_pending(68, 'inner');
    RETURN NULL;
END
$$;
CREATE TRIGGER inner_claim AFTER UPDATE ON job_chunks FOR EACH ROW
WHEN (NEW.task_id = 'outer' AND NEW.chunk_index = 2 AND NEW.retry_count = 0)
EXECUTE FUNCTION public.inner_claim();
SELECT chunk_index, retry_count
FROM jc_claim(67, 3, 'outer', interval '5 milliseconds') ORDER BY chunk_index;
SELECT job_id, chunk_index, status, retry_count, task_id FROM job_chunks
WHERE job_id IN (67, 68) ORDER BY job_id, chunk_index;
ROLLBACK;
-- (so that the chunk ids later tests print stay as they were)
SELECT setval('job_chunks_id_seq', :chunk_ids_before) > 0 AS ids_as_before;

-- A claim takes back up to 100 expired leases, or as many as it claims if
-- more: of 250 whose worker fleet is gone (job 73), a claim of one chunk
-- takes back 100, and a claim of 120 another 120.
BEGIN;
SET LOCAL jobchunk.rescan_interval = 0;
SET LOCAL jobchunk.chunk_size = 1;
INSERT INTO crawl_jobs (id, name) VALUES (73, 'fleet gone'), (74, 'new work');
SELECT count(*) FROM jc_create_chunks(73, 250);
SELECT count(*) FROM jc_create_chunks(74, 121);
SELECT count(*) FROM jc_claim(73, 250);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 day' WHERE job_id = 73;
SELECT count(*) FROM jc_next_pending(74);
SELECT status, count(*) FROM job_chunks WHERE job_id = 73 GROUP BY status ORDER BY status;
SELECT count(*) FROM jc_claim(74, 120);
SELECT status, count(*) FROM job_chunks WHERE job_id = 73 GROUP BY status ORDER BY status;
ROLLBACK;
-- So does a claim across all jobs, however many jobs it takes from: of 400
-- expired, a claim of one chunk from each of five jobs (at a priority above
-- job 73's) takes back 100, not 100 for each job.
BEGIN;
SET LOCAL jobchunk.rescan_interval = 0;
SET LOCAL jobchunk.chunk_size = 1;
INSERT INTO crawl_jobs (id, name) VALUES (73, 'fleet gone');
INSERT INTO crawl_jobs (id, name) SELECT i, 'urgent ' || i FROM generate_series(75, 79) AS i;
SELECT count(*) FROM jc_create_chunks(73, 400);
SELECT count(*) FROM generate_series(75, 79) AS i, jc_create_chunks(i, 1, 9);
SELECT count(*) FROM jc_claim(73, 400);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 day' WHERE job_id = 73;
SELECT array_agg(job_id ORDER BY job_id) FROM jc_claim(NULL, 5);
SELECT status, count(*) FROM job_chunks WHERE job_id = 73 GROUP BY status ORDER BY status;
ROLLBACK;
SELECT setval('job_chunks_id_seq', :chunk_ids_before) > 0 AS ids_as_before;
