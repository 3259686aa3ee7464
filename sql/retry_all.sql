--
-- Retrying every failed chunk of a job that has retries left, in one
-- statement, as the README shows (Behaviour): in a new session, which has
-- not loaded the library when the statement is planned.  Chunk 4 is out of
-- retries and stays failed; the others are pending again.
--
INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (190, 'outage');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jobchunk.jc_create_chunks(190, 6);
RESET jobchunk.chunk_size;
SELECT count(jobchunk.jc_mark_failed(c.id, 'site down'))
FROM jobchunk.jc_claim(190, 5) AS c;
UPDATE jobchunk.job_chunks SET retry_count = 3 WHERE job_id = 190 AND chunk_index = 4;

\c -
SELECT count(jobchunk.jc_retry(id)) FROM jobchunk.jc_chunks(190, 'failed')
WHERE retry_count < current_setting('jobchunk.max_retries', true)::int;
SELECT chunk_index, status, retry_count, error_message FROM jobchunk.job_chunks
WHERE job_id = 190 ORDER BY chunk_index;
SELECT pending, failed FROM jobchunk.jc_statistics(190);

-- Without the filter, the first chunk out of retries stops the statement,
-- and nothing is retried.
SELECT count(jobchunk.jc_mark_failed(c.id, 'site down again'))
FROM jobchunk.jc_claim(190, 5) AS c;
DO $$
BEGIN
    PERFORM count(jobchunk.jc_retry(id)) FROM jobchunk.jc_chunks(190, 'failed');
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RAISE NOTICE '%', replace(SQLERRM, (SELECT id FROM jobchunk.job_chunks
                                        WHERE job_id = 190 AND chunk_index = 4)::text,
                              'of index 4');
END
$$;
SELECT status, count(*) FROM jobchunk.job_chunks WHERE job_id = 190 GROUP BY status;

SELECT jobchunk.jc_cancel_job(190);
SELECT jobchunk.jc_purge_job(190);
