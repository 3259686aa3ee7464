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

-- A claim takes a lease of jobchunk.lease_timeout (5 minutes) and the
-- chunk's first token; pending chunks have neither lease nor token.
SELECT chunk_index, lease_token, lease_expires_at - now() AS lease
FROM jc_next_pending(60, 'w1');
SELECT chunk_index, lease_token, lease_expires_at FROM job_chunks
WHERE job_id = 60 AND status = 'pending' ORDER BY chunk_index LIMIT 1;

-- The lease can be given per call, and the default per session.
SELECT chunk_index, lease_expires_at - now() AS lease
FROM jc_next_pending(60, 'w1', interval '30 seconds');
SET jobchunk.lease_timeout = '1h';
SELECT chunk_index, lease_expires_at - now() AS lease FROM jc_next_pending(60);
RESET jobchunk.lease_timeout;
SELECT chunk_index, lease_token, lease_expires_at - now() AS lease
FROM jc_mark_processing(:c0 + 3, 'w2', interval '2 minutes');

-- A heartbeat extends the lease from now, by the default or the given time.
SELECT jc_heartbeat(:c0, 1) - now() AS lease;
SELECT jc_heartbeat(:c0, 1, interval '1 hour') - now() AS lease;
SELECT lease_expires_at > now() + interval '59 minutes' AS extended FROM jc_chunk(:c0);
-- A heartbeat never shortens a lease.
SELECT jc_heartbeat(:c0, 1, interval '1 second') > now() + interval '59 minutes' AS kept;

-- The lease runs out (set back in time here, rather than waited for).
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0;

-- An expired chunk is claimed again as a new attempt, in the same claim
-- order: retry_count + 1, a new token, a new owner.
SELECT chunk_index, status, retry_count, lease_token, task_id, error_message
FROM jc_next_pending(60, 'w3');

-- The first worker comes back late: its token is refused, and nothing changes.
SELECT fingerprint() AS before \gset
SELECT sql, outcome(sql) FROM (VALUES
    ('SELECT jobchunk.jc_mark_completed(' || :c0 || ', 1)'),
    ('SELECT jobchunk.jc_mark_failed(' || :c0 || ', ''late'', 1)'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', 1)'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', 3)'),
    ('SELECT jobchunk.jc_heartbeat(-1, 1)'),
    ('SELECT jobchunk.jc_heartbeat(NULL, 1)'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', NULL)'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', 2, interval ''0'')'),
    ('SELECT jobchunk.jc_heartbeat(' || :c0 || ', 2, interval ''-1 minute'')'),
    ('SELECT jobchunk.jc_next_pending(60, NULL, interval ''0'')'),
    ('SELECT jobchunk.jc_mark_processing(' || :c0 + 4 || ', NULL, interval ''-1 day'')'),
    ('SELECT jobchunk.jc_next_pending(60, NULL, interval ''101 years'')'),
    ('SELECT jobchunk.jc_mark_completed(' || :c0 + 4 || ', 1)')
) AS t(sql);
SELECT fingerprint() = :'before' AS unchanged;

-- The new owner's token works.
SELECT status, lease_token, lease_expires_at FROM jc_mark_completed(:c0, 2);

-- A token is refused once the chunk has left processing, even if it was the
-- last one.
SELECT outcome('SELECT jobchunk.jc_mark_completed(' || :c0 || ', 2)');

-- Without a token a call changes the chunk whoever holds it, as in 1.0.
SELECT status, lease_token FROM jc_mark_failed(:c0 + 1, 'no token');

-- An expired lease at the retry limit fails the chunk instead.
SET jobchunk.max_retries = 1;
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 2;
SELECT chunk_index, retry_count, lease_token FROM jc_next_pending(60);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 2;
SELECT chunk_index, retry_count FROM jc_next_pending(60);
SELECT status, retry_count, error_message, lease_expires_at, lease_token
FROM jc_chunk(:c0 + 2);
RESET jobchunk.max_retries;

-- A claim across all jobs takes back expired leases of any job.
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 3;
SELECT chunk_index, retry_count, lease_token, task_id FROM jc_next_pending(NULL, 'w4');

-- Even when the chunk taken back is the only one left to claim.
SELECT count(*) FROM jc_claim(60, 100);
UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = :c0 + 5;
SELECT chunk_index, retry_count, lease_token FROM jc_next_pending();
SELECT count(*) FROM jc_next_pending();

-- Only processing chunks have a lease.
SELECT status, count(*), count(lease_expires_at) AS leased
FROM job_chunks WHERE job_id = 60 GROUP BY status ORDER BY status;
SELECT split_part(outcome('UPDATE jobchunk.job_chunks SET lease_expires_at = NULL WHERE status = ''processing'''), ' (', 1);
