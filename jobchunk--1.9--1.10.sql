/* jobchunk--1.9--1.10.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.10'" to load this file. \quit

--
-- Reading a job.  A role granted the functions, and no privilege on the
-- tables, could see a job's counts (jc_progress) but not whether it was
-- paused or cancelled, so a monitor could not tell a paused job from a
-- slow one; through jobchunk_proxy the rows of jobs could be read on the
-- shards only.  jc_job returns the job's row, as jc_chunk does a chunk's,
-- but only the columns jobchunk defines: columns an application added to
-- crawl_jobs stay behind the table's privileges.
--
CREATE FUNCTION @extschema@.jc_job(job_id bigint)
RETURNS TABLE (id bigint, name text, state text,
               created_at timestamptz, updated_at timestamptz)
AS 'MODULE_PATHNAME', 'jc_job'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_job(bigint) IS
    'one job by id (its name, state and times); no row when there is none';

REVOKE EXECUTE ON FUNCTION @extschema@.jc_job(bigint) FROM PUBLIC;

--
-- The shard number of a database, as jc_set_shard() set it (0 for one
-- never numbered), read from its two sequences, which must agree with each
-- other and with the ids in the tables: so that jobchunk_proxy's
-- jc_check_shards() can ask each partition for its number.  Anyone may
-- call it, the role of a proxy's user mapping among them: it tells no more
-- than any id of the database does (id >> 48).  EXECUTE is granted
-- explicitly, so that default privileges that revoke it do not apply.
--
CREATE FUNCTION @extschema@.jc_shard()
RETURNS integer
AS 'MODULE_PATHNAME', 'jc_shard'
LANGUAGE C STABLE PARALLEL RESTRICTED
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_shard() IS
    'the shard number of this database, as jc_set_shard set it; 0 when never set';

GRANT EXECUTE ON FUNCTION @extschema@.jc_shard() TO PUBLIC;
