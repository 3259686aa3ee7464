--
-- Giving chunks back: jc_release(chunk_ids bigint[], lease_tokens bigint[]).
--
SET search_path = jobchunk, public;

DELETE FROM crawl_jobs;
INSERT INTO crawl_jobs (id, name) VALUES (80, 'released'), (81, 'paused'), (82, 'cancelled');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(80, 8);
SELECT count(*) FROM jc_create_chunks(81, 2);
SELECT count(*) FROM jc_create_chunks(82, 2);
RESET jobchunk.chunk_size;

-- A worker claims four chunks, completes the first, and gives back the
-- rest: they are pending again at once, as before the claim (no retry
-- counted, no task, no lease, the token of the claim kept); the completed
-- one is no longer held, and is left as it is.  Rows come in id order.
CREATE TEMP TABLE claimed AS
SELECT * FROM jc_claim(80, 4, 'r1', interval '1 hour');
SELECT array_agg(id ORDER BY id DESC) AS ids,
       array_agg(lease_token ORDER BY id DESC) AS tokens,
       min(id) AS first
FROM claimed \gset
SELECT status FROM jc_mark_completed(:first, (SELECT lease_token FROM claimed WHERE id = :first));
SELECT statement_timestamp() AS called \gset
SELECT r.chunk_index, r.status, r.retry_count, r.task_id, r.lease_expires_at,
       r.lease_token = c.lease_token AS token_kept,
       r.error_message, r.updated_at >= :'called' AS updated
FROM jc_release(:'ids', :'tokens') WITH ORDINALITY AS r
JOIN claimed AS c USING (id)
ORDER BY r.ordinality;
SELECT chunk_index, status FROM job_chunks WHERE job_id = 80 ORDER BY chunk_index;
SELECT total, pending, processing, completed, failed FROM jc_statistics(80);

-- The released chunks are claimed again first, in claim order: this
-- backend's next claim of the job starts from the head.
SELECT chunk_index, retry_count FROM jc_claim(80, 4, 'r2');

-- A chunk whose lease the caller lost (a stale token, a chunk completed or
-- pending, no such chunk) is left as it is, and not returned; the chunks
-- still held are released all the same.
SELECT array_agg(id ORDER BY chunk_index) AS held,
       array_agg(lease_token ORDER BY chunk_index) AS held_tokens,
       min(id) AS h1
FROM job_chunks WHERE job_id = 80 AND status = 'processing' \gset
SELECT lease_token AS t1 FROM job_chunks WHERE id = :h1 \gset
SELECT min(id) AS pend FROM job_chunks WHERE job_id = 80 AND status = 'pending' \gset
CREATE TEMP TABLE untouched AS
SELECT * FROM job_chunks WHERE id IN (:h1, :first, :pend);
SELECT chunk_index FROM jc_release(
    array_cat(ARRAY[:pend, -5, :first]::bigint[], :'held'),
    array_cat(ARRAY[0, 1, (SELECT lease_token FROM claimed WHERE id = :first)]::bigint[],
              array_cat(ARRAY[:t1 - 1], (:'held_tokens'::bigint[])[2:])));
SELECT count(*) AS unchanged FROM job_chunks AS c JOIN untouched AS u ON u.id = c.id AND c = u;
SELECT count(*) FROM jc_release('{}', '{}');
SELECT count(*) FROM jc_release(ARRAY[:pend], ARRAY[0]);

-- Without tokens (NULL), the chunks are released whoever holds them.
SELECT chunk_index, status, task_id FROM jc_release(ARRAY[:h1], NULL);
SELECT total, pending, processing, completed, failed FROM jc_statistics(80);

-- The released token is refused afterwards, like that of a lease taken back.
SELECT array_agg(id) AS again, array_agg(lease_token) AS again_tokens
FROM jc_claim(80, 1, 'r3') \gset
SELECT count(*) FROM jc_release(:'again', :'again_tokens');
SELECT replace(replace(outcome(format('SELECT jobchunk.jc_mark_completed(%s, %s)',
                                      (:'again'::bigint[])[1], (:'again_tokens'::bigint[])[1])),
                       (:'again_tokens'::bigint[])[1]::text, '<token>'),
               'chunk ' || (:'again'::bigint[])[1], 'chunk <id>') AS late_completion;

-- In a paused job the chunk is pending again, and not claimed until the
-- job is resumed.
SELECT array_agg(id) AS p, array_agg(lease_token) AS pt FROM jc_claim(81, 1) \gset
SELECT jc_pause_job(81);
SELECT chunk_index, status FROM jc_release(:'p', :'pt');
SELECT count(*) FROM jc_claim(81, 2);
SELECT jc_resume_job(81);
SELECT chunk_index, retry_count FROM jc_claim(81, 2);

-- A chunk that failed and was retried keeps its error message and its
-- retry count, as a retried chunk does until its next failure.
SELECT id AS f FROM jc_next_pending(80) \gset
SELECT status FROM jc_mark_failed(:f, 'first try');
SELECT status, retry_count FROM jc_retry(:f);
SELECT id = :f AS same_chunk, lease_token AS ft FROM jc_next_pending(80, 'r5') \gset
SELECT :'same_chunk' AS same_chunk;
SELECT status, retry_count, error_message FROM jc_release(ARRAY[:f], ARRAY[:ft]);

-- In a cancelled job the chunk fails instead, as an expired lease does
-- there: for good, its task kept, no retry counted; a chunk of an active
-- job given back in the same call is pending.
SELECT array_agg(id) AS x, array_agg(lease_token) AS xt FROM jc_claim(82, 1, 'r4') \gset
SELECT id AS y, lease_token AS yt FROM jc_next_pending(80, 'r6') \gset
SELECT jc_cancel_job(82);
SELECT job_id, chunk_index, status, error_message, task_id, retry_count, lease_expires_at
FROM jc_release(array_append(:'x', :y), array_append(:'xt', :yt));
SELECT job_id, total, pending, processing, completed, failed
FROM (SELECT * FROM jc_statistics(80) UNION ALL SELECT * FROM jc_statistics(82)) AS s
ORDER BY job_id;

-- Bad arrays are refused, and change nothing.
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_release(ARRAY[7, 7], ARRAY[1, 1])'),
    ('SELECT jobchunk.jc_release(ARRAY[7, NULL], ARRAY[1, 1])'),
    ('SELECT jobchunk.jc_release(ARRAY[7], ARRAY[1, 1])'),
    ('SELECT jobchunk.jc_release(ARRAY[7], ARRAY[NULL]::bigint[])'),
    ('SELECT jobchunk.jc_release(ARRAY[[7]], ARRAY[[1]])'),
    ('SELECT jobchunk.jc_release(NULL, ARRAY[1])'),
    ('SELECT jobchunk.jc_release(ARRAY[7])')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

SELECT job_id, status, count(*) FROM job_chunks GROUP BY job_id, status ORDER BY job_id, status;
