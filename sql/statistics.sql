--
-- jc_statistics, jc_progress, jc_is_complete
--
SET search_path = jobchunk, public;

-- The reference's example: 5 chunks, 2 pending, 1 processing, 2 completed.
INSERT INTO crawl_jobs (id, name) VALUES (40, 'reference');
SELECT count(*) FROM jc_create_chunks(40, 2500);
SELECT min(id) AS c0 FROM job_chunks WHERE job_id = 40 \gset
SELECT status FROM jc_next_pending(40);
SELECT status FROM jc_next_pending(40);
SELECT status FROM jc_next_pending(40);
SELECT status FROM jc_mark_completed(:c0);
SELECT status FROM jc_mark_completed(:c0 + 1);

SELECT * FROM jc_statistics(40);
SELECT job_id, total_chunks, pending_chunks, processing_chunks,
       completed_chunks, failed_chunks, completion_percentage, success_rate,
       is_complete, "timestamp" BETWEEN statement_timestamp() AND clock_timestamp() AS now
FROM jc_progress(40);
SELECT jc_is_complete(40);
SELECT completion_percentage = 40.0 AND success_rate = 40.0 AS as_documented
FROM jc_statistics(40);

-- Failed chunks are final for completion but not a success; rounding is to
-- two places, half away from zero.
SELECT status FROM jc_mark_failed(:c0 + 2, 'x');
SELECT * FROM jc_statistics(40);

INSERT INTO crawl_jobs (id, name) VALUES (41, 'thirds');
SELECT count(*) FROM jc_create_chunks(41, 1500);
SELECT status FROM jc_next_pending(41);
SELECT status FROM jc_mark_completed((SELECT min(id) FROM job_chunks WHERE job_id = 41));
SELECT total, completion_percentage, success_rate FROM jc_statistics(41);
SELECT status FROM jc_next_pending(41);
SELECT status FROM jc_mark_completed((SELECT min(id) + 1 FROM job_chunks WHERE job_id = 41));
SELECT total, completion_percentage, success_rate FROM jc_statistics(41);

-- 1 of 800 is 0.125 %, which rounds half away from zero to 0.13.
INSERT INTO crawl_jobs (id, name) VALUES (42, 'halves');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jc_create_chunks(42, 800);
RESET jobchunk.chunk_size;
SELECT status FROM jc_next_pending(42);
SELECT status FROM jc_mark_completed((SELECT min(id) FROM job_chunks WHERE job_id = 42));
SELECT total, completion_percentage, success_rate FROM jc_statistics(42);

-- A job without chunks: zeros, and never complete.
INSERT INTO crawl_jobs (id, name) VALUES (43, 'empty');
SELECT * FROM jc_statistics(43);
SELECT total_chunks, completion_percentage, success_rate, is_complete FROM jc_progress(43);
SELECT jc_is_complete(43);

-- Complete once no chunk is pending or processing; the failed one counts as
-- final.
SELECT status FROM jc_mark_completed((SELECT id FROM jc_next_pending(40)));
SELECT status FROM jc_mark_completed((SELECT id FROM jc_next_pending(40)));
SELECT completion_percentage, success_rate, is_complete FROM jc_progress(40);
SELECT jc_is_complete(40);

-- The statistics equal the rows, for every job.
SELECT j.id, s.total = count(c.*) AND
       s.pending = count(c.*) FILTER (WHERE c.status = 'pending') AND
       s.processing = count(c.*) FILTER (WHERE c.status = 'processing') AND
       s.completed = count(c.*) FILTER (WHERE c.status = 'completed') AND
       s.failed = count(c.*) FILTER (WHERE c.status = 'failed') AS exact
FROM crawl_jobs j
CROSS JOIN LATERAL jc_statistics(j.id) s
LEFT JOIN job_chunks c ON c.job_id = j.id
GROUP BY j.id, s.total, s.pending, s.processing, s.completed, s.failed
ORDER BY j.id;

-- The reference's "monitor progress" and "retry failed chunks" patterns:
-- workers drain a job while the monitor reads jc_progress, retrying
-- failures while retry_count < 3, until the job is complete.
INSERT INTO crawl_jobs (id, name) VALUES (44, 'monitor');
SELECT count(*) FROM jc_create_chunks(44, 10000);
CREATE TEMP TABLE readings (n int, completion numeric, is_complete bool);
DO $$
DECLARE
    chunk jobchunk.job_chunks;
    p record;
    n int := 0;
BEGIN
    LOOP
        SELECT * INTO p FROM jobchunk.jc_progress(44);
        INSERT INTO readings VALUES (n, p.completion_percentage, p.is_complete);
        EXIT WHEN p.is_complete;
        n := n + 1;
        -- work: chunks with an index divisible by 7 fail on every attempt
        SELECT * INTO chunk FROM jobchunk.jc_next_pending(44);
        IF FOUND THEN
            IF chunk.chunk_index % 7 = 0 THEN
                PERFORM jobchunk.jc_mark_failed(chunk.id, 'Timeout');
            ELSE
                PERFORM jobchunk.jc_mark_completed(chunk.id);
            END IF;
        END IF;
        -- retry what failed, up to three times
        FOR chunk IN SELECT * FROM jobchunk.jc_chunks(44, 'failed') LOOP
            IF chunk.retry_count < 3 THEN
                PERFORM jobchunk.jc_retry(chunk.id);
            END IF;
        END LOOP;
    END LOOP;
END
$$;
-- 20 chunks; 3 of them (0, 7, 14) take four attempts each before failing.
SELECT count(*) AS readings, bool_and(completion >= 0 AND completion <= 100) AS in_range,
       count(*) FILTER (WHERE is_complete) AS complete_readings
FROM readings;
SELECT completion FROM readings WHERE is_complete;
SELECT total, completed, failed, completion_percentage, success_rate FROM jc_statistics(44);
SELECT chunk_index, retry_count, error_message FROM jc_chunks(44, 'failed');

-- Errors.
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_statistics(99)'),
    ('SELECT jobchunk.jc_progress(99)'),
    ('SELECT jobchunk.jc_is_complete(99)'),
    ('SELECT jobchunk.jc_statistics(NULL)'),
    ('SELECT jobchunk.jc_progress(NULL)'),
    ('SELECT jobchunk.jc_is_complete(NULL)')
) AS t(sql);
