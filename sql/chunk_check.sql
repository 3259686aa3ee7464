--
-- The check constraint of job_chunks: one call of jc_chunk_is_valid() holds
-- the rules of a chunk row (src/chunk_check.c).  Each rule refuses a row
-- that breaks it, and only such a row; the values at its edges pass.
--
SET search_path = jobchunk, public;
SELECT public.fingerprint() AS start \gset

-- The table's only check constraint.
SELECT conname, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE conrelid = 'jobchunk.job_chunks'::regclass AND contype = 'c';

-- Rows written directly, in a transaction rolled back at the end.
BEGIN;
DELETE FROM crawl_jobs;
INSERT INTO crawl_jobs (id, name) VALUES (70, 'checks');
SELECT count(*) FROM jc_create_chunks(70, 1000);
SELECT id AS c1 FROM jc_next_pending(70) \gset
SELECT id AS c0 FROM job_chunks WHERE job_id = 70 AND status = 'pending' \gset

-- undone(sql) runs a statement, undoes it, and tells how it ended: so each
-- change below is made to the rows as they are here.
CREATE FUNCTION pg_temp.undone(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
BEGIN
    EXECUTE sql;
    RAISE SQLSTATE 'JC000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN CASE state WHEN 'JC000' THEN 'ok' ELSE state || ': ' || msg END;
END
$$;

-- Each change, to the pending chunk c0 or the processing chunk c1.
SELECT n, chunk, change,
       pg_temp.undone(format('UPDATE jobchunk.job_chunks SET %s WHERE id = %s',
                             change, CASE chunk WHEN 'c0' THEN :c0 ELSE :c1 END)) AS outcome
FROM (VALUES
    (1, 'c0', 'status = ''done'''),
    (2, 'c0', 'status = ''Pending'''),
    (3, 'c0', 'status = ''pending '''),
    (4, 'c0', 'status = ''completed'''),
    (5, 'c0', 'status = ''failed'''),
    (6, 'c0', 'status = ''processing'''),
    (7, 'c0', 'status = ''processing'', lease_expires_at = now()'),
    (8, 'c0', 'lease_expires_at = now()'),
    (9, 'c1', 'lease_expires_at = NULL'),
    (10, 'c1', 'status = ''completed'''),
    (11, 'c1', 'status = ''completed'', lease_expires_at = NULL'),
    (12, 'c0', 'chunk_index = -1'),
    (13, 'c0', 'chunk_index = 2147483647'),
    (14, 'c0', 'priority = -1'),
    (15, 'c0', 'priority = 0'),
    (16, 'c0', 'priority = 10'),
    (17, 'c0', 'priority = 11'),
    (18, 'c0', 'retry_count = -1'),
    (19, 'c0', 'retry_count = 2147483647'),
    (20, 'c1', 'lease_token = -1'),
    (21, 'c1', 'lease_token = 0')
) AS changes(n, chunk, change)
ORDER BY n;

-- A new row is checked too.
SELECT pg_temp.undone('INSERT INTO jobchunk.job_chunks (job_id, chunk_index, image_range, status)
                       VALUES (70, 5000, ''{}'', ''processing'')') AS outcome;
SELECT pg_temp.undone('INSERT INTO jobchunk.job_chunks (job_id, chunk_index, image_range)
                       VALUES (70, 5000, ''{}'')') AS outcome;

-- A role granted UPDATE on the table needs no other grant to write it: the
-- function may be called by anyone.
SELECT has_function_privilege('public',
    'jc_chunk_is_valid(text, timestamptz, integer, integer, integer, bigint)',
    'EXECUTE') AS anyone_may_check;
CREATE ROLE regress_jobchunk_writer NOLOGIN;
GRANT USAGE ON SCHEMA jobchunk TO regress_jobchunk_writer;
GRANT SELECT, UPDATE ON jobchunk.job_chunks TO regress_jobchunk_writer;
SET ROLE regress_jobchunk_writer;
SELECT pg_temp.undone(format('UPDATE jobchunk.job_chunks SET priority = 3 WHERE id = %s', :c0)) AS outcome;
SELECT pg_temp.undone(format('UPDATE jobchunk.job_chunks SET priority = 30 WHERE id = %s', :c0)) AS outcome;
RESET ROLE;
ROLLBACK;

-- The same rules as the six CHECK expressions of 1.4, for every combination
-- of values at and beyond their edges (NULL only where the column allows).
SELECT count(*) AS combinations,
       count(*) FILTER (WHERE jc_chunk_is_valid(status, lease, chunk_index, priority,
                                                retry_count, lease_token)
                              IS DISTINCT FROM
                              (chunk_index >= 0
                               AND status = ANY (ARRAY['pending', 'processing', 'completed', 'failed'])
                               AND priority >= 0 AND priority <= 10
                               AND retry_count >= 0
                               AND lease_token >= 0
                               AND (status = 'processing') = (lease IS NOT NULL))) AS different
FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed', 'Failed', 'pendin', 'processing2', '']) AS status,
     unnest(ARRAY[NULL, now()]) AS lease,
     unnest(ARRAY[-2147483648, -1, 0, 1, 2147483647]) AS chunk_index,
     unnest(ARRAY[-1, 0, 1, 10, 11]) AS priority,
     unnest(ARRAY[-1, 0, 2147483647]) AS retry_count,
     unnest(ARRAY[-9223372036854775808, -1, 0, 9223372036854775807]) AS lease_token;

-- Called directly: NULL when a value it tests is NULL, as a CHECK
-- expression is; lease_expires_at may be NULL.
SELECT status, lease IS NOT NULL AS leased, chunk_index, priority, retry_count, lease_token,
       jc_chunk_is_valid(status, lease, chunk_index, priority, retry_count, lease_token)
FROM (VALUES
    ('pending', NULL, 0, 0, 0, 0::bigint),
    ('processing', now(), 0, 10, 0, 1),
    ('processing', NULL, 0, 5, 0, 1),
    ('completed', NULL, 2147483647, 5, 2147483647, 9223372036854775807),
    ('failed', now(), 0, 5, 0, 0),
    ('', NULL, 0, 5, 0, 0),
    (NULL, NULL, 0, 5, 0, 0),
    ('pending', NULL, NULL, 5, 0, 0),
    ('pending', NULL, 0, NULL, 0, 0),
    ('pending', NULL, 0, 5, NULL, 0),
    ('pending', NULL, 0, 5, 0, NULL)
) AS v(status, lease, chunk_index, priority, retry_count, lease_token);

SELECT public.fingerprint() = :'start' AS tables_as_before;
