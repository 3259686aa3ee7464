--
-- Bad input, table-driven: every public function with NULLs, zeros,
-- negatives, the extremes of its types, unknown ids and names, odd text, odd
-- arrays, odd intervals, and every illegal transition.  Each case gives the
-- call and the outcome the README documents: 'ok', or the SQLSTATE
-- (22023 invalid input, P0002 not found, 55000 wrong state).
--
-- Each case runs against the same fixture: fingerprint() of all three tables
-- before, the call through outcome(), the same fingerprint after, an
-- optional check of what a successful call stored, and then everything the
-- case did is rolled back.  So a failing call must leave the tables
-- unchanged, and a successful one shows whether it wrote (unchanged = f) or
-- only read.
--
SET search_path = jobchunk, public;

SELECT public.fingerprint() AS start \gset

-- The whole test is one transaction, rolled back at the end.  The jobs the
-- earlier tests left (one of 100,000 chunks) are set aside within it, so the
-- cases meet only the fixture below and the fingerprints stay small.
BEGIN;
DELETE FROM crawl_jobs;

-- The fixture.  Job 900 has a chunk in every state: {P} pending, {R}
-- processing under lease token 1, {C} completed, {F} failed, {L} failed
-- with jobchunk.max_retries (3) retries used up, {S} processing under token 2
-- (token 1 is stale), and four more pending ones.  Job 901 is paused, with a
-- pending chunk {PP}; job 902 is cancelled, with a chunk {XR} still
-- processing and a chunk {X} failed by the cancel; job 903 has no chunks;
-- job 904 was cancelled before it had any.
INSERT INTO crawl_jobs (id, name) VALUES
    (900, 'bad input'), (901, 'paused'), (902, 'cancelled'), (903, 'empty'),
    (904, 'cancelled, empty');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(900, 10, 10);
SELECT count(*) FROM jc_create_chunks(901, 2, 10);
SELECT count(*) FROM jc_create_chunks(902, 2, 10);
RESET jobchunk.chunk_size;

CREATE TEMP TABLE chunk (name text PRIMARY KEY, id bigint NOT NULL);
INSERT INTO chunk
SELECT name, (SELECT id FROM job_chunks WHERE job_id = j AND chunk_index = i)
FROM (VALUES ('P', 900, 0), ('R', 900, 1), ('C', 900, 2), ('F', 900, 3),
             ('L', 900, 4), ('S', 900, 5), ('PP', 901, 0), ('XR', 902, 0),
             ('X', 902, 1)) AS t(name, j, i);
DO $$
DECLARE
    c jobchunk.job_chunks;
BEGIN
    PERFORM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'R'), 'w1');
    SELECT * INTO c FROM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'C'));
    PERFORM jobchunk.jc_mark_completed(c.id, c.lease_token);
    SELECT * INTO c FROM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'F'));
    PERFORM jobchunk.jc_mark_failed(c.id, 'first failure', c.lease_token);
    FOR i IN 1..3 LOOP
        SELECT * INTO c FROM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'L'));
        PERFORM jobchunk.jc_mark_failed(c.id, 'failure ' || i, c.lease_token);
        PERFORM jobchunk.jc_retry(c.id);
    END LOOP;
    SELECT * INTO c FROM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'L'));
    PERFORM jobchunk.jc_mark_failed(c.id, 'failure 4', c.lease_token);
    SELECT * INTO c FROM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'S'), 'w0');
    PERFORM jobchunk.jc_mark_failed(c.id, 'lost', c.lease_token);
    PERFORM jobchunk.jc_retry(c.id);
    PERFORM jobchunk.jc_mark_processing(c.id, 'w2');
    PERFORM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'XR'), 'w3');
    PERFORM jobchunk.jc_pause_job(901);
    PERFORM jobchunk.jc_cancel_job(902);
    PERFORM jobchunk.jc_cancel_job(904);
END
$$;
-- Claims take their lease tokens from the clock; the fixture's are set to
-- small numbers, so that the cases can name them.
UPDATE job_chunks AS c SET lease_token = t.token
FROM chunk AS k JOIN (VALUES ('R', 1), ('C', 1), ('F', 1), ('L', 4), ('S', 2), ('XR', 1))
    AS t(name, token) USING (name)
WHERE c.id = k.id;
SELECT k.name, c.job_id, c.chunk_index, c.status, c.retry_count, c.lease_token,
       c.task_id, c.error_message, j.state
FROM chunk k JOIN job_chunks c USING (id) JOIN crawl_jobs j ON j.id = c.job_id
ORDER BY c.job_id, c.chunk_index;

-- The cases.  call is run as SELECT jobchunk.<call>, with {name} replaced by
-- the id of the fixture's chunk; setting is a parameter set for the case
-- only; check is a condition on what a successful call stored.
CREATE TEMP TABLE cases (
    n serial PRIMARY KEY,
    call text NOT NULL,
    expect text NOT NULL CHECK (expect IN ('ok', '22023', 'P0002', '55000')),
    setting text,
    check_sql text
);
CREATE FUNCTION pg_temp.chunk(bigint) RETURNS jobchunk.job_chunks
LANGUAGE sql AS 'SELECT * FROM jobchunk.job_chunks WHERE id = $1';

