--
-- A hostile search_path cannot change what the functions do.  A role puts,
-- in a schema that comes before jobchunk and pg_catalog in the caller's
-- search_path, tables, functions and operators named like those the
-- functions' statements use: some return wrong results (and log that they
-- were called), some raise.  Every function is then called under that
-- search_path, and again without the hostile schema: the results must be
-- the same, and nothing may be read from or written to the hostile schema.
--
-- No jobchunk function is called in this session before the hostile run,
-- so the statements the functions keep prepared are first made under the
-- hostile search_path.
--
SELECT last_value AS seq_last, is_called AS seq_called
FROM jobchunk.job_chunks_id_seq \gset
SELECT last_value AS job_seq_last, is_called AS job_seq_called
FROM jobchunk.crawl_jobs_id_seq \gset

-- The test is one transaction, rolled back at the end: the hostile role
-- and schema go with it.  The jobs the earlier tests left are set aside
-- within it, so that claims across jobs see only this test's jobs.
BEGIN;
DELETE FROM jobchunk.crawl_jobs;

CREATE ROLE regress_jobchunk_hostile NOLOGIN;
SELECT current_database() AS db \gset
GRANT CREATE ON DATABASE :"db" TO regress_jobchunk_hostile;

SET ROLE regress_jobchunk_hostile;
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

-- What was called that should not have been.
CREATE TABLE evil.log (what text);

-- Tables named like the extension's, with rows a hijacked statement would
-- read, and room for rows it would write.
CREATE TABLE evil.crawl_jobs (id bigint, name text, state text,
                              created_at timestamptz, updated_at timestamptz);
CREATE TABLE evil.job_chunks (id bigint, job_id bigint, chunk_index integer,
                              status text, priority integer, image_range jsonb,
                              error_message text, retry_count integer,
                              task_id varchar(255), created_at timestamptz,
                              updated_at timestamptz, lease_expires_at timestamptz,
                              lease_token bigint);
CREATE TABLE evil.job_counts (job_id bigint, stripe integer, total bigint,
                              processing bigint, completed bigint, failed bigint,
                              updated_at timestamptz DEFAULT '2000-01-01 00:00:00+00',
                              PRIMARY KEY (job_id, stripe));
INSERT INTO evil.crawl_jobs
VALUES (910, 'decoy', 'cancelled', '2000-01-01 00:00:00+00', '2000-01-01 00:00:00+00');
INSERT INTO evil.job_chunks
SELECT i, 910, i, 'completed', 0, '{"start": -1, "end": -1}', 'decoy', 99, 'decoy',
       '2000-01-01 00:00:00+00', '2000-01-01 00:00:00+00', NULL, 99
FROM pg_catalog.generate_series(0, 9) AS i;
INSERT INTO evil.job_counts VALUES (910, 0, 99, 99, 99, 99);
GRANT ALL ON ALL TABLES IN SCHEMA evil TO PUBLIC;

-- Functions that lie, and log.
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$
    INSERT INTO evil.log VALUES ('now()');
    SELECT timestamptz '2000-01-01 00:00:00+00'
$$;
CREATE FUNCTION evil.statement_timestamp() RETURNS timestamptz LANGUAGE sql AS $$
    INSERT INTO evil.log VALUES ('statement_timestamp()');
    SELECT timestamptz '2000-01-01 00:00:00+00'
$$;
CREATE FUNCTION evil.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE sql AS $$
    INSERT INTO evil.log VALUES ('unnest(bigint[])');
    SELECT NULL::bigint WHERE false
$$;
CREATE FUNCTION evil.generate_series(integer, integer) RETURNS SETOF integer LANGUAGE sql AS $$
    INSERT INTO evil.log VALUES ('generate_series(integer, integer)');
    SELECT 0
$$;
CREATE FUNCTION evil.jsonb_build_object(text, bigint, text, bigint) RETURNS jsonb
LANGUAGE sql AS $$
    INSERT INTO evil.log VALUES ('jsonb_build_object(text, bigint, text, bigint)');
    SELECT '{"start": -1, "end": -1}'::jsonb
