/* jobchunk--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.3'" to load this file. \quit

--
-- Retention by age.  Each stripe of job_counts records when it last
-- changed, so that when a job finished (its counts' last change, once no
-- chunk is pending or processing) is known from a few rows, without reading
-- its chunks.  Stripes from before the update count as changed now: their
-- jobs are purged by age no sooner than they would be had they finished at
-- the update.
--
ALTER TABLE @extschema@.job_counts
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT pg_catalog.now();

--
-- Every job with chunks has all 64 stripe rows (JC_STRIPES in the library),
-- so that counting never inserts one: inserting checks the foreign key,
-- which locks the job, and could wait for a cancel that waits for the
-- chunk the same statement has locked.
--
INSERT INTO @extschema@.job_counts (job_id, stripe)
SELECT k.job_id, s.i
FROM (SELECT DISTINCT c.job_id FROM @extschema@.job_counts AS c) AS k,
     pg_catalog.generate_series(0, 63) AS s(i)
ON CONFLICT (job_id, stripe) DO NOTHING;

CREATE FUNCTION @extschema@.jc_purge_jobs(older_than interval)
RETURNS TABLE (job_id bigint, chunks bigint)
AS 'MODULE_PATHNAME', 'jc_purge_jobs'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_purge_jobs(interval) IS
    'purge every job finished more than older_than ago, as jc_purge_job would; returns the jobs and how many chunks each had';

REVOKE EXECUTE ON FUNCTION @extschema@.jc_purge_jobs(interval) FROM PUBLIC;