-- jc_create_chunks(job_id bigint, max_images bigint, priority int DEFAULT 5)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_create_chunks(NULL::bigint, 100, 5)', '22023', NULL, NULL),
    ('jc_create_chunks(903, NULL::bigint, 5)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 100, NULL::int)', '22023', NULL, NULL),
    ('jc_create_chunks(NULL::bigint, NULL::bigint, NULL::int)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 0)', '22023', NULL, NULL),
    ('jc_create_chunks(903, -1)', '22023', NULL, NULL),
    ('jc_create_chunks(903, -9223372036854775808)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 9223372036854775807)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 4611686018427387904)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 9223372036854775807)', '22023', 'jobchunk.chunk_size=2147483647', NULL),
    ('jc_create_chunks(903, 4611686018427387904)', '22023', 'jobchunk.chunk_size=2147483647', NULL),
    ('jc_create_chunks(903, 2147483648)', '22023', 'jobchunk.chunk_size=1', NULL),
    ('jc_create_chunks(903, 4611686018427387904)', '22023', 'jobchunk.chunk_size=1', NULL),
    ('jc_create_chunks(903, 100, -1)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 100, 11)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 100, -2147483648)', '22023', NULL, NULL),
    ('jc_create_chunks(903, 100, 2147483647)', '22023', NULL, NULL),
    ('jc_create_chunks(NULL::bigint, 0, 11)', '22023', NULL, NULL),
    ('jc_create_chunks(999999, 0)', '22023', NULL, NULL),
    ('jc_create_chunks(0, 100)', 'P0002', NULL, NULL),
    ('jc_create_chunks(-1, 100)', 'P0002', NULL, NULL),
    ('jc_create_chunks(999999, 100)', 'P0002', NULL, NULL),
    ('jc_create_chunks(-9223372036854775808, 100)', 'P0002', NULL, NULL),
    ('jc_create_chunks(9223372036854775807, 100)', 'P0002', NULL, NULL),
    ('jc_create_chunks(900, 100)', '55000', NULL, NULL),
    ('jc_create_chunks(901, 100)', '55000', NULL, NULL),
    ('jc_create_chunks(902, 100)', '55000', NULL, NULL),
    ('jc_create_chunks(904, 100)', '55000', NULL, NULL),
    ('jc_create_chunks(903, 1)', 'ok', NULL,
     $$(SELECT count(*) = 1 AND min(image_range::text) = '{"end": 0, "start": 0}' FROM jobchunk.job_chunks WHERE job_id = 903)$$),
    ('jc_create_chunks(903, 100, 0)', 'ok', NULL,
     $$(SELECT count(*) = 1 AND min(priority) = 0 FROM jobchunk.job_chunks WHERE job_id = 903)$$),
    ('jc_create_chunks(903, 100, 10)', 'ok', NULL,
     $$(SELECT count(*) = 1 AND min(priority) = 10 FROM jobchunk.job_chunks WHERE job_id = 903)$$),
    ('jc_create_chunks(903, 6442450941)', 'ok', 'jobchunk.chunk_size=2147483647',
     $$(SELECT count(*) = 3 AND max((image_range->>'end')::bigint) = 6442450940 FROM jobchunk.job_chunks WHERE job_id = 903)$$),
    ('jc_create_chunks(903, 1000)', 'ok', 'jobchunk.chunk_size=1',
     $$(SELECT count(*) = 1000 AND max(chunk_index) = 999 FROM jobchunk.job_chunks WHERE job_id = 903)$$);