$$;
-- count(*) and sum() that are 1000 off.
CREATE FUNCTION evil.count_step(bigint) RETURNS bigint LANGUAGE sql AS
    'SELECT $1 OPERATOR(pg_catalog.+) 1';
CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_step, STYPE = bigint, INITCOND = '1000');
CREATE FUNCTION evil.sum_step(bigint, integer) RETURNS bigint LANGUAGE sql AS
    'SELECT $1 OPERATOR(pg_catalog.+) $2';
CREATE AGGREGATE evil.sum(integer) (SFUNC = evil.sum_step, STYPE = bigint, INITCOND = '1000');
CREATE FUNCTION evil.sum_step(numeric, bigint) RETURNS numeric LANGUAGE sql AS
    'SELECT $1 OPERATOR(pg_catalog.+) $2';
CREATE AGGREGATE evil.sum(bigint) (SFUNC = evil.sum_step, STYPE = numeric, INITCOND = '1000');
-- max() of timestamps that is the least.
CREATE AGGREGATE evil.max(timestamptz) (SFUNC = pg_catalog.timestamptz_smaller, STYPE = timestamptz);

-- Operators: on integers they lie (comparisons negated, sums and
-- differences swapped, products zero) and log; on text, timestamps and
-- intervals they raise.
DO $$
DECLARE
    o record;
    fn text;
BEGIN
    FOR o IN
        SELECT op, t AS lt, t AS rt, 'boolean' AS res
        FROM unnest(ARRAY['=', '<>', '<', '>', '>=', '<=']) AS op,
             unnest(ARRAY['bigint', 'integer', 'text', 'timestamptz', 'interval']) AS t
        UNION ALL
        SELECT * FROM (VALUES
            ('+', 'bigint', 'bigint', 'bigint'), ('+', 'integer', 'integer', 'integer'),
            ('+', 'bigint', 'integer', 'bigint'),
            ('+', 'timestamptz', 'interval', 'timestamptz'),
            ('+', 'interval', 'interval', 'interval'),
            ('-', 'bigint', 'bigint', 'bigint'), ('-', 'integer', 'integer', 'integer'),
            ('-', 'bigint', 'integer', 'bigint'),
            ('-', 'timestamptz', 'interval', 'timestamptz'),
            ('-', 'timestamptz', 'timestamptz', 'interval'),
            ('*', 'bigint', 'bigint', 'bigint'), ('*', 'integer', 'integer', 'integer'),
            ('*', 'bigint', 'integer', 'bigint')) AS a(op, lt, rt, res)
    LOOP
        fn := format('evil.%s', quote_ident('op' || md5(o.op || o.lt || o.rt)));
        IF o.lt IN ('bigint', 'integer') THEN
            EXECUTE format(
                'CREATE FUNCTION %s(%s, %s) RETURNS %s LANGUAGE sql AS %L',
                fn, o.lt, o.rt, o.res,
                format('INSERT INTO evil.log VALUES (%L); SELECT %s',
                       o.op || ' (' || o.lt || ', ' || o.rt || ')',
                       CASE o.op
                           WHEN '+' THEN '$1 OPERATOR(pg_catalog.-) $2'
                           WHEN '-' THEN '$1 OPERATOR(pg_catalog.+) $2'
                           WHEN '*' THEN '0'
                           ELSE format('NOT ($1 OPERATOR(pg_catalog.%s) $2)', o.op)
                       END));
        ELSE
            EXECUTE format(
                'CREATE FUNCTION %s(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
                fn, o.lt, o.rt, o.res,
                format('BEGIN RAISE SQLSTATE %L USING MESSAGE = %L; END',
                       'EV001', 'hijacked: ' || o.op || ' (' || o.lt || ', ' || o.rt || ')'));
        END IF;
        EXECUTE format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %s)',
                       o.op, o.lt, o.rt, fn);
    END LOOP;
END
$$;
RESET ROLE;

-- What the hostile schema holds.
SELECT (SELECT count(*) FROM evil.crawl_jobs) AS decoy_jobs,
       (SELECT count(*) FROM evil.job_chunks) AS decoy_chunks,
       (SELECT count(*) FROM evil.job_counts) AS decoy_counts;
