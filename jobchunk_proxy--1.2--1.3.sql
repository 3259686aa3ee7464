/* jobchunk_proxy--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.3'" to load this file. \quit

--
-- jobchunk 1.9's release goes to one shard, like the other calls that take
-- a batch of chunks: its rows come in id order from one call, and a bad
-- array is refused as on one server.
--
CREATE FUNCTION @extschema@.jc_release(chunk_ids bigint[], lease_tokens bigint[])
RETURNS SETOF @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_ids);
$$ LANGUAGE plproxy;

REVOKE EXECUTE ON FUNCTION @extschema@.jc_release(bigint[], bigint[]) FROM PUBLIC;

-- The refusal of a batch across shards names no kind of call, so that it
-- holds for every call that takes a batch.
CREATE OR REPLACE FUNCTION @extschema@.jc_shard_of(ids bigint[])
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards integer[] := ARRAY(SELECT DISTINCT @extschema@.jc_shard_of(i)
                              FROM pg_catalog.unnest(ids) AS i
                              WHERE i IS NOT NULL);
BEGIN
    IF pg_catalog.cardinality(shards) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'chunks of one call must be on one shard'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = pg_catalog.format('The chunks are on shards %s.', shards),
                  HINT = 'Make one call for the chunks of each job, or of each shard (id >> 48).';
    END IF;
    RETURN COALESCE(shards[1], 0);
END
$$;
