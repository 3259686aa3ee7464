--
-- Claiming, completing and keeping many chunks in one call: jc_claim,
-- jc_mark_completed(bigint[], bigint[]) and jc_heartbeat_batch.
--
SET search_path = jobchunk, public;

DELETE FROM crawl_jobs;
INSERT INTO crawl_jobs (id, name) VALUES (70, 'batch'), (71, 'other'), (72, 'third');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(70, 12);
SELECT count(*) FROM jc_create_chunks(71, 2, 3);
SELECT count(*) FROM jc_create_chunks(72, 2, 3);
RESET jobchunk.chunk_size;

-- Up to n chunks in claim order, each under its own lease, with a token
-- from the clock (see the leases test).
SELECT chunk_index, status, task_id,
       lease_token BETWEEN
           (extract(epoch FROM statement_timestamp() - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint
           AND (extract(epoch FROM clock_timestamp() - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint
           AS clock_token,
       date_trunc('second', lease_expires_at - now()) AS lease
FROM jc_claim(70, 3, 'b1', interval '1 minute');
SELECT string_agg(chunk_index::text, ',') FROM jc_claim(70, 4);

-- Fewer when fewer are left.
SELECT string_agg(chunk_index::text, ',') FROM jc_claim(70, 100);
SELECT count(*) FROM jc_claim(70, 5);

-- Across all jobs, job by job, in turn.
SELECT job_id, chunk_index FROM jc_claim(NULL, 3);
SELECT job_id, chunk_index FROM jc_claim(NULL, 3);

-- Completing many: all of them, returned in id order.
SELECT array_agg(id ORDER BY chunk_index) AS ids,
       array_agg(lease_token ORDER BY chunk_index) AS tokens
FROM job_chunks WHERE job_id = 70 AND chunk_index < 3 \gset
SELECT chunk_index, status, lease_expires_at FROM jc_mark_completed(:'ids'::bigint[], :'tokens'::bigint[]);
SELECT array_agg(id ORDER BY chunk_index DESC) AS ids
FROM job_chunks WHERE job_id = 70 AND chunk_index BETWEEN 3 AND 6 \gset
SELECT chunk_index, status FROM jc_mark_completed(:'ids'::bigint[]);
SELECT count(*) FROM jc_mark_completed('{}'::bigint[]);

-- All or none: one chunk that cannot be completed fails the call, names the
-- chunk, and changes nothing.
SELECT min(id) AS c7 FROM job_chunks WHERE job_id = 70 AND chunk_index = 7 \gset
SELECT min(id) AS c0 FROM job_chunks WHERE job_id = 70 AND chunk_index = 0 \gset
SELECT lease_token AS t7 FROM job_chunks WHERE id = :c7 \gset
SELECT fingerprint() AS before \gset
SELECT replace(sql, :'t7', 't7') AS sql, replace(outcome(sql), :'t7', 't7') AS outcome FROM (VALUES
    ('SELECT jobchunk.jc_mark_completed(ARRAY[' || :c7 || ', ' || :c0 || '])'),
    ('SELECT jobchunk.jc_mark_completed(ARRAY[' || :c7 || ', -5])'),
    ('SELECT jobchunk.jc_mark_completed(ARRAY[' || :c7 || ', ' || :c7 + 1 || '], ARRAY[' || :t7 || ', 2])'),
    ('SELECT jobchunk.jc_mark_completed(ARRAY[' || :c7 || ', ' || :c7 || '])'),
    ('SELECT jobchunk.jc_mark_completed(ARRAY[' || :c7 || ', NULL])'),
    ('SELECT jobchunk.jc_mark_completed(ARRAY[' || :c7 || '], ARRAY[1, 1])'),
    ('SELECT jobchunk.jc_mark_completed(ARRAY[' || :c7 || '], ARRAY[NULL]::bigint[])'),
    ('SELECT jobchunk.jc_mark_completed(NULL::bigint[])'),
    ('SELECT jobchunk.jc_claim(70, 0)'),
    ('SELECT jobchunk.jc_claim(70, -1)'),
    ('SELECT jobchunk.jc_claim(70, NULL)'),
    ('SELECT jobchunk.jc_claim(99, 2)'),
    ('SELECT jobchunk.jc_claim(70, 2, repeat(''x'', 256))'),
    ('SELECT jobchunk.jc_claim(70, 2, NULL, interval ''-1 second'')')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

-- Heartbeats of many: every lease extended to at least the time of the
-- call + extend, none shortened, each new expiry returned in id order.
SELECT array_agg(id ORDER BY id DESC) AS hids,
       array_agg(lease_token ORDER BY id DESC) AS htokens,
       min(id) AS h1
FROM job_chunks WHERE job_id = 70 AND status = 'processing' \gset
SELECT lease_token AS t1 FROM job_chunks WHERE id = :h1 \gset
SELECT jc_heartbeat(:h1, :t1, interval '3 hours') IS NOT NULL AS extended;
SELECT statement_timestamp() AS called \gset
CREATE TEMP TABLE beat AS
SELECT * FROM jc_heartbeat_batch(:'hids', :'htokens', interval '2 hours') WITH ORDINALITY;
SELECT id - :h1 AS chunk, chunk_index,
       CASE WHEN b.lease_expires_at > :'called'::timestamptz + interval '150 minutes'
            THEN 'its own 3 hours' ELSE 'call + 2 hours' END AS lease,
       b.lease_expires_at = c.lease_expires_at AS stored,
       c.updated_at >= :'called' AS updated
FROM beat AS b JOIN job_chunks AS c USING (id)
ORDER BY b.ordinality;
SELECT bool_and(lease_expires_at - interval '2 hours' BETWEEN :'called' AND clock_timestamp())
           AS from_the_call
FROM beat WHERE id <> :h1;
-- Shorter: the leases stay as they are, and are returned.
SELECT count(*) FROM jc_heartbeat_batch(:'hids', :'htokens', interval '1 minute')
    JOIN beat USING (id, lease_expires_at)
    JOIN job_chunks USING (id, lease_expires_at);
-- Without extend, jobchunk.lease_timeout (5 minutes) from the call.
SELECT array_agg(id) AS oids, array_agg(lease_token) AS otokens
FROM job_chunks WHERE job_id = 71 AND status = 'processing' \gset
SELECT count(*) AS chunks,
       bool_and(lease_expires_at - interval '5 minutes'
                BETWEEN statement_timestamp() AND clock_timestamp()) AS lease_timeout
FROM jc_heartbeat_batch(:'oids', :'otokens');
SELECT count(*) FROM jc_heartbeat_batch('{}', '{}');

-- Each heartbeat has one form, so that a statement whose parameters come
-- without a type (as asyncpg, pgx and pgbench -M prepared send them) can
-- choose it; jc_mark_completed's two forms cannot be chosen so (42725).
PREPARE beat AS SELECT jc_heartbeat($1, $2, $3);
PREPARE beats AS SELECT * FROM jc_heartbeat_batch($1, $2, $3);
SELECT name, parameter_types FROM pg_prepared_statements
WHERE name IN ('beat', 'beats') ORDER BY name;
CREATE TEMP TABLE beat1 AS EXECUTE beat(:h1, :t1, '1 hour');
SELECT jc_heartbeat > now() AS extended FROM beat1;
CREATE TEMP TABLE beats1 AS EXECUTE beats(:'hids', :'htokens', '1 hour');
SELECT count(*) FROM beats1 WHERE lease_expires_at > now();
DEALLOCATE beat;
DEALLOCATE beats;
SELECT outcome('PREPARE done AS SELECT jobchunk.jc_mark_completed($1, $2)');

-- A chunk whose lease the caller lost (a stale token, a chunk completed or
-- pending, no such chunk) gets a NULL expiry, and is left as it is; the
-- others are extended.
SELECT min(id) AS done FROM job_chunks WHERE job_id = 70 AND status = 'completed' \gset
SELECT lease_token AS td FROM job_chunks WHERE id = :done \gset
INSERT INTO crawl_jobs (id, name) VALUES (73, 'fourth');
SELECT id AS pend FROM jc_create_chunks(73, 1) \gset
CREATE TEMP TABLE lost AS
SELECT * FROM job_chunks WHERE id IN (:h1, :done, :pend) ORDER BY id;
SELECT statement_timestamp() AS called \gset
SELECT CASE id WHEN :h1 THEN 'h1, stale token' WHEN :done THEN 'completed'
               WHEN :pend THEN 'pending' WHEN -5 THEN 'no such chunk'
               ELSE 'held' END AS chunk,
       CASE WHEN lease_expires_at IS NULL THEN 'lost'
            WHEN lease_expires_at - interval '4 hours' BETWEEN :'called' AND clock_timestamp()
            THEN 'call + 4 hours' END AS lease
FROM jc_heartbeat_batch(array_cat(ARRAY[:pend, -5, :done]::bigint[], :'hids'),
                        array_cat(ARRAY[0, 1, :td]::bigint[],
                                  array_cat(trim_array(:'htokens'::bigint[], 1), ARRAY[:t1 - 1])),
                        interval '4 hours');
SELECT count(*) AS unchanged FROM job_chunks AS c JOIN lost AS l ON l.id = c.id AND c = l;

-- Bad arrays or leases are refused, and change nothing.
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_heartbeat_batch(ARRAY[' || :h1 || ', ' || :h1 || '], ARRAY[1, 1])'),
    ('SELECT jobchunk.jc_heartbeat_batch(ARRAY[' || :h1 || ', NULL], ARRAY[1, 1])'),
    ('SELECT jobchunk.jc_heartbeat_batch(ARRAY[' || :h1 || '], ARRAY[1, 1])'),
    ('SELECT jobchunk.jc_heartbeat_batch(ARRAY[' || :h1 || '], ARRAY[NULL]::bigint[])'),
    ('SELECT jobchunk.jc_heartbeat_batch(ARRAY[[' || :h1 || ']], ARRAY[[1]])'),
    ('SELECT jobchunk.jc_heartbeat_batch(ARRAY[' || :h1 || '], NULL)'),
    ('SELECT jobchunk.jc_heartbeat_batch(NULL, ARRAY[1])'),
    ('SELECT jobchunk.jc_heartbeat_batch(ARRAY[' || :h1 || '], ARRAY[1], interval ''-1 second'')')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

SELECT status, count(*) FROM job_chunks GROUP BY status ORDER BY status;