SELECT p.oid::regprocedure AS function
FROM pg_proc p WHERE p.pronamespace = 'evil'::regnamespace AND p.proname NOT LIKE 'op%'
ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT o.oprname AS operator, string_agg(o.oprleft::regtype || ' ' || o.oprname || ' ' ||
                                        o.oprright::regtype, ', ' ORDER BY o.oprleft::regtype::text COLLATE "C",
                                        o.oprright::regtype::text COLLATE "C") AS operands
FROM pg_operator o WHERE o.oprnamespace = 'evil'::regnamespace
GROUP BY o.oprname ORDER BY o.oprname::text COLLATE "C";

-- The traps work: under the hostile search_path, statements that do not
-- qualify their names get the hostile objects.
SET search_path = evil, jobchunk, pg_catalog;
SELECT 1::bigint = 1::bigint AS "1 = 1", 2 + 2 AS "2 + 2", now() AS "now()";
SELECT count(*) AS "count(*) of 3 rows" FROM (VALUES (1), (2), (3)) AS v(x);
SELECT count(*) AS "count(*) of the decoys" FROM job_chunks;
\set VERBOSITY terse
SAVEPOINT probe;
SELECT 'a'::text = 'a'::text;
ROLLBACK TO SAVEPOINT probe;
SELECT statement_timestamp() - interval '1 minute';
ROLLBACK TO SAVEPOINT probe;
\set VERBOSITY default
RESET search_path;
SELECT what, count(*) FROM evil.log GROUP BY what ORDER BY what COLLATE "C";
TRUNCATE evil.log;