-- jc_mark_processing(chunk_id bigint, task_id text DEFAULT NULL,
--                    lease interval DEFAULT NULL)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_mark_processing(NULL::bigint)', '22023', NULL, NULL),
    ('jc_mark_processing(NULL::bigint, ''w'', interval ''1 hour'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, NULL::text, NULL::interval)', 'ok', NULL,
     $$(pg_temp.chunk({P})).task_id IS NULL AND (pg_temp.chunk({P})).lease_expires_at BETWEEN statement_timestamp() + interval '5 minutes' AND clock_timestamp() + interval '5 minutes'$$),
    ('jc_mark_processing({P}, ''w'', interval ''1 microsecond'')', 'ok', NULL,
     $$(pg_temp.chunk({P})).lease_expires_at BETWEEN statement_timestamp() + interval '1 microsecond' AND clock_timestamp() + interval '1 microsecond'$$),
    ('jc_mark_processing({P}, ''w'', interval ''2147483647 seconds'')', 'ok', NULL,
     $$(pg_temp.chunk({P})).lease_expires_at BETWEEN statement_timestamp() + interval '2147483647 seconds' AND clock_timestamp() + interval '2147483647 seconds'$$),
    ('jc_mark_processing({P}, ''w'', interval ''0'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, ''w'', interval ''-1 microsecond'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, ''w'', interval ''1 hour -3600 seconds'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, ''w'', interval ''-178000000 years'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, ''w'', interval ''100 years'')', 'ok', NULL,
     $$(pg_temp.chunk({P})).lease_expires_at BETWEEN statement_timestamp() + interval '100 years' AND clock_timestamp() + interval '100 years'$$),
    ('jc_mark_processing({P}, ''w'', interval ''100 years 1 microsecond'')', '22023', NULL, NULL),
    -- 100 years hold 24 or 25 leap days, whenever they start
    ('jc_mark_processing({P}, ''w'', interval ''36524 days'')', 'ok', NULL,
     $$(pg_temp.chunk({P})).lease_expires_at BETWEEN statement_timestamp() + interval '36524 days' AND clock_timestamp() + interval '36524 days'$$),
    ('jc_mark_processing({P}, ''w'', interval ''36526 days'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, ''w'', interval ''178000000 years'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, ''w'', interval ''-5965232 years -4 months 2147483640 days'')', '22023', NULL, NULL),
    ('jc_mark_processing({P}, '''')', 'ok', NULL,
     $$(pg_temp.chunk({P})).task_id = ''$$),
    ('jc_mark_processing({P}, repeat(''x'', 255))', 'ok', NULL,
     $$(pg_temp.chunk({P})).task_id = repeat('x', 255)$$),
    ('jc_mark_processing({P}, repeat(''x'', 256))', '22023', NULL, NULL),
    ('jc_mark_processing({P}, repeat(''é'', 255))', 'ok', NULL,
     $$(pg_temp.chunk({P})).task_id = repeat('é', 255)$$),
    ('jc_mark_processing({P}, repeat(''é'', 256))', '22023', NULL, NULL),
    ('jc_mark_processing({P}, repeat(''𠀀'', 255))', 'ok', NULL,
     $$(pg_temp.chunk({P})).task_id = repeat('𠀀', 255)$$),
    ('jc_mark_processing({P}, repeat(''𠀀'', 256))', '22023', NULL, NULL),
    ('jc_mark_processing({P}, repeat(''x'', 1048576))', '22023', NULL, NULL),
    ('jc_mark_processing({PP}, ''w'')', 'ok', NULL,
     $$(pg_temp.chunk({PP})).status = 'processing'$$),
    ('jc_mark_processing(0)', 'P0002', NULL, NULL),
    ('jc_mark_processing(-1)', 'P0002', NULL, NULL),
    ('jc_mark_processing(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_mark_processing(9223372036854775807)', 'P0002', NULL, NULL),
    ('jc_mark_processing(-1, repeat(''x'', 256))', '22023', NULL, NULL),
    ('jc_mark_processing(-1, NULL, interval ''0'')', '22023', NULL, NULL),
    ('jc_mark_processing({R})', '55000', NULL, NULL),
    ('jc_mark_processing({C})', '55000', NULL, NULL),
    ('jc_mark_processing({F})', '55000', NULL, NULL),
    ('jc_mark_processing({L})', '55000', NULL, NULL),
    ('jc_mark_processing({XR})', '55000', NULL, NULL),
    ('jc_mark_processing({X})', '55000', NULL, NULL);

-- jc_mark_completed(chunk_id bigint, lease_token bigint DEFAULT NULL)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_mark_completed(NULL::bigint)', '22023', NULL, NULL),
    ('jc_mark_completed(NULL::bigint, 1::bigint)', '22023', NULL, NULL),
    ('jc_mark_completed({R})', 'ok', NULL,
     $$(pg_temp.chunk({R})).status = 'completed'$$),
    ('jc_mark_completed({R}, NULL::bigint)', 'ok', NULL, NULL),
    ('jc_mark_completed({R}, 1)', 'ok', NULL, NULL),
    ('jc_mark_completed({R}, 0)', '55000', NULL, NULL),
    ('jc_mark_completed({R}, 2)', '55000', NULL, NULL),
    ('jc_mark_completed({R}, -1)', '55000', NULL, NULL),
    ('jc_mark_completed({R}, -9223372036854775808)', '55000', NULL, NULL),
    ('jc_mark_completed({R}, 9223372036854775807)', '55000', NULL, NULL),
    ('jc_mark_completed({S}, 1)', '55000', NULL, NULL),
    ('jc_mark_completed({S}, 2)', 'ok', NULL, NULL),
    ('jc_mark_completed({XR})', 'ok', NULL, NULL),
    ('jc_mark_completed({P})', '55000', NULL, NULL),
    ('jc_mark_completed({P}, 0)', '55000', NULL, NULL),
    ('jc_mark_completed({C})', '55000', NULL, NULL),
    ('jc_mark_completed({C}, 1)', 'ok', NULL,
     $$(pg_temp.chunk({C})).status = 'completed'$$),
    ('jc_mark_completed({C}, 2)', '55000', NULL, NULL),
    ('jc_mark_completed({F}, 1)', '55000', NULL, NULL),
    ('jc_mark_completed({F})', '55000', NULL, NULL),
    ('jc_mark_completed({L})', '55000', NULL, NULL),
    ('jc_mark_completed({X})', '55000', NULL, NULL),
    ('jc_mark_completed(0)', 'P0002', NULL, NULL),
    ('jc_mark_completed(-1, 1)', 'P0002', NULL, NULL),
    ('jc_mark_completed(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_mark_completed(9223372036854775807)', 'P0002', NULL, NULL);

-- jc_mark_completed(chunk_ids bigint[], lease_tokens bigint[] DEFAULT NULL)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_mark_completed(NULL::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(NULL::bigint[], ARRAY[1]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(''{}''::bigint[])', 'ok', NULL, NULL),
    ('jc_mark_completed(''{}''::bigint[], ''{}''::bigint[])', 'ok', NULL, NULL),
    ('jc_mark_completed(''{}''::bigint[], NULL::bigint[])', 'ok', NULL, NULL),
    ('jc_mark_completed(''{}''::bigint[], ARRAY[1]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[NULL]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, NULL]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}]::bigint[], ARRAY[NULL]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {S}]::bigint[], ARRAY[1]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}]::bigint[], ARRAY[1, 1]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {R}]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {S}, {R}]::bigint[], ARRAY[1, 2, 1]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[-1, -1]::bigint[])', '22023', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {S}]::bigint[])', 'ok', NULL,
     $$(pg_temp.chunk({R})).status = 'completed' AND (pg_temp.chunk({S})).status = 'completed'$$),
    ('jc_mark_completed(ARRAY[{S}, {R}]::bigint[], ARRAY[2, 1]::bigint[])', 'ok', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {S}]::bigint[], ARRAY[1, 1]::bigint[])', '55000', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {P}]::bigint[])', '55000', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {C}]::bigint[])', '55000', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {C}]::bigint[], ARRAY[1, 1]::bigint[])', 'ok', NULL,
     $$(pg_temp.chunk({R})).status = 'completed'$$),
    ('jc_mark_completed(ARRAY[{C}]::bigint[], ARRAY[1]::bigint[])', 'ok', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {C}]::bigint[], ARRAY[1, 2]::bigint[])', '55000', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, {F}]::bigint[])', '55000', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, 0]::bigint[])', 'P0002', NULL, NULL),
    ('jc_mark_completed(ARRAY[{R}, -9223372036854775808]::bigint[])', 'P0002', NULL, NULL),
    ('jc_mark_completed(ARRAY[9223372036854775807, {R}]::bigint[])', 'P0002', NULL, NULL);

-- jc_mark_failed(chunk_id bigint, error_message text,
--                lease_token bigint DEFAULT NULL); the message is stored
-- verbatim, whatever it holds.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_mark_failed(NULL::bigint, ''x'')', '22023', NULL, NULL),
    ('jc_mark_failed({R}, NULL::text)', '22023', NULL, NULL),
    ('jc_mark_failed(NULL::bigint, NULL::text, NULL::bigint)', '22023', NULL, NULL),
    ('jc_mark_failed({R}, ''x'', NULL::bigint)', 'ok', NULL,
     $$(pg_temp.chunk({R})).status = 'failed'$$),
    ('jc_mark_failed({R}, '''')', 'ok', NULL,
     $$(pg_temp.chunk({R})).error_message = ''$$),
    ('jc_mark_failed({R}, ''it''''s "quoted"; DROP TABLE x; --'')', 'ok', NULL,
     $$(pg_temp.chunk({R})).error_message = 'it''s "quoted"; DROP TABLE x; --'$$),
    ('jc_mark_failed({R}, ''C:\temp\new \\ \n \'')', 'ok', NULL,
     $$(pg_temp.chunk({R})).error_message = 'C:\temp\new \\ \n \' AND length((pg_temp.chunk({R})).error_message) = 19$$),
    ('jc_mark_failed({R}, E''line 1\nline 2\r\n\ttab\x01'')', 'ok', NULL,
     $$(pg_temp.chunk({R})).error_message = E'line 1\nline 2\r\n\ttab\x01'$$),
    ('jc_mark_failed({R}, ''déjà vu, 日本語, 𠀀'')', 'ok', NULL,
     $$(pg_temp.chunk({R})).error_message = 'déjà vu, 日本語, 𠀀'$$),
    ('jc_mark_failed({R}, repeat(''x'', 1048576))', 'ok', NULL,
     $$(pg_temp.chunk({R})).error_message = repeat('x', 1048576)$$),
    ('jc_mark_failed({R}, repeat(E''é\n''''\\'', 262144))', 'ok', NULL,
     $$(pg_temp.chunk({R})).error_message = repeat(E'é\n''\\', 262144) AND octet_length((pg_temp.chunk({R})).error_message) = 1310720$$),
    ('jc_mark_failed({R}, ''x'', 1)', 'ok', NULL, NULL),
    ('jc_mark_failed({R}, ''x'', 0)', '55000', NULL, NULL),
    ('jc_mark_failed({R}, ''x'', 2)', '55000', NULL, NULL),
    ('jc_mark_failed({R}, ''x'', -9223372036854775808)', '55000', NULL, NULL),
    ('jc_mark_failed({R}, ''x'', 9223372036854775807)', '55000', NULL, NULL),
    ('jc_mark_failed({S}, ''x'', 1)', '55000', NULL, NULL),
    ('jc_mark_failed({S}, ''x'', 2)', 'ok', NULL, NULL),
    ('jc_mark_failed({XR}, ''x'')', 'ok', NULL, NULL),
    ('jc_mark_failed({P}, ''x'')', '55000', NULL, NULL),
    ('jc_mark_failed({C}, ''x'')', '55000', NULL, NULL),
    ('jc_mark_failed({F}, ''x'')', '55000', NULL, NULL),
    ('jc_mark_failed({L}, ''x'')', '55000', NULL, NULL),
    ('jc_mark_failed({X}, ''x'')', '55000', NULL, NULL),
    ('jc_mark_failed(0, ''x'')', 'P0002', NULL, NULL),
    ('jc_mark_failed(-1, ''x'', 1)', 'P0002', NULL, NULL),
    ('jc_mark_failed(-9223372036854775808, ''x'')', 'P0002', NULL, NULL),
    ('jc_mark_failed(9223372036854775807, ''x'')', 'P0002', NULL, NULL);

