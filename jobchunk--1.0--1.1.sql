/* jobchunk--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.1'" to load this file. \quit

-- pg_dump does not record columns added to an extension's table.
COMMENT ON TABLE @extschema@.crawl_jobs IS
    'jobs whose work is split into chunks; keep application data in a table of your own';

--
-- Jobs can be paused and cancelled.
--
ALTER TABLE @extschema@.crawl_jobs
    ADD COLUMN state text NOT NULL DEFAULT 'active'
        CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'paused', 'cancelled']));

--
-- Leases and fencing tokens.  A processing chunk has a lease until
-- lease_expires_at; lease_token counts the claims of the chunk, so that a
-- worker can prove it still holds the latest one.  Chunks that were
-- processing before the update get a lease of five minutes from now.
--
ALTER TABLE @extschema@.job_chunks
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN lease_token bigint NOT NULL DEFAULT 0
        CHECK (lease_token OPERATOR(pg_catalog.>=) 0);

UPDATE @extschema@.job_chunks
SET lease_expires_at = pg_catalog.now() OPERATOR(pg_catalog.+) interval '5 minutes',
    lease_token = 1
WHERE status OPERATOR(pg_catalog.=) 'processing';

ALTER TABLE @extschema@.job_chunks
    ADD CONSTRAINT job_chunks_lease_check
        CHECK ((status OPERATOR(pg_catalog.=) 'processing')
               OPERATOR(pg_catalog.=) (lease_expires_at IS NOT NULL));

-- A job's chunks in flight, by expiry: to take back expired leases, and to
-- list processing chunks.
CREATE INDEX job_chunks_lease_idx
    ON @extschema@.job_chunks (job_id, lease_expires_at)
    WHERE status OPERATOR(pg_catalog.=) 'processing';

-- A job's claim order ends in chunk_index, which within a job is the order
-- of ids: so no other index can provide it, and the planner cannot pick the
-- index across jobs below, which would step over other jobs' chunks.
DROP INDEX @extschema@.job_chunks_job_claim_idx;
CREATE INDEX job_chunks_job_claim_idx
    ON @extschema@.job_chunks (job_id, priority DESC, created_at, chunk_index)
    WHERE status OPERATOR(pg_catalog.=) 'pending';

-- Claims across jobs serve the jobs at the top priority in turn, so the
-- index groups pending chunks by job within a priority.
DROP INDEX @extschema@.job_chunks_claim_idx;
CREATE INDEX job_chunks_claim_idx
    ON @extschema@.job_chunks (priority DESC, job_id, created_at, id)
    WHERE status OPERATOR(pg_catalog.=) 'pending';

--
-- Fewer index entries per status change.  Every change of status writes a
-- new row version into every index whose predicate it meets, so only the
-- primary key and the (job_id, chunk_index) key index every chunk; the other
-- indexes hold the chunks of one status each.  Statistics no longer count
-- rows (see job_counts below), so the index by status goes; failed chunks,
-- which are few, get an index of their own; task ids are looked up for the
-- chunks in flight.
--
DROP INDEX @extschema@.job_chunks_job_status_idx;
CREATE INDEX job_chunks_failed_idx
    ON @extschema@.job_chunks (job_id, chunk_index)
    WHERE status OPERATOR(pg_catalog.=) 'failed';
DROP INDEX @extschema@.job_chunks_task_id_idx;
CREATE INDEX job_chunks_task_id_idx
    ON @extschema@.job_chunks (task_id)
    WHERE status OPERATOR(pg_catalog.=) 'processing';

-- A queue table churns: vacuum it once 2 % of its rows are dead, not 20 %.
ALTER TABLE @extschema@.job_chunks SET (autovacuum_vacuum_scale_factor = 0.02);

--
-- Exact statistics in constant time.  Each job's numbers of chunks in all,
-- processing, completed and failed are sums over a few stripes, each written
-- by the backends whose slot in the process array falls on it, so that workers of one job
-- do not queue on one row.  Pending ones are the rest.  The stripes change
-- in the same statement as the chunks, so the sums always agree with the
-- rows.
--
CREATE TABLE @extschema@.job_counts (
    job_id      bigint NOT NULL
                REFERENCES @extschema@.crawl_jobs (id) ON DELETE CASCADE,
    stripe      integer NOT NULL,
    total       bigint NOT NULL DEFAULT 0,
    processing  bigint NOT NULL DEFAULT 0,
    completed   bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, stripe)
) WITH (fillfactor = 50);

COMMENT ON TABLE @extschema@.job_counts IS
    'per-job chunk counts in stripes, kept by the jc_* functions; sum them for a job';

INSERT INTO @extschema@.job_counts (job_id, stripe, total, processing, completed, failed)
SELECT c.job_id, 0, pg_catalog.count(*),
       pg_catalog.count(*) FILTER (WHERE c.status OPERATOR(pg_catalog.=) 'processing'),
       pg_catalog.count(*) FILTER (WHERE c.status OPERATOR(pg_catalog.=) 'completed'),
       pg_catalog.count(*) FILTER (WHERE c.status OPERATOR(pg_catalog.=) 'failed')
FROM @extschema@.job_chunks AS c
GROUP BY c.job_id;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_counts', '');

--
-- Claims take a lease; completion and failure can be fenced by the token.
--
DROP FUNCTION @extschema@.jc_next_pending(bigint, text);
CREATE FUNCTION @extschema@.jc_next_pending(job_id bigint DEFAULT NULL,
                                            task_id text DEFAULT NULL,
                                            lease interval DEFAULT NULL)
RETURNS SETOF @extschema@.job_chunks
AS 'MODULE_PATHNAME', 'jc_next_pending'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;

CREATE FUNCTION @extschema@.jc_claim(job_id bigint, n integer,
                                     task_id text DEFAULT NULL,
                                     lease interval DEFAULT NULL)
RETURNS SETOF @extschema@.job_chunks
AS 'MODULE_PATHNAME', 'jc_claim'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

DROP FUNCTION @extschema@.jc_mark_processing(bigint, text);
CREATE FUNCTION @extschema@.jc_mark_processing(chunk_id bigint,
                                               task_id text DEFAULT NULL,
                                               lease interval DEFAULT NULL)
RETURNS @extschema@.job_chunks
AS 'MODULE_PATHNAME', 'jc_mark_processing'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

DROP FUNCTION @extschema@.jc_mark_completed(bigint);
CREATE FUNCTION @extschema@.jc_mark_completed(chunk_id bigint,
                                              lease_token bigint DEFAULT NULL)
RETURNS @extschema@.job_chunks
AS 'MODULE_PATHNAME', 'jc_mark_completed'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.jc_mark_completed(chunk_ids bigint[],
                                              lease_tokens bigint[] DEFAULT NULL)
RETURNS SETOF @extschema@.job_chunks
AS 'MODULE_PATHNAME', 'jc_mark_completed_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

DROP FUNCTION @extschema@.jc_mark_failed(bigint, text);
CREATE FUNCTION @extschema@.jc_mark_failed(chunk_id bigint, error_message text,
                                           lease_token bigint DEFAULT NULL)
RETURNS @extschema@.job_chunks
AS 'MODULE_PATHNAME', 'jc_mark_failed'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.jc_heartbeat(chunk_id bigint, lease_token bigint,
                                         extend interval DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'jc_heartbeat'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.jc_next_pending(bigint, text, interval) IS
    'claim the next claimable chunk (of one job, or of any job when job_id is NULL) under a lease';
COMMENT ON FUNCTION @extschema@.jc_claim(bigint, integer, text, interval) IS
    'claim up to n claimable chunks under a lease';
COMMENT ON FUNCTION @extschema@.jc_mark_processing(bigint, text, interval) IS
    'pending -> processing, under a lease';
COMMENT ON FUNCTION @extschema@.jc_mark_completed(bigint, bigint) IS
    'processing -> completed; with a lease token, only while that claim is current';
COMMENT ON FUNCTION @extschema@.jc_mark_completed(bigint[], bigint[]) IS
    'processing -> completed for many chunks, all or none';
COMMENT ON FUNCTION @extschema@.jc_mark_failed(bigint, text, bigint) IS
    'processing -> failed, recording the error message; with a lease token, only while that claim is current';
COMMENT ON FUNCTION @extschema@.jc_heartbeat(bigint, bigint, interval) IS
    'extend the lease of a claim still current, returning the new expiry';

--
-- Job controls
--
CREATE FUNCTION @extschema@.jc_pause_job(job_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'jc_pause_job'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.jc_resume_job(job_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'jc_resume_job'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.jc_cancel_job(job_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'jc_cancel_job'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.jc_pause_job(bigint) IS
    'stop handing out the job''s chunks; chunks in flight finish normally';
COMMENT ON FUNCTION @extschema@.jc_resume_job(bigint) IS
    'hand out the chunks of a paused job again';
COMMENT ON FUNCTION @extschema@.jc_cancel_job(bigint) IS
    'fail the job''s pending chunks and stop handing out its chunks; returns how many failed';

--
-- Least privilege.  The functions run as the extension's owner (SECURITY
-- DEFINER), so that a role can be allowed to claim and complete chunks, say,
-- without being allowed to write the tables at all: EXECUTE on a function is
-- the whole grant.  No one may call them until granted (REVOKE ... FROM
-- PUBLIC).  Their search_path is fixed, although every name in their
-- statements is schema-qualified already.
--
ALTER FUNCTION @extschema@.jc_create_chunks(bigint, bigint, integer)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_mark_processing(bigint, text, interval)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_mark_completed(bigint, bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_mark_completed(bigint[], bigint[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_mark_failed(bigint, text, bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_retry(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_heartbeat(bigint, bigint, interval)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_next_pending(bigint, text, interval)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_claim(bigint, integer, text, interval)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_chunks(bigint, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_chunk(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_statistics(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_progress(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_is_complete(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_pause_job(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_resume_job(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jc_cancel_job(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

REVOKE EXECUTE ON FUNCTION
    @extschema@.jc_create_chunks(bigint, bigint, integer),
    @extschema@.jc_mark_processing(bigint, text, interval),
    @extschema@.jc_mark_completed(bigint, bigint),
    @extschema@.jc_mark_completed(bigint[], bigint[]),
    @extschema@.jc_mark_failed(bigint, text, bigint),
    @extschema@.jc_retry(bigint),
    @extschema@.jc_heartbeat(bigint, bigint, interval),
    @extschema@.jc_next_pending(bigint, text, interval),
    @extschema@.jc_claim(bigint, integer, text, interval),
    @extschema@.jc_chunks(bigint, text),
    @extschema@.jc_chunk(bigint),
    @extschema@.jc_statistics(bigint),
    @extschema@.jc_progress(bigint),
    @extschema@.jc_is_complete(bigint),
    @extschema@.jc_pause_job(bigint),
    @extschema@.jc_resume_job(bigint),
    @extschema@.jc_cancel_job(bigint)
FROM PUBLIC;
