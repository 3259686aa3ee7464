--
-- jc_create_chunks: splitting a job into chunks
--
SET search_path = jobchunk, public;

INSERT INTO crawl_jobs (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');

-- The reference's example: 2500 images at priority 7 are five chunks of 500.
SELECT id, job_id, chunk_index, status, priority, image_range, error_message,
       retry_count, task_id, created_at = updated_at AS untouched
FROM jc_create_chunks(1, 2500, 7);

-- 1001 images: three chunks, the last one of a single image; priority 5 by
-- default.
SELECT chunk_index, image_range, priority FROM jc_create_chunks(2, 1001);

-- Fewer images than a chunk: one chunk.
SELECT chunk_index, image_range FROM jc_create_chunks(3, 1, 0);

-- The chunk size comes from jobchunk.chunk_size.
SET jobchunk.chunk_size = 3;
SELECT chunk_index, image_range, priority FROM jc_create_chunks(4, 7, 10);
RESET jobchunk.chunk_size;

-- The returned rows are the stored rows.
SELECT count(*) AS chunks, sum((image_range->>'end')::bigint
                               - (image_range->>'start')::bigint + 1) AS images
FROM job_chunks GROUP BY job_id ORDER BY job_id;

-- Creating the job touched it.
SELECT id, updated_at > created_at AS touched FROM crawl_jobs ORDER BY id;

-- The largest chunks and many chunks are exact.  A job can have at most
-- 2^31 - 1 chunks (chunk_index is an integer).
INSERT INTO crawl_jobs (id, name) VALUES (5, 'huge'), (6, 'one per chunk');
SET jobchunk.chunk_size = 2147483647;
SELECT outcome('SELECT jobchunk.jc_create_chunks(5, 9223372036854775807)');
SELECT chunk_index, image_range FROM jc_create_chunks(5, 6442450946);
SET jobchunk.chunk_size = 1;
SELECT count(*), min(chunk_index), max(chunk_index),
       max((image_range->>'end')::bigint) AS last_image
FROM jc_create_chunks(6, 10000);
RESET jobchunk.chunk_size;

-- Errors: each with its SQLSTATE, each changing nothing.
INSERT INTO crawl_jobs (id, name) VALUES (7, 'never split');
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_create_chunks(1, 2500)'),
    ('SELECT jobchunk.jc_create_chunks(99, 2500)'),
    ('SELECT jobchunk.jc_create_chunks(7, 0)'),
    ('SELECT jobchunk.jc_create_chunks(7, -5)'),
    ('SELECT jobchunk.jc_create_chunks(7, 100, -1)'),
    ('SELECT jobchunk.jc_create_chunks(7, 100, 11)'),
    ('SELECT jobchunk.jc_create_chunks(NULL, 100)'),
    ('SELECT jobchunk.jc_create_chunks(7, NULL)'),
    ('SELECT jobchunk.jc_create_chunks(7, 100, NULL)')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

-- chunk_index is an integer: 2^31 chunks are one too many.
SET jobchunk.chunk_size = 1;
SELECT outcome('SELECT jobchunk.jc_create_chunks(7, 2147483648)');
RESET jobchunk.chunk_size;
SELECT fingerprint() = :'before' AS unchanged;

-- Deleting a job deletes its chunks.
DELETE FROM crawl_jobs WHERE id = 6;
SELECT count(*) FROM job_chunks WHERE job_id = 6;