-- jc_retry(chunk_id bigint)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_retry(NULL::bigint)', '22023', NULL, NULL),
    ('jc_retry({F})', 'ok', NULL,
     $$(pg_temp.chunk({F})).status = 'pending' AND (pg_temp.chunk({F})).retry_count = 1 AND (pg_temp.chunk({F})).error_message = 'first failure'$$),
    ('jc_retry({F})', '55000', 'jobchunk.max_retries=0', NULL),
    ('jc_retry({L})', '55000', NULL, NULL),
    ('jc_retry({L})', 'ok', 'jobchunk.max_retries=4', NULL),
    ('jc_retry({L})', 'ok', 'jobchunk.max_retries=2147483647', NULL),
    ('jc_retry({P})', '55000', NULL, NULL),
    ('jc_retry({R})', '55000', NULL, NULL),
    ('jc_retry({C})', '55000', NULL, NULL),
    ('jc_retry({S})', '55000', NULL, NULL),
    ('jc_retry({X})', '55000', NULL, NULL),
    ('jc_retry(0)', 'P0002', NULL, NULL),
    ('jc_retry(-1)', 'P0002', NULL, NULL),
    ('jc_retry(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_retry(9223372036854775807)', 'P0002', NULL, NULL);

-- jc_heartbeat(chunk_id bigint, lease_token bigint, extend interval DEFAULT NULL)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_heartbeat(NULL::bigint, 1)', '22023', NULL, NULL),
    ('jc_heartbeat({R}, NULL::bigint)', '22023', NULL, NULL),
    ('jc_heartbeat(NULL::bigint, NULL::bigint, NULL::interval)', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1)', 'ok', NULL,
     $$(pg_temp.chunk({R})).lease_expires_at BETWEEN statement_timestamp() + interval '5 minutes' AND clock_timestamp() + interval '5 minutes'$$),
    ('jc_heartbeat({R}, 1, NULL::interval)', 'ok', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''1 microsecond'')', 'ok', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''2147483647 seconds'')', 'ok', NULL,
     $$(pg_temp.chunk({R})).lease_expires_at BETWEEN statement_timestamp() + interval '2147483647 seconds' AND clock_timestamp() + interval '2147483647 seconds'$$),
    ('jc_heartbeat({R}, 1, interval ''0'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''-1 second'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''1 hour -3600 seconds'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''-178000000 years'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''100 years'')', 'ok', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''100 years 1 microsecond'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''876576 hours'')', 'ok', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''36526 days'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''178000000 years'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 1, interval ''-5965232 years -4 months 2147483640 days'')', '22023', NULL, NULL),
    ('jc_heartbeat({R}, 0)', '55000', NULL, NULL),
    ('jc_heartbeat({R}, 2)', '55000', NULL, NULL),
    ('jc_heartbeat({R}, -9223372036854775808)', '55000', NULL, NULL),
    ('jc_heartbeat({R}, 9223372036854775807)', '55000', NULL, NULL),
    ('jc_heartbeat({S}, 1)', '55000', NULL, NULL),
    ('jc_heartbeat({S}, 2)', 'ok', NULL, NULL),
    ('jc_heartbeat({P}, 0)', '55000', NULL, NULL),
    ('jc_heartbeat({C}, 1)', '55000', NULL, NULL),
    ('jc_heartbeat({F}, 1)', '55000', NULL, NULL),
    ('jc_heartbeat({L}, 4)', '55000', NULL, NULL),
    ('jc_heartbeat(0, 1)', 'P0002', NULL, NULL),
    ('jc_heartbeat(-1, 1)', 'P0002', NULL, NULL),
    ('jc_heartbeat(-9223372036854775808, 1)', 'P0002', NULL, NULL),
    ('jc_heartbeat(9223372036854775807, 1)', 'P0002', NULL, NULL),
    ('jc_heartbeat(-1, 1, interval ''0'')', '22023', NULL, NULL);

