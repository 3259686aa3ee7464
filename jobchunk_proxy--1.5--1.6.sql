/* jobchunk_proxy--1.5--1.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.6'" to load this file. \quit

--
-- jobchunk 1.10's jc_job goes to the job's shard: through the proxy, the
-- rows of jobs could be read on the shards only.  A shard of jobchunk 1.9
-- or older answers that the function does not exist (42883).
--
CREATE FUNCTION @extschema@.jc_job(job_id bigint)
RETURNS TABLE (id bigint, name text, state text,
               created_at timestamptz, updated_at timestamptz) AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

REVOKE EXECUTE ON FUNCTION @extschema@.jc_job(bigint) FROM PUBLIC;
