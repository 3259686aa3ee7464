/* jobchunk--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.2'" to load this file. \quit

--
-- Retention.  A finished job's rows are deleted in one call, so that the
-- space they held is reused for new jobs' chunks once vacuum has run, and
-- the tables stop growing under a steady stream of jobs.
--
CREATE FUNCTION @extschema@.jc_purge_job(job_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'jc_purge_job'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_purge_job(bigint) IS
    'delete a job with no chunk pending or processing, its chunks and counts; returns how many chunks';

REVOKE EXECUTE ON FUNCTION @extschema@.jc_purge_job(bigint) FROM PUBLIC;