-- jc_heartbeat_batch(chunk_ids bigint[], lease_tokens bigint[],
--                    extend interval DEFAULT NULL)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_heartbeat_batch(NULL, ARRAY[1])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}], NULL)', '22023', NULL, NULL),
    ('jc_heartbeat_batch(NULL, NULL, NULL)', '22023', NULL, NULL),
    ('jc_heartbeat_batch(''{}'', ''{}'')', 'ok', NULL, NULL),
    ('jc_heartbeat_batch(''{}'', ''{}'', interval ''-1 second'')', '22023', NULL, NULL),
    ('jc_heartbeat_batch(''{}'', ARRAY[1])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}, {S}], ARRAY[1])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[NULL]::bigint[], ARRAY[1])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}], ARRAY[NULL]::bigint[])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}, {R}], ARRAY[1, 1])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[[{R}]], ARRAY[[1]])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}], ARRAY[[1]])', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}, {S}], ARRAY[1, 2])', 'ok', NULL,
     $$(pg_temp.chunk({R})).lease_expires_at BETWEEN statement_timestamp() + interval '5 minutes' AND clock_timestamp() + interval '5 minutes' AND (pg_temp.chunk({S})).lease_expires_at BETWEEN statement_timestamp() + interval '5 minutes' AND clock_timestamp() + interval '5 minutes'$$),
    ('jc_heartbeat_batch(ARRAY[{S}, {R}, {XR}], ARRAY[2, 1, 1], interval ''100 years'')', 'ok', NULL,
     $$(pg_temp.chunk({XR})).lease_expires_at BETWEEN statement_timestamp() + interval '100 years' AND clock_timestamp() + interval '100 years'$$),
    ('jc_heartbeat_batch(ARRAY[{R}], ARRAY[1], interval ''0'')', '22023', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}], ARRAY[1], interval ''100 years 1 microsecond'')', '22023', NULL, NULL),
    -- A lost lease, or no such chunk, is a NULL expiry, not an error.
    ('jc_heartbeat_batch(ARRAY[{R}, {S}], ARRAY[1, 1])', 'ok', NULL,
     $$(pg_temp.chunk({R})).lease_expires_at BETWEEN statement_timestamp() + interval '5 minutes' AND clock_timestamp() + interval '5 minutes' AND (pg_temp.chunk({S})).lease_expires_at < statement_timestamp() + interval '5 minutes'$$),
    ('jc_heartbeat_batch(ARRAY[{R}, {S}], ARRAY[0, 2])', 'ok', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}, {P}], ARRAY[1, 0])', 'ok', NULL,
     $$(pg_temp.chunk({P})).status = 'pending' AND (pg_temp.chunk({P})).lease_expires_at IS NULL$$),
    ('jc_heartbeat_batch(ARRAY[{R}, {C}], ARRAY[1, 1])', 'ok', NULL,
     $$(pg_temp.chunk({C})).status = 'completed' AND (pg_temp.chunk({C})).lease_expires_at IS NULL$$),
    ('jc_heartbeat_batch(ARRAY[{R}, {F}], ARRAY[1, 1])', 'ok', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}, {L}], ARRAY[1, 4])', 'ok', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}, 0], ARRAY[1, 1])', 'ok', NULL,
     $$(pg_temp.chunk({R})).lease_expires_at BETWEEN statement_timestamp() + interval '5 minutes' AND clock_timestamp() + interval '5 minutes'$$),
    ('jc_heartbeat_batch(ARRAY[-9223372036854775808, {R}], ARRAY[1, 1])', 'ok', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{R}, 9223372036854775807], ARRAY[1, -9223372036854775808])', 'ok', NULL, NULL),
    ('jc_heartbeat_batch(ARRAY[{S}, {C}, 0], ARRAY[1, 2, 3])', 'ok', NULL, NULL);

-- jc_release(chunk_ids bigint[], lease_tokens bigint[]): a chunk not held
-- under its token is left as it is, not refused.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_release(NULL, ARRAY[1])', '22023', NULL, NULL),
    ('jc_release(NULL, NULL)', '22023', NULL, NULL),
    ('jc_release(''{}'', ''{}'')', 'ok', NULL, NULL),
    ('jc_release(''{}'', NULL)', 'ok', NULL, NULL),
    ('jc_release(''{}'', ARRAY[1])', '22023', NULL, NULL),
    ('jc_release(ARRAY[{R}, {S}], ARRAY[1])', '22023', NULL, NULL),
    ('jc_release(ARRAY[NULL]::bigint[], ARRAY[1])', '22023', NULL, NULL),
    ('jc_release(ARRAY[{R}], ARRAY[NULL]::bigint[])', '22023', NULL, NULL),
    ('jc_release(ARRAY[{R}, {R}], ARRAY[1, 1])', '22023', NULL, NULL),
    ('jc_release(ARRAY[{R}, {R}], NULL)', '22023', NULL, NULL),
    ('jc_release(ARRAY[[{R}]], ARRAY[[1]])', '22023', NULL, NULL),
    ('jc_release(ARRAY[{R}], ARRAY[[1]])', '22023', NULL, NULL),
    ('jc_release(ARRAY[{R}, {S}], ARRAY[1, 2])', 'ok', NULL,
     $$(pg_temp.chunk({R})).status = 'pending' AND (pg_temp.chunk({R})).retry_count = 0 AND (pg_temp.chunk({R})).lease_token = 1 AND (pg_temp.chunk({R})).lease_expires_at IS NULL AND (pg_temp.chunk({S})).status = 'pending' AND (pg_temp.chunk({S})).lease_token = 2$$),
    ('jc_release(ARRAY[{S}, {R}], NULL)', 'ok', NULL,
     $$(pg_temp.chunk({R})).status = 'pending' AND (pg_temp.chunk({S})).status = 'pending'$$),
    ('jc_release(ARRAY[{R}, {S}], ARRAY[1, 1])', 'ok', NULL,
     $$(pg_temp.chunk({R})).status = 'pending' AND (pg_temp.chunk({S})).status = 'processing'$$),
    ('jc_release(ARRAY[{R}], ARRAY[0])', 'ok', NULL, NULL),
    ('jc_release(ARRAY[{R}], ARRAY[-9223372036854775808])', 'ok', NULL, NULL),
    ('jc_release(ARRAY[{R}], ARRAY[9223372036854775807])', 'ok', NULL, NULL),
    ('jc_release(ARRAY[{P}, {C}, {F}, {L}], NULL)', 'ok', NULL, NULL),
    ('jc_release(ARRAY[{P}, {C}, {F}, {L}], ARRAY[0, 1, 1, 4])', 'ok', NULL, NULL),
    ('jc_release(ARRAY[{XR}], ARRAY[1])', 'ok', NULL,
     $$(pg_temp.chunk({XR})).status = 'failed' AND (pg_temp.chunk({XR})).error_message = 'job cancelled'$$),
    ('jc_release(ARRAY[{X}], NULL)', 'ok', NULL, NULL),
    ('jc_release(ARRAY[0, -1, -9223372036854775808, 9223372036854775807], NULL)', 'ok', NULL, NULL);

