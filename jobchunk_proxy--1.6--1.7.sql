/* jobchunk_proxy--1.6--1.7.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.7'" to load this file. \quit

--
-- jobchunk 1.11's jc_jobs, run on every shard: the proxy has no crawl_jobs,
-- so its jobs could be listed only shard by shard, on the shards.  PL/Proxy
-- returns the shards' rows one shard after another.  A shard of jobchunk
-- 1.10 or older answers that the function does not exist (42883).
--
CREATE FUNCTION @extschema@.jc_jobs()
RETURNS TABLE (id bigint, name text, state text,
               created_at timestamptz, updated_at timestamptz) AS $$
    CLUSTER 'jobchunk';
    RUN ON ALL;
$$ LANGUAGE plproxy;

REVOKE EXECUTE ON FUNCTION @extschema@.jc_jobs() FROM PUBLIC;
