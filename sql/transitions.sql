--
-- Status changes: jc_mark_processing, jc_mark_completed, jc_mark_failed,
-- jc_retry
--
SET search_path = jobchunk, public;

INSERT INTO crawl_jobs (id, name) VALUES (10, 'transitions');
SELECT count(*) FROM jc_create_chunks(10, 2000);
SELECT min(id) AS c0 FROM job_chunks WHERE job_id = 10 \gset

-- pending -> processing, with and without a task id; updated_at is the
-- transaction's time.
SELECT id = :c0 AS same, status, task_id, updated_at = now() AS stamped
FROM jc_mark_processing(:c0, 'task-123');
SELECT status, task_id FROM jc_mark_processing(:c0 + 1);

-- processing -> completed.
SELECT status, task_id, error_message, retry_count FROM jc_mark_completed(:c0);

-- processing -> failed, keeping the message verbatim.
SELECT status, error_message FROM jc_mark_failed(:c0 + 1, 'Timeout: it''s "late"');

-- failed -> pending, counting the retry; the owner is forgotten, the last
-- error is kept until the chunk completes.
SELECT status, retry_count, task_id, error_message FROM jc_retry(:c0 + 1);
SELECT status, task_id FROM jc_mark_processing(:c0 + 1, 'task-456');
SELECT status, error_message, retry_count FROM jc_mark_completed(:c0 + 1);

-- Illegal changes: 55000 naming the status; missing chunks: P0002; missing
-- arguments and over-long task ids: 22023.  None changes anything.
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_mark_completed(' || :c0 || ')'),
    ('SELECT jobchunk.jc_mark_failed(' || :c0 || ', ''x'')'),
    ('SELECT jobchunk.jc_mark_processing(' || :c0 || ')'),
    ('SELECT jobchunk.jc_retry(' || :c0 || ')'),
    ('SELECT jobchunk.jc_mark_completed(' || :c0 + 2 || ')'),
    ('SELECT jobchunk.jc_mark_failed(' || :c0 + 2 || ', ''x'')'),
    ('SELECT jobchunk.jc_retry(' || :c0 + 2 || ')'),
    ('SELECT jobchunk.jc_mark_processing(-1)'),
    ('SELECT jobchunk.jc_mark_completed(-1)'),
    ('SELECT jobchunk.jc_mark_failed(-1, ''x'')'),
    ('SELECT jobchunk.jc_retry(-1)'),
    ('SELECT jobchunk.jc_mark_processing(NULL)'),
    ('SELECT jobchunk.jc_mark_completed(NULL::bigint)'),
    ('SELECT jobchunk.jc_mark_failed(NULL, ''x'')'),
    ('SELECT jobchunk.jc_mark_failed(' || :c0 + 2 || ', NULL)'),
    ('SELECT jobchunk.jc_retry(NULL)'),
    ('SELECT jobchunk.jc_mark_processing(' || :c0 + 2 || ', repeat(''x'', 256))'),
    ('SELECT jobchunk.jc_mark_processing(' || :c0 + 2 || ', repeat(''é'', 256))')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

-- task_id is counted in characters: 255 multibyte ones fit.
SELECT length(task_id) FROM jc_mark_processing(:c0 + 2, repeat('é', 255));

-- A failed chunk is retried at most jobchunk.max_retries times (3).
SELECT status FROM jc_mark_failed(:c0 + 2, 'first');
SELECT retry_count FROM jc_retry(:c0 + 2);
SELECT status FROM jc_mark_processing(:c0 + 2);
SELECT status FROM jc_mark_failed(:c0 + 2, 'second');
SELECT retry_count FROM jc_retry(:c0 + 2);
SELECT status FROM jc_mark_processing(:c0 + 2);
SELECT status FROM jc_mark_failed(:c0 + 2, 'third');
SELECT retry_count FROM jc_retry(:c0 + 2);
SELECT status FROM jc_mark_processing(:c0 + 2);
SELECT status FROM jc_mark_failed(:c0 + 2, 'fourth');
SELECT outcome('SELECT jobchunk.jc_retry(' || :c0 + 2 || ')');
-- (its hint says who may allow more)
SELECT jc_retry(:c0 + 2);
SELECT status, retry_count, error_message FROM jc_chunk(:c0 + 2);

-- Raising the limit, for this session only, allows one more.
SET jobchunk.max_retries = 4;
SELECT status, retry_count FROM jc_retry(:c0 + 2);
RESET jobchunk.max_retries;

-- With jobchunk.max_retries = 0 a failure is final.
SET jobchunk.max_retries = 0;
SELECT status FROM jc_mark_processing(:c0 + 3);
SELECT status FROM jc_mark_failed(:c0 + 3, 'no second chance');
SELECT outcome('SELECT jobchunk.jc_retry(' || :c0 + 3 || ')');
RESET jobchunk.max_retries;

-- Every change set updated_at.
SELECT chunk_index, status, updated_at > created_at AS changed
FROM job_chunks WHERE job_id = 10 ORDER BY chunk_index;