-- jc_next_pending(job_id bigint DEFAULT NULL, task_id text DEFAULT NULL,
--                 lease interval DEFAULT NULL): NULL job_id means any job.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_next_pending()', 'ok', NULL, NULL),
    ('jc_next_pending(NULL::bigint, NULL::text, NULL::interval)', 'ok', NULL,
     $$(pg_temp.chunk({P})).status = 'processing'$$),
    ('jc_next_pending(900)', 'ok', NULL,
     $$(pg_temp.chunk({P})).status = 'processing' AND (pg_temp.chunk({P})).lease_token > 0$$),
    ('jc_next_pending(901)', 'ok', NULL,
     $$(pg_temp.chunk({PP})).status = 'pending'$$),
    ('jc_next_pending(902)', 'ok', NULL, NULL),
    ('jc_next_pending(903)', 'ok', NULL, NULL),
    ('jc_next_pending(900, repeat(''𠀀'', 255), interval ''2147483647 seconds'')', 'ok', NULL,
     $$(pg_temp.chunk({P})).task_id = repeat('𠀀', 255)$$),
    ('jc_next_pending(0)', 'P0002', NULL, NULL),
    ('jc_next_pending(-1)', 'P0002', NULL, NULL),
    ('jc_next_pending(999999)', 'P0002', NULL, NULL),
    ('jc_next_pending(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_next_pending(9223372036854775807)', 'P0002', NULL, NULL),
    ('jc_next_pending(900, repeat(''x'', 256))', '22023', NULL, NULL),
    ('jc_next_pending(900, repeat(''é'', 256))', '22023', NULL, NULL),
    ('jc_next_pending(NULL::bigint, repeat(''x'', 256))', '22023', NULL, NULL),
    ('jc_next_pending(999999, repeat(''x'', 256))', '22023', NULL, NULL),
    ('jc_next_pending(900, NULL, interval ''0'')', '22023', NULL, NULL),
    ('jc_next_pending(900, NULL, interval ''-1 day'')', '22023', NULL, NULL),
    ('jc_next_pending(900, NULL, interval ''1 hour -3600 seconds'')', '22023', NULL, NULL),
    ('jc_next_pending(900, NULL, interval ''178000000 years'')', '22023', NULL, NULL),
    ('jc_next_pending(NULL::bigint, NULL, interval ''178000000 years'')', '22023', NULL, NULL),
    ('jc_next_pending(900, NULL, interval ''-178000000 years'')', '22023', NULL, NULL),
    ('jc_next_pending(900, NULL, interval ''-5965232 years -4 months 2147483640 days'')', '22023', NULL, NULL),
    ('jc_next_pending(999999, NULL, interval ''0'')', '22023', NULL, NULL);

