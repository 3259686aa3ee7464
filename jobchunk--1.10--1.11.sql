/* jobchunk--1.10--1.11.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.11'" to load this file. \quit

--
-- Listing the jobs.  jc_job reads a job whose id the caller knows; a
-- dashboard that lists the jobs needed SELECT on crawl_jobs, and through
-- jobchunk_proxy, which has no crawl_jobs, could not list them at all.
-- jc_jobs returns every job, in id order, with jc_job's columns: columns
-- an application added to crawl_jobs stay behind the table's privileges.
--
CREATE FUNCTION @extschema@.jc_jobs()
RETURNS TABLE (id bigint, name text, state text,
               created_at timestamptz, updated_at timestamptz)
AS 'MODULE_PATHNAME', 'jc_jobs'
LANGUAGE C STABLE PARALLEL RESTRICTED
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_jobs() IS
    'every job, in id order (its name, state and times)';

REVOKE EXECUTE ON FUNCTION @extschema@.jc_jobs() FROM PUBLIC;