--
-- The calls.  call is run as SELECT jsonb_agg(to_jsonb(x)) FROM
-- jobchunk.<call> AS x; {J:I} is the id of chunk I of job J, and
-- {J:I:token} its lease token when the step runs.  harness
-- steps set up what the calls need, under a safe search_path.
--
CREATE TEMP TABLE steps (n int PRIMARY KEY, call text, harness text);
INSERT INTO steps VALUES
    (1, NULL, 'INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (910, ''search path''), (911, ''second'') RETURNING ''jobs 910 and 911''::text'),
    (2, 'jc_create_chunks(910, 5000, 10)', NULL),
    (3, 'jc_mark_processing({910:9}, ''gone'')', NULL),
    (4, NULL, 'UPDATE jobchunk.job_chunks SET lease_expires_at = now() - interval ''1 second'' WHERE id = {910:9} RETURNING ''lease of 910/9 expired''::text'),
    (5, 'jc_chunks(910)', NULL),
    (6, 'jc_chunks(910, ''processing'')', NULL),
    (7, 'jc_chunk({910:0})', NULL),
    (8, 'jc_next_pending(910, ''w1'')', NULL),
    (9, 'jc_next_pending(NULL, ''w2'', interval ''1 hour'')', NULL),
    (10, 'jc_claim(910, 2, ''w3'', interval ''30 seconds'')', NULL),
    (11, 'jc_claim(NULL, 2)', NULL),
    (12, 'jc_mark_processing({910:6}, ''w4'', interval ''2 minutes'')', NULL),
    (13, 'jc_heartbeat({910:0}, {910:0:token})', NULL),
    (14, 'jc_heartbeat({910:0}, {910:0:token}, interval ''1 hour'')', NULL),
    (15, 'jc_heartbeat({910:0}, 1)', NULL),
    (16, 'jc_mark_completed({910:0}, {910:0:token})', NULL),
    (17, 'jc_mark_completed({910:1})', NULL),
    (18, 'jc_mark_completed(ARRAY[{910:2}, {910:3}]::bigint[], ARRAY[{910:2:token}, {910:3:token}]::bigint[])', NULL),
    (19, 'jc_mark_failed({910:4}, ''Timeout'', {910:4:token})', NULL),
    (20, 'jc_mark_failed({910:5}, ''x'', 7)', NULL),
    (21, 'jc_retry({910:4})', NULL),
    (22, 'jc_retry({910:0})', NULL),
    (23, 'jc_mark_completed({910:0})', NULL),
    (24, 'jc_mark_completed(ARRAY[{910:6}, {910:6}]::bigint[])', NULL),
    (25, 'jc_mark_completed(ARRAY[{910:6}, -1]::bigint[])', NULL),
    (26, 'jc_mark_completed(ARRAY[{910:6}]::bigint[], ARRAY[2]::bigint[])', NULL),
    (27, 'jc_mark_processing(-1)', NULL),
    (28, 'jc_mark_processing(NULL::bigint)', NULL),
    (29, 'jc_chunks(910, ''done'')', NULL),
    (30, 'jc_next_pending(910, repeat(''x'', 256))', NULL),
    (31, 'jc_next_pending(910, NULL, interval ''-1 second'')', NULL),
    (32, 'jc_statistics(910)', NULL),
    (33, 'jc_progress(910)', NULL),
    (34, 'jc_is_complete(910)', NULL),
    (35, 'jc_chunks(910, ''failed'')', NULL),
    (36, 'jc_pause_job(910)', NULL),
    (37, 'jc_next_pending(910)', NULL),
    (38, 'jc_claim(NULL, 5)', NULL),
    (39, 'jc_resume_job(910)', NULL),
    (40, 'jc_claim(910, 100, ''w5'')', NULL),
    (41, 'jc_create_chunks(911, 2500, 3)', NULL),
    (42, 'jc_create_chunks(911, 100)', NULL),
    (43, 'jc_statistics(911)', NULL),
    (44, 'jc_cancel_job(911)', NULL),
    (45, 'jc_is_complete(911)', NULL),
    (46, 'jc_progress(911)', NULL),
    (47, 'jc_purge_job(911)', NULL),
    (48, 'jc_purge_jobs(''0'')', NULL),
    (49, 'jc_cancel_job(910)', NULL),
    (50, 'jc_retry({910:4})', NULL),
    (51, 'jc_statistics(999)', NULL),
    (52, 'jc_chunks(910)', NULL),
    (53, 'jc_create_job(''search_path'')', NULL),
    (54, 'jc_set_shard(1)', NULL),
    (55, 'jc_heartbeat_batch(ARRAY[{910:6}], ARRAY[{910:6:token}], interval ''1 hour'')', NULL),
    (56, 'jc_heartbeat_batch(ARRAY[{910:6}, -1], ARRAY[{910:6:token}, 1])', NULL),
    (57, 'jc_release(ARRAY[{910:6}, -1], ARRAY[{910:6:token}, 1])', NULL),
    (58, 'jc_release(ARRAY[{910:6}], NULL)', NULL),
    (59, NULL, 'INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (912, ''third'') RETURNING ''job 912''::text'),
    (60, 'jc_create_chunks(912, 1500)', NULL),
    (61, 'jc_claim(912, 2, ''w6'')', NULL),
    (62, 'jc_release(ARRAY[{912:1}, {912:0}], ARRAY[{912:1:token}, {912:0:token}])', NULL),
    (63, 'jc_job(910)', NULL),
    (64, 'jc_shard()', NULL),
    (65, 'jc_jobs()', NULL),
    (66, NULL, 'SELECT (SELECT count(*) FROM evil.log) || '' calls logged; hostile tables unchanged: '' || (pg_temp.decoys() = (SELECT fingerprint FROM pg_temp.decoys_before))');

-- The hostile tables' contents, to tell that nothing wrote to them.
CREATE FUNCTION pg_temp.decoys() RETURNS text
LANGUAGE sql SET search_path = pg_catalog AS $$
    SELECT md5((SELECT string_agg(c::text, ',' ORDER BY c.id) FROM evil.job_chunks AS c) ||
               (SELECT string_agg(j::text, ',' ORDER BY j.id) FROM evil.crawl_jobs AS j) ||
               (SELECT string_agg(k::text, ',' ORDER BY k.job_id) FROM evil.job_counts AS k))
$$;
CREATE TEMP TABLE decoys_before AS SELECT pg_temp.decoys() AS fingerprint;

CREATE TEMP TABLE results (run text, n int, result jsonb, shown text,
                           PRIMARY KEY (run, n));