-- jc_claim(job_id bigint, n int, task_id text DEFAULT NULL,
--          lease interval DEFAULT NULL)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_claim(900, NULL::int)', '22023', NULL, NULL),
    ('jc_claim(NULL::bigint, NULL::int, NULL::text, NULL::interval)', '22023', NULL, NULL),
    ('jc_claim(900, 0)', '22023', NULL, NULL),
    ('jc_claim(900, -1)', '22023', NULL, NULL),
    ('jc_claim(900, -2147483648)', '22023', NULL, NULL),
    ('jc_claim(999999, 0)', '22023', NULL, NULL),
    ('jc_claim(900, 1)', 'ok', NULL, NULL),
    ('jc_claim(900, 2147483647)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.job_chunks WHERE job_id = 900 AND status = 'pending')$$),
    ('jc_claim(NULL::bigint, 1)', 'ok', NULL, NULL),
    ('jc_claim(NULL::bigint, 2147483647)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.job_chunks c JOIN jobchunk.crawl_jobs j ON j.id = c.job_id WHERE c.status = 'pending' AND j.state = 'active')$$),
    ('jc_claim(901, 5)', 'ok', NULL, NULL),
    ('jc_claim(902, 5)', 'ok', NULL, NULL),
    ('jc_claim(903, 5)', 'ok', NULL, NULL),
    ('jc_claim(0, 1)', 'P0002', NULL, NULL),
    ('jc_claim(-1, 1)', 'P0002', NULL, NULL),
    ('jc_claim(999999, 2147483647)', 'P0002', NULL, NULL),
    ('jc_claim(-9223372036854775808, 1)', 'P0002', NULL, NULL),
    ('jc_claim(9223372036854775807, 1)', 'P0002', NULL, NULL),
    ('jc_claim(900, 1, repeat(''x'', 256))', '22023', NULL, NULL),
    ('jc_claim(900, 1, repeat(''x'', 255))', 'ok', NULL, NULL),
    ('jc_claim(900, 1, NULL, interval ''0'')', '22023', NULL, NULL),
    ('jc_claim(900, 1, NULL, interval ''-1 second'')', '22023', NULL, NULL),
    ('jc_claim(900, 1, NULL, interval ''178000000 years'')', '22023', NULL, NULL),
    ('jc_claim(900, 1, NULL, interval ''-178000000 years'')', '22023', NULL, NULL),
    ('jc_claim(900, 1, NULL, interval ''-5965232 years -4 months 2147483640 days'')', '22023', NULL, NULL);

-- jc_chunks(job_id bigint, status text DEFAULT NULL) and jc_chunk(chunk_id bigint)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_chunks(NULL::bigint)', '22023', NULL, NULL),
    ('jc_chunks(NULL::bigint, ''pending'')', '22023', NULL, NULL),
    ('jc_chunks(NULL::bigint, NULL::text)', '22023', NULL, NULL),
    ('jc_chunks(900)', 'ok', NULL,
     $$(SELECT count(*) = 10 FROM jobchunk.jc_chunks(900))$$),
    ('jc_chunks(900, NULL::text)', 'ok', NULL, NULL),
    ('jc_chunks(900, ''pending'')', 'ok', NULL,
     $$(SELECT count(*) = 5 FROM jobchunk.jc_chunks(900, 'pending'))$$),
    ('jc_chunks(900, ''processing'')', 'ok', NULL, NULL),
    ('jc_chunks(900, ''completed'')', 'ok', NULL, NULL),
    ('jc_chunks(900, ''failed'')', 'ok', NULL, NULL),
    ('jc_chunks(903)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_chunks(903))$$),
    ('jc_chunks(903, ''failed'')', 'ok', NULL, NULL),
    ('jc_chunks(900, ''done'')', '22023', NULL, NULL),
    ('jc_chunks(900, ''PENDING'')', '22023', NULL, NULL),
    ('jc_chunks(900, ''pending '')', '22023', NULL, NULL),
    ('jc_chunks(900, '' pending'')', '22023', NULL, NULL),
    ('jc_chunks(900, '''')', '22023', NULL, NULL),
    ('jc_chunks(900, ''pénding'')', '22023', NULL, NULL),
    ('jc_chunks(900, ''pending''''; --'')', '22023', NULL, NULL),
    ('jc_chunks(900, repeat(''x'', 1048576))', '22023', NULL, NULL),
    ('jc_chunks(999999, ''done'')', '22023', NULL, NULL),
    ('jc_chunks(0)', 'P0002', NULL, NULL),
    ('jc_chunks(-1, ''pending'')', 'P0002', NULL, NULL),
    ('jc_chunks(999999)', 'P0002', NULL, NULL),
    ('jc_chunks(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_chunks(9223372036854775807)', 'P0002', NULL, NULL),
    ('jc_chunk(NULL::bigint)', '22023', NULL, NULL),
    ('jc_chunk({P})', 'ok', NULL,
     $$(SELECT count(*) = 1 FROM jobchunk.jc_chunk({P}))$$),
    ('jc_chunk(0)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_chunk(0))$$),
    ('jc_chunk(-1)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_chunk(-1))$$),
    ('jc_chunk(-9223372036854775808)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_chunk(-9223372036854775808))$$),
    ('jc_chunk(9223372036854775807)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_chunk(9223372036854775807))$$);

-- jc_job(job_id bigint)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_job(NULL::bigint)', '22023', NULL, NULL),
    ('jc_job(900)', 'ok', NULL,
     $$(SELECT count(*) = 1 FROM jobchunk.jc_job(900) WHERE id = 900)$$),
    ('jc_job(0)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_job(0))$$),
    ('jc_job(-1)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_job(-1))$$),
    ('jc_job(-9223372036854775808)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_job(-9223372036854775808))$$),
    ('jc_job(9223372036854775807)', 'ok', NULL,
     $$(SELECT count(*) = 0 FROM jobchunk.jc_job(9223372036854775807))$$);

-- jc_jobs(): no argument to get wrong; it lists job 900 among the others.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_jobs()', 'ok', NULL,
     $$(SELECT count(*) = 1 FROM jobchunk.jc_jobs() WHERE id = 900)$$);

-- jc_statistics, jc_progress, jc_is_complete (job_id bigint)
INSERT INTO cases (call, expect, setting, check_sql)
SELECT f || '(' || arg || ')', expect, NULL, NULL
FROM unnest(ARRAY['jc_statistics', 'jc_progress', 'jc_is_complete']) WITH ORDINALITY AS fs(f, fn),
     unnest(ARRAY['NULL::bigint', '900', '903', '904', '0', '-1', '999999',
                  '-9223372036854775808', '9223372036854775807'],
            ARRAY['22023', 'ok', 'ok', 'ok', 'P0002', 'P0002', 'P0002',
                  'P0002', 'P0002']) WITH ORDINALITY AS a(arg, expect, an)
ORDER BY fn, an;

-- jc_pause_job, jc_resume_job, jc_cancel_job, jc_purge_job (job_id bigint).
-- Pausing a paused job and resuming an active one change nothing; a
-- cancelled job cannot be paused or resumed; cancelling it again fails no
-- chunk; a job with a chunk pending or processing cannot be purged, nor an
-- active one without chunks.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_pause_job(NULL::bigint)', '22023', NULL, NULL),
    ('jc_pause_job(900)', 'ok', NULL,
     $$(SELECT state = 'paused' FROM jobchunk.crawl_jobs WHERE id = 900)$$),
    ('jc_pause_job(901)', 'ok', NULL, NULL),
    ('jc_pause_job(902)', '55000', NULL, NULL),
    ('jc_pause_job(904)', '55000', NULL, NULL),
    ('jc_pause_job(0)', 'P0002', NULL, NULL),
    ('jc_pause_job(-1)', 'P0002', NULL, NULL),
    ('jc_pause_job(999999)', 'P0002', NULL, NULL),
    ('jc_pause_job(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_pause_job(9223372036854775807)', 'P0002', NULL, NULL),
    ('jc_resume_job(NULL::bigint)', '22023', NULL, NULL),
    ('jc_resume_job(901)', 'ok', NULL,
     $$(SELECT state = 'active' FROM jobchunk.crawl_jobs WHERE id = 901)$$),
    ('jc_resume_job(900)', 'ok', NULL, NULL),
    ('jc_resume_job(902)', '55000', NULL, NULL),
    ('jc_resume_job(904)', '55000', NULL, NULL),
    ('jc_resume_job(0)', 'P0002', NULL, NULL),
    ('jc_resume_job(-1)', 'P0002', NULL, NULL),
    ('jc_resume_job(999999)', 'P0002', NULL, NULL),
    ('jc_resume_job(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_resume_job(9223372036854775807)', 'P0002', NULL, NULL),
    ('jc_cancel_job(NULL::bigint)', '22023', NULL, NULL),
    ('jc_cancel_job(900)', 'ok', NULL,
     $$(SELECT count(*) = 5 FROM jobchunk.job_chunks WHERE job_id = 900 AND error_message = 'job cancelled')$$),
    ('jc_cancel_job(901)', 'ok', NULL, NULL),
    ('jc_cancel_job(902)', 'ok', NULL,
     $$(SELECT jobchunk.jc_cancel_job(902) = 0)$$),
    ('jc_cancel_job(903)', 'ok', NULL, NULL),
    ('jc_cancel_job(0)', 'P0002', NULL, NULL),
    ('jc_cancel_job(-1)', 'P0002', NULL, NULL),
    ('jc_cancel_job(999999)', 'P0002', NULL, NULL),
    ('jc_cancel_job(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_cancel_job(9223372036854775807)', 'P0002', NULL, NULL),
    ('jc_purge_job(NULL::bigint)', '22023', NULL, NULL),
    ('jc_purge_job(900)', '55000', NULL, NULL),
    ('jc_purge_job(901)', '55000', NULL, NULL),
    ('jc_purge_job(902)', '55000', NULL, NULL),
    ('jc_purge_job(903)', '55000', NULL, NULL),
    ('jc_purge_job(904)', 'ok', NULL,
     $$NOT EXISTS (SELECT FROM jobchunk.crawl_jobs WHERE id = 904)$$),
    ('jc_purge_job(0)', 'P0002', NULL, NULL),
    ('jc_purge_job(-1)', 'P0002', NULL, NULL),
    ('jc_purge_job(999999)', 'P0002', NULL, NULL),
    ('jc_purge_job(-9223372036854775808)', 'P0002', NULL, NULL),
    ('jc_purge_job(9223372036854775807)', 'P0002', NULL, NULL);

-- jc_purge_jobs (older_than interval): not negative, nor reaching back more
-- than 1000 years, as a time: '365000 days' does not, '365251 days' and
-- '1000 years 1 day' do, and so does a sum of fields each short of it.  The
-- fixture's jobs all changed in this transaction, so none finished before
-- it began, and none is purged: not even with '0'.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_purge_jobs(NULL::interval)', '22023', NULL, NULL),
    ('jc_purge_jobs(''0'')', 'ok', NULL,
     $$EXISTS (SELECT FROM jobchunk.crawl_jobs WHERE id = 904)$$),
    ('jc_purge_jobs(''1000 years'')', 'ok', NULL, NULL),
    ('jc_purge_jobs(''-1 microsecond'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''1 mon -40 days'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''1001 years'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''365000 days'')', 'ok', NULL, NULL),
    ('jc_purge_jobs(''365251 days'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''1000 years 1 day'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''999 years 300 days 2000 hours'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''366001 days'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''-178000000 years'')', '22023', NULL, NULL),
    ('jc_purge_jobs(''178000000 years'')', '22023', NULL, NULL),
    ('jc_purge_jobs(interval ''2147483647 hours'' + interval ''414564141 hours'')', '22023', NULL, NULL);

-- jc_create_job (name text DEFAULT NULL): any name, or none.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_create_job()', 'ok', NULL,
     $$EXISTS (SELECT FROM jobchunk.crawl_jobs WHERE name IS NULL AND state = 'active')$$),
    ('jc_create_job(NULL)', 'ok', NULL,
     $$EXISTS (SELECT FROM jobchunk.crawl_jobs WHERE name IS NULL AND state = 'active')$$),
    ('jc_create_job('''')', 'ok', NULL,
     $$EXISTS (SELECT FROM jobchunk.crawl_jobs WHERE name = '' AND state = 'active')$$);

-- jc_set_shard (shard integer): 0 to 32767, and only in a database without
-- jobs, which this one is not; but its jobs are shard 0's, which it stays.
-- (Setting one is tested by 007_plproxy.pl: a sequence's new position is
-- not rolled back.)
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_set_shard(NULL)', '22023', NULL, NULL),
    ('jc_set_shard(-1)', '22023', NULL, NULL),
    ('jc_set_shard(32768)', '22023', NULL, NULL),
    ('jc_set_shard(-2147483648)', '22023', NULL, NULL),
    ('jc_set_shard(2147483647)', '22023', NULL, NULL),
    ('jc_set_shard(0)', 'ok', NULL,
     $$(SELECT last_value FROM jobchunk.crawl_jobs_id_seq) < 1000$$),
    ('jc_set_shard(32767)', '55000', NULL, NULL);

-- jc_shard(): the number, 0 here, read from the two sequences.
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_shard()', 'ok', NULL, $$(SELECT jobchunk.jc_shard() = 0)$$);

-- jc_chunk_is_valid(status text, lease_expires_at timestamptz, chunk_index
-- int, priority int, retry_count int, lease_token bigint), the check
-- constraint of job_chunks: never fails, and reads nothing (chunk_check.sql
-- tests its answers).
INSERT INTO cases (call, expect, setting, check_sql) VALUES
    ('jc_chunk_is_valid(NULL, NULL, NULL, NULL, NULL, NULL)', 'ok', NULL, NULL),
    ('jc_chunk_is_valid('''', ''-infinity'', -2147483648, -2147483648, -2147483648, -1)', 'ok', NULL, NULL),
    ('jc_chunk_is_valid(''processing'', NULL, 2147483647, 10, 0, -9223372036854775808)', 'ok', NULL, NULL),
    ('jc_chunk_is_valid(repeat(''x'', 1000000), ''infinity'', 0, 0, 0, 9223372036854775807)', 'ok', NULL, NULL);

-- Run every case: fingerprint, outcome(), fingerprint, check; then undo it
-- (a successful call too, so that every case meets the same fixture).
CREATE TEMP TABLE results (
    n int PRIMARY KEY,
    got text NOT NULL,
    unchanged boolean NOT NULL,
    verified boolean
);
DO $$
DECLARE
    c record;
    k record;
    call text;
    check_sql text;
    before text;
    result text;
    after text;
    verified boolean;
BEGIN
    FOR c IN SELECT * FROM cases ORDER BY n LOOP
        call := c.call;
        check_sql := c.check_sql;
        FOR k IN SELECT * FROM chunk LOOP
            call := replace(call, '{' || k.name || '}', k.id::text);
            check_sql := replace(check_sql, '{' || k.name || '}', k.id::text);
        END LOOP;
        verified := NULL;
        BEGIN
            IF c.setting IS NOT NULL THEN
                PERFORM set_config(split_part(c.setting, '=', 1),
                                   split_part(c.setting, '=', 2), true);
            END IF;
            before := public.fingerprint();
            result := public.outcome('SELECT jobchunk.' || call);
            after := public.fingerprint();
            IF result = 'ok' AND check_sql IS NOT NULL THEN
                EXECUTE 'SELECT ' || check_sql INTO verified;
            END IF;
            -- undo the case, and its setting
            RAISE SQLSTATE 'JCUND';
        EXCEPTION WHEN SQLSTATE 'JCUND' THEN
            NULL;
        END;
        INSERT INTO results
        VALUES (c.n, CASE WHEN result = 'ok' THEN 'ok' ELSE left(result, 5) END,
                after = before, verified);
    END LOOP;
END
$$;

-- Every case: the call, its outcome (ok or SQLSTATE), whether the tables
-- are unchanged, and whether what it stored checked out.
SELECT n, call || coalesce('  [' || setting || ']', '') AS call,
       got AS outcome, unchanged, verified
FROM cases JOIN results USING (n)
ORDER BY n;

-- The summary: every outcome as documented, no failure changed anything,
-- every check held; only the documented SQLSTATEs occur.
SELECT count(*) AS cases,
       count(*) FILTER (WHERE got <> 'ok') AS failures,
       count(*) FILTER (WHERE got IS DISTINCT FROM expect) AS not_as_documented,
       count(*) FILTER (WHERE got <> 'ok' AND NOT unchanged) AS failures_that_changed_something,
       count(*) FILTER (WHERE check_sql IS NOT NULL AND verified IS NOT TRUE) AS failed_checks,
       count(DISTINCT regexp_replace(call, '\(.*', '')) AS functions
FROM cases JOIN results USING (n);
SELECT got AS outcome, count(*) FROM results GROUP BY got ORDER BY got COLLATE "C";
SELECT n, call, expect, got FROM cases JOIN results USING (n)
WHERE got IS DISTINCT FROM expect ORDER BY n;

-- Every public function has cases.
SELECT p.oid::regprocedure AS function_without_cases
FROM pg_proc p
WHERE p.pronamespace = 'jobchunk'::regnamespace
  AND NOT EXISTS (SELECT FROM cases WHERE call LIKE p.proname || '(%')
ORDER BY 1;

-- Leave the tables as they were.
ROLLBACK;
SELECT public.fingerprint() = :'start' AS as_before;