-- run(label, path) runs the steps, each call under search_path path, and
-- records what each returned (with jc_progress's reading time left out) or
-- the error it raised; then it undoes everything it did.  Its own
-- statements run under a safe search_path.
CREATE FUNCTION pg_temp.run(label text, path text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    sql text;
    m text[];
    r jsonb;
    shown text;
    ns int[] := '{}';
    rs jsonb[] := '{}';
    shows text[] := '{}';
    state text;
    msg text;
    detail text;
BEGIN
    PERFORM setval('jobchunk.job_chunks_id_seq', (SELECT last_value FROM pg_temp.seq),
                   (SELECT is_called FROM pg_temp.seq));
    PERFORM setval('jobchunk.crawl_jobs_id_seq', (SELECT last_value FROM pg_temp.job_seq),
                   (SELECT is_called FROM pg_temp.job_seq));
    BEGIN
        FOR s IN SELECT * FROM pg_temp.steps ORDER BY n LOOP
            sql := coalesce(s.call, s.harness);
            LOOP
                m := regexp_match(sql, '\{(\d+):(\d+):token\}');
                EXIT WHEN m IS NULL;
                sql := replace(sql, '{' || m[1] || ':' || m[2] || ':token}',
                               (SELECT c.lease_token FROM jobchunk.job_chunks AS c
                                WHERE c.job_id = m[1]::bigint
                                  AND c.chunk_index = m[2]::integer)::text);
            END LOOP;
            LOOP
                m := regexp_match(sql, '\{(\d+):(\d+)\}');
                EXIT WHEN m IS NULL;
                sql := replace(sql, '{' || m[1] || ':' || m[2] || '}',
                               (SELECT c.id FROM jobchunk.job_chunks AS c
                                WHERE c.job_id = m[1]::bigint
                                  AND c.chunk_index = m[2]::integer)::text);
            END LOOP;
            IF s.harness IS NOT NULL THEN
                EXECUTE sql INTO shown;
                r := to_jsonb(shown);
            ELSE
                BEGIN
                    PERFORM set_config('search_path', path, true);
                    EXECUTE 'SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x)) FROM jobchunk.'
                            || sql || ' AS x' INTO r;
                    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
                    IF s.call LIKE 'jc_progress(%' THEN
                        r := (SELECT jsonb_agg(e - 'timestamp') FROM jsonb_array_elements(r) AS e);
                    END IF;
                    -- A job's last change is timed by the clock.
                    IF s.call LIKE 'jc_job%(%' THEN
                        r := (SELECT jsonb_agg(e - 'updated_at') FROM jsonb_array_elements(r) AS e);
                    END IF;
                    -- Leases run from the time of the call, and tokens come
                    -- from it, which is not the same in the two runs:
                    -- leases are compared as the whole seconds they have
                    -- left (ceil(), as time has passed since the call), or
                    -- as expired, however long ago, and tokens not at all.
                    IF jsonb_typeof(r->0) = 'object' AND r->0 ? 'lease_expires_at' THEN
                        r := (SELECT jsonb_agg(e - 'lease_expires_at' - 'lease_token' || jsonb_build_object(
                                  'lease', CASE
                                      WHEN (e->>'lease_expires_at')::timestamptz < clock_timestamp()
                                      THEN to_jsonb('expired'::text)
                                      ELSE to_jsonb(ceil(extract(epoch FROM (e->>'lease_expires_at')::timestamptz
                                                                            - clock_timestamp())))
                                  END))
                              FROM jsonb_array_elements(r) AS e);
                    ELSIF (r->>0) ~ '^\d{4}-\d\d-\d\dT' THEN
                        r := to_jsonb('the call + ' ||
                                      ceil(extract(epoch FROM (r->>0)::timestamptz - clock_timestamp()))
                                      || ' s');
                    END IF;
                    shown := CASE
                        WHEN r IS NULL THEN 'no row'
                        WHEN r->0 ? 'chunk_index' THEN
                            (SELECT string_agg((e->>'chunk_index') || ' ' || (e->>'status'), ', '
                                               ORDER BY o)
                             FROM jsonb_array_elements(r) WITH ORDINALITY AS a(e, o))
                        WHEN r->0 ? 'id' AND r->0 ? 'lease' THEN
                            (SELECT string_agg(coalesce('chunk ' || c.chunk_index, 'no chunk') || ': '
                                               || coalesce((e->>'lease') || ' s', 'lost'), ', '
                                               ORDER BY o)
                             FROM jsonb_array_elements(r) WITH ORDINALITY AS a(e, o)
                             LEFT JOIN jobchunk.job_chunks AS c
                                 ON c.id OPERATOR(pg_catalog.=) (e->>'id')::bigint)
                        WHEN r->0 ? 'state' THEN
                            format('job %s (%s): %s', r->0->>'id', r->0->>'name', r->0->>'state')
                        WHEN r->0 ? 'total' OR r->0 ? 'total_chunks' THEN
                            format('%s chunks: %s pending, %s processing, %s completed, %s failed; %s %%, %s %%',
                                   coalesce(r->0->>'total', r->0->>'total_chunks'),
                                   coalesce(r->0->>'pending', r->0->>'pending_chunks'),
                                   coalesce(r->0->>'processing', r->0->>'processing_chunks'),
                                   coalesce(r->0->>'completed', r->0->>'completed_chunks'),
                                   coalesce(r->0->>'failed', r->0->>'failed_chunks'),
                                   r->0->>'completion_percentage', r->0->>'success_rate')
                            || coalesce('; complete: ' || (r->0->>'is_complete'), '')
                        ELSE r->>0
                    END;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE,
                                            msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
                    r := jsonb_build_object('error', state, 'message', msg,
                                            'detail', regexp_replace(detail, '\d{12,}', 'T', 'g'));
                    shown := state;
                END;
            END IF;
            ns := ns || s.n;
            rs := rs || r;
            shows := shows || shown;
        END LOOP;
        RAISE SQLSTATE 'JCUND';
    EXCEPTION WHEN SQLSTATE 'JCUND' THEN
        NULL;
    END;
    INSERT INTO pg_temp.results
    SELECT label, ns[i], rs[i], shows[i] FROM generate_subscripts(ns, 1) AS i;
END
$$;
CREATE TEMP TABLE seq AS
SELECT :seq_last::bigint AS last_value, :'seq_called'::boolean AS is_called;
CREATE TEMP TABLE job_seq AS
SELECT :job_seq_last::bigint AS last_value, :'job_seq_called'::boolean AS is_called;

-- The hostile run first, then the control run without the hostile schema;
-- one statement, so that both see the same now() and statement_timestamp().
DO $$
BEGIN
    PERFORM pg_temp.run('hostile', 'evil, jobchunk, pg_catalog');
    PERFORM pg_temp.run('control', 'jobchunk, pg_catalog');
END
$$;

-- Every step, as the hostile run saw it, and whether the control run saw
-- exactly the same (rows, values, errors and their messages).
SELECT s.n, coalesce(s.call, '(harness)') AS call, h.shown AS hostile_run,
       h.result IS NOT DISTINCT FROM c.result AS same
FROM steps s
JOIN results h ON h.n = s.n AND h.run = 'hostile'
JOIN results c ON c.n = s.n AND c.run = 'control'
ORDER BY s.n;
SELECT count(*) AS steps,
       count(*) FILTER (WHERE h.result IS NOT DISTINCT FROM c.result) AS same,
       count(DISTINCT substring(s.call FROM '^jc_[a-z_]+')) AS functions
FROM steps s
JOIN results h ON h.n = s.n AND h.run = 'hostile'
JOIN results c ON c.n = s.n AND c.run = 'control';

-- Nothing was called in, read from or written to the hostile schema.
SELECT count(*) AS logged FROM evil.log;
SELECT pg_temp.decoys() = fingerprint AS hostile_tables_unchanged FROM decoys_before;

ROLLBACK;
SELECT count(*) AS left_over FROM pg_namespace WHERE nspname = 'evil';
SELECT count(*) AS left_over FROM pg_roles WHERE rolname = 'regress_jobchunk_hostile';
